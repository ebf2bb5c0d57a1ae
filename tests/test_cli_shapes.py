"""Configs as LightningCLI writes them (``fit --print_config``, a run's ``config.yaml``),
searched as they are: every value it writes is read with its meaning.

LightningCLI writes a ``datetime.timedelta`` argument as ``str(timedelta)`` (``0:30:00``, the
``timeout`` of every DDP strategy node it prints) and reads that text back as the timedelta
(jsonargparse's ``h:m:s`` / ``d days, h:m:s``); so does a search.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lightning_nas.cli import main
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore

#: the search block added to each printed config below
SEARCH = """\
search:
  space:
    width: {{choice: [4, 8]}}
  optimizer: RandomSearch
  budget: 1
  run_dir: {run_dir}
  verbose: false
"""

#: a config as ``fit --print_config`` writes it: the strategy node with every argument
#: (the ones that matter here), a timedelta as LightningCLI's text of it
PRINTED = """\
# lightning.pytorch==2.6.6
seed_everything: 3
trainer:
  accelerator: cpu
  strategy:
    class_path: lightning.pytorch.strategies.DDPStrategy
    init_args:
      accelerator: null
      process_group_backend: gloo
      timeout: {timeout}
      start_method: popen
      find_unused_parameters: false
  devices: 1
  logger: null
  callbacks: null
  max_epochs: 1
  limit_train_batches: 2
  enable_progress_bar: null
model:
  class_path: tests.helpers.TinyNet
  init_args:
    width: 16
    lr: 0.1
data:
  class_path: tests.helpers.BlobData
  init_args:
    n: 32
optimizer: null
lr_scheduler: null
ckpt_path: null
weights_only: null
""" + SEARCH


def _write(tmp_path: Path, timeout: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(PRINTED.format(timeout=timeout, run_dir=tmp_path / "run"))
    return path


@pytest.mark.parametrize(("text", "value"), [
    ("0:30:00", timedelta(minutes=30)),  # DDPStrategy's default, as LightningCLI prints it
    ("1 day, 2:03:04.5", timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
    ("'0:00:45'", timedelta(seconds=45)),
])
def test_a_timedelta_as_lightningcli_writes_it_is_read_as_the_timedelta(tmp_path, text, value):
    # was: "trainer.strategy.timeout='0:30:00': expected timedelta or null" for the
    # strategy node of any config LightningCLI printed with a DDP strategy
    cfg = load_config(_write(tmp_path, text))
    search_from_config(cfg)  # every check before training
    strategy = instantiate(cfg["trainer"]["strategy"], "trainer.strategy")
    assert strategy._timeout == value


def test_a_search_trains_with_a_printed_ddp_strategy_node(tmp_path):
    # the trial's Trainer gets DDPStrategy(timeout=timedelta): torch's init_process_group
    # takes nothing else
    assert main(["search", str(_write(tmp_path, "0:30:00"))]) == 0
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED]


@pytest.mark.parametrize("text", ["half an hour", "30", "0:30"])
def test_a_timedelta_that_is_no_such_text_is_refused_naming_the_form(tmp_path, text):
    with pytest.raises(ConfigError, match=r"trainer\.strategy\.timeout=.*expected timedelta "
                                          r"or null .*'h:m:s' or 'd days, h:m:s'"):
        search_from_config(load_config(_write(tmp_path, text)))


#: the top-level lr_scheduler ``fit --print_config`` writes for ``--lr_scheduler
#: ReduceLROnPlateau --lr_scheduler.monitor val_loss``: Lightning's class takes ``monitor``
#: and passes the rest on to torch's through ``**kwargs``, where jsonargparse finds them
PLATEAU = """\
seed_everything: 3
trainer:
  accelerator: cpu
  max_epochs: 2
  limit_train_batches: 2
model:
  class_path: tests.helpers.TinyNet
data:
  class_path: tests.helpers.BlobData
  init_args:
    n: 32
optimizer:
  class_path: torch.optim.SGD
  init_args:
    lr: 0.1
lr_scheduler:
  class_path: lightning.pytorch.cli.ReduceLROnPlateau
  init_args:
    monitor: val_loss
    mode: min
    factor: {factor}
    patience: 10
    threshold: 0.0001
    threshold_mode: rel
    cooldown: 0
    min_lr: 0.0
    eps: 1.0e-08
""" + SEARCH


def test_a_printed_reduce_lr_on_plateau_is_taken_with_the_arguments_it_passes_on(tmp_path):
    # was: "lr_scheduler.init_args.mode: not an argument of ReduceLROnPlateau; valid:
    # monitor" for the scheduler as LightningCLI prints it
    from lightning.pytorch.cli import ReduceLROnPlateau

    from lightning_nas.config.cli_optim import apply_optim, optim_sections
    from tests.helpers_models import TinyNet

    path = tmp_path / "config.yaml"
    path.write_text(PLATEAU.format(factor=0.5, run_dir=tmp_path / "run"))
    cfg = load_config(path)
    search_from_config(cfg)  # every check before training
    configured = apply_optim(TinyNet(), optim_sections(cfg)).configure_optimizers()
    scheduler = configured["lr_scheduler"]["scheduler"]
    assert isinstance(scheduler, ReduceLROnPlateau)
    assert (scheduler.monitor, scheduler.factor, scheduler.patience) == ("val_loss", 0.5, 10)
    assert main(["search", str(path)]) == 0
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED]


def test_a_misspelt_argument_of_a_printed_scheduler_is_still_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(PLATEAU.format(factor=0.5, run_dir=tmp_path / "run")
                    .replace("patience:", "patiense:"))
    with pytest.raises(ConfigError, match=r"lr_scheduler\.init_args\.patiense: not an argument "
                                          r"of ReduceLROnPlateau; did you mean patience\?.*"
                                          r"valid: monitor, mode, factor, patience"):
        search_from_config(load_config(path))
