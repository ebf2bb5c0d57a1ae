"""``search/no_validation.py``: a model or data whose fits never validate, judged as
built (a hook set in ``__init__`` counts, as Lightning counts it)."""

from __future__ import annotations

import re

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.no_validation import check_validates
from tests.helpers_data import BlobData, InitValLoaderData, NoValLoaderData, SetupValLoaderData
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


class _SetupValStepNet(NoValStepNet):
    """``NoValStepNet`` given ``TinyNet``'s ``validation_step`` in ``setup()``."""

    def setup(self, stage: str) -> None:
        self.validation_step = TinyNet.validation_step.__get__(self)


@pytest.mark.parametrize(("model", "data", "needle"), [
    (TinyNet(), SetupValLoaderData(), "the data, SetupValLoaderData, has no val_dataloader()"),
    (_SetupValStepNet(), BlobData(), "_SetupValStepNet has no validation_step"),
])
def test_a_hook_set_in_setup_is_warned_of_not_refused(model, data, needle):
    # Lightning calls setup() before it asks for the loaders; the check runs on the data as
    # built, before setup() (was: refused, "the data, SetupValLoaderData, has no
    # val_dataloader()", a working project)
    with pytest.warns(UserWarning, match=re.escape(needle) + r".*unless its setup\(\) sets "
                      r"it on the instance as the fit runs"):
        check_validates(model, data, "val_acc")


def test_a_datamodule_that_sets_val_dataloader_in_setup_validates_in_a_search(tmp_path):
    from lightning_nas import Search

    with pytest.warns(UserWarning, match="unless its setup"):  # at construction
        search = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=SetupValLoaderData(n=64),
                        monitor="val_acc", mode="max", budget=1, run_dir=tmp_path,
                        verbose=False, trainer={"max_epochs": 1, "accelerator": "cpu",
                                                "logger": False, "enable_checkpointing": False})
    result = search.run()
    assert result.best is not None and result.best.score is not None  # validated: scored
