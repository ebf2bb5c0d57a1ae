"""What a new user of one-shot search meets: ``finetune_subnet``'s length and learning rate
are checked before any Trainer is built, DARTS's per-epoch history holds no GDAS
temperature (which DARTS never uses), a bad mode's error lists the valid ones, an error
from Python says None (not YAML's null), and a width of None says where None is taken."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
from torch import nn
from torchmetrics.regression import MeanSquaredError

from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import ChoiceConv2d, ChoiceLinear
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from lightning_nas.oneshot.setting_checks import check_oneshot_settings
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet

_LENGTH = "max_epochs must be an integer >= 1 (or -1 with trainer max_steps or max_time), "


@pytest.mark.parametrize(("kwargs", "said"), [
    ({"max_epochs": 0}, _LENGTH + "got 0"),
    ({"max_epochs": 1.5}, _LENGTH + "got 1.5"),
    ({"max_epochs": -1}, _LENGTH + "got -1"),
    ({"max_epochs": 1, "lr": 0}, "lr must be a number > 0, got 0"),
])
def test_finetune_subnet_refuses_a_length_or_lr_that_trains_nothing(kwargs, said):
    # was: taken; max_epochs=0 returned the network untouched with metrics {}, lr=0 returned
    # it untouched with the metrics of a "fine-tune" that moved no weight
    net = nn.Sequential(nn.Linear(8, 3))
    with pytest.raises(ConfigError, match=r"^finetune_subnet: " + said.replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.")):
        finetune_subnet(net, BlobData(), num_classes=3, **kwargs)


def test_darts_history_holds_no_temperature(tmp_path):
    # was: DARTS recorded the GDAS temperature schedule (10.0, 1.0, 0.1) in history and
    # alphas.json, a value its softmax never used
    pl.seed_everything(0, verbose=False)
    nas = {algorithm: DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3,
                                        export_dir=None) for algorithm in ("darts", "gdas")}
    for algorithm, module in nas.items():
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   enable_model_summary=False, enable_checkpointing=False,
                   default_root_dir=tmp_path / algorithm, limit_val_batches=0).fit(
            module, datamodule=BilevelData(BlobData()))
    assert all("tau" not in epoch for epoch in nas["darts"].history), nas["darts"].history
    assert [round(e["tau"], 4) for e in nas["gdas"].history] == [10.0, 1.0, 0.1]


@pytest.mark.parametrize(("mode", "hint"), [
    ("min", "lowest accuracy"), ("minimize", "lowest accuracy"), ("MAX", "did you mean 'max'?"),
    ("maximize", "did you mean 'max'?"), ("mx", "did you mean 'max'?"), (1, "higher is better"),
])
def test_every_bad_oneshot_mode_lists_the_valid_ones(mode, hint):
    # was: "oneshot.mode='min' would pick the subnet of the lowest accuracy: ..." listing no
    # valid value, "can be max or null" with no did-you-mean, "must be a string or null" for 1
    with pytest.raises(ConfigError) as err:
        check_oneshot_settings({"mode": mode})
    said = str(err.value)
    assert said.startswith(f"oneshot.mode can be max or null; got {mode!r}"), said
    assert hint in said, said


@pytest.mark.parametrize(("kwargs", "listing", "hint"), [
    ({"mode": "min"}, "mode can be 'max' or None", "lowest accuracy"),
    ({"mode": "MAX"}, "mode can be 'max' or None", "did you mean 'max'?"),
    ({"mode": "minimum", "metric": MeanSquaredError}, "mode can be 'min' or None",
     "did you mean 'min'?"),
])
def test_every_bad_python_mode_lists_the_valid_ones(kwargs, listing, hint):
    # was: mode='min' without a metric listed no valid value; 'MAX' had no did-you-mean
    for who in (OneShotNAS, lambda **kw: DifferentiableNAS(TinySupernet(), **kw)):
        with pytest.raises(ConfigError) as err:
            who(**kwargs)
        assert listing in str(err.value) and hint in str(err.value), str(err.value)


@pytest.mark.parametrize(("build", "said"), [
    (lambda: OneShotNAS(search_every_n_epochs=0),
     "search_every_n_epochs must be an integer >= 1 or None (null in YAML), got 0"),
    (lambda: OneShotNAS(num_classes=1),
     "num_classes must be an integer >= 2 or None (null in YAML), got 1"),
    (lambda: DifferentiableNAS(TinySupernet(), num_classes="3"),
     "num_classes must be an integer >= 2 or None (null in YAML), got '3'"),
    (lambda: DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_epochs=0),
     "tau_epochs must be an integer >= 1 or None (null in YAML), got 0"),
    (lambda: DifferentiableNAS(TinySupernet(), gradient_clip_val=-1),
     "gradient_clip_val=-1: must be a number >= 0 or None (null in YAML); 0 and None: no "
     "clipping"),
])
def test_python_one_shot_errors_say_none_not_yaml_null(build, said):
    # was: "... or null, got 0", YAML's word, to a caller from Python
    with pytest.raises(ConfigError) as err:
        build()
    assert str(err.value).startswith(said), str(err.value)


def test_config_one_shot_errors_still_say_null():
    # the oneshot: block's keys are YAML's: null there (Python's None would mislead)
    with pytest.raises(ConfigError) as err:
        check_oneshot_settings({"search_every_n_epochs": 0})
    assert str(err.value) == "oneshot.search_every_n_epochs must be an integer >= 1 or null, got 0"


_KEEP = "None (keep the input width) is taken by ChoiceConv2d's out_channels only"


@pytest.mark.parametrize(("build", "said"), [
    (lambda: ChoiceLinear(16, None, label="hid"),
     f"choice 'hid' takes integers >= 1, got [None]; {_KEEP}"),
    (lambda: ChoiceLinear(16, [8, None], label="hid"),
     f"choice 'hid' takes integers >= 1, got [8, None]; {_KEEP}"),
    (lambda: ChoiceConv2d(16, [None, 8], 3, label="c"),
     "choice 'c' takes integers >= 1, got [None, 8]; None (keep the input width) is taken "
     "alone, out_channels=None, not in a list of widths"),
])
def test_a_width_of_none_says_where_none_is_taken(build, said):
    # was: "choice 'hid' takes integers >= 1, got [None]", not saying that the README's
    # ChoiceConv2d(width, None, 3) pattern is ChoiceConv2d's alone
    with pytest.raises(SpaceError) as err:
        build()
    assert str(err.value) == said
    assert ChoiceConv2d(16, None, 3, label="c").widths is None  # the pattern it names
