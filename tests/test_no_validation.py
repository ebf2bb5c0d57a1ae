"""``search/no_validation.py``: a model or data whose fits never validate, judged as
built (a hook set in ``__init__`` counts, as Lightning counts it)."""

from __future__ import annotations

import re

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.no_validation import check_validates
from tests.helpers_data import BlobData, InitValLoaderData, NoValLoaderData
from tests.helpers_models import InitValStepNet, NoValStepNet, TinyNet


@pytest.mark.parametrize(("model", "data"), [
    (TinyNet(), InitValLoaderData()), (InitValStepNet(), BlobData()), (TinyNet(), BlobData()),
])
def test_a_hook_an_instance_sets_in_init_counts(model, data):
    check_validates(model, data, "val_acc")  # was: InitValLoaderData refused by its class


@pytest.mark.parametrize(("model", "data", "needle"), [
    (NoValStepNet(), BlobData(), "NoValStepNet has no validation_step"),
    (TinyNet(), NoValLoaderData(), "the data, NoValLoaderData, has no val_dataloader()"),
])
def test_an_instance_without_the_hook_is_refused(model, data, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        check_validates(model, data, "val_acc")


@pytest.mark.parametrize(("model", "data", "needle"), [
    (NoValStepNet, BlobData, "NoValStepNet has no validation_step"),
    (TinyNet(), NoValLoaderData, "the data, NoValLoaderData, has no val_dataloader()"),
])
def test_a_class_alone_lacking_the_hook_is_warned_not_refused(model, data, needle):
    # its instance may set it in __init__ (was: refused, a working project too)
    with pytest.warns(UserWarning, match=re.escape(needle) + r".*unless its __init__ sets it "
                      r"on the instance: only its class was judged"):
        check_validates(model, data, "val_acc")
