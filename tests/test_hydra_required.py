"""A sweep's ``_target_`` node whose target lacks a required argument that no job gives is
said before the first job, with the node's path and the override that sets it (not
refused: the task may pass it)."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra.utils import instantiate  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from tests.helpers_data import BlobData  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

_ROOT = "tests.test_hydra_required.RootData"


class RootData(BlobData):
    """``BlobData`` that needs a ``root`` folder."""

    def __init__(self, root: str, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        self.root = root


def _said(jobs: list[dict]) -> list[str]:
    from lightning_nas.integrations.hydra_required import warn_required

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_required([OmegaConf.create(job) for job in jobs])
    return [str(w.message) for w in caught]


def test_a_sweep_says_the_node_path_of_an_argument_no_job_gives(tmp_path):
    # was: no word before the first job; each job failed building cfg.data, in the task
    built = []

    def task(cfg: DictConfig) -> float:
        built.append(instantiate(cfg.data))
        return float(cfg.x)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Exception):  # noqa: B017, PT011 - max_failures: Hydra wraps it
            multirun(tmp_path, task, {"budget": 3, "max_failures": 1,
                                      "params": {"x": "choice(1, 2, 3)"}},
                     data={"_target_": _ROOT, "batch_size": 8})
    said = [str(w.message) for w in caught if "lacks required argument" in str(w.message)]
    assert said == [
        f"config key 'data': its _target_ {_ROOT} lacks required argument 'root' in every "
        f"job the sweep composed: neither the config, a searched key nor a command-line "
        f"override gives it, so each job that builds data fails (Hydra's "
        f"InstantiationException); set data.root in the config or on the command line "
        f"(+data.root=...), or search it in hydra.sweeper.params (not refused: the task "
        f"function may pass it, instantiate(cfg.data, root=...))"], said
    assert not built


def test_only_an_argument_every_job_leaves_out_is_said():
    node = {"_target_": _ROOT, "batch_size": 8}
    # one job's option gives it: no word (that job builds)
    assert _said([{"data": node}, {"data": {**node, "root": "/d"}}]) == []
    # a ??? value, a _partial_ node (called later), a node under _recursive_: false: none
    assert _said([{"data": {**node, "root": "???"}}]) == []
    assert _said([{"data": {**node, "_partial_": True}}]) == []
    assert _said([{"wrap": {"_target_": "builtins.dict", "_recursive_": False,
                            "inner": node}}]) == []
    # nested and in a list: their paths
    assert [s.split(":")[0] for s in _said([{"model": {"_target_": "builtins.dict",
                                                       "data": node,
                                                       "more": [node]}}])] == [
        "config key 'model.data'", "config key 'model.more[0]'"]


def _fit_model(cfg: DictConfig) -> float:
    """A task function that trains ``cfg.model`` as a Lightning project's does."""
    import lightning.pytorch as pl

    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                         accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(instantiate(cfg.model), BlobData(n=32, batch_size=8))
    return float(trainer.callback_metrics["val_acc"])


def _validate_model(cfg: DictConfig) -> float:
    """A task function that only validates ``cfg.model`` (a sweep of a pretrained model's
    settings): Lightning's ``validate`` needs no ``configure_optimizers``."""
    import lightning.pytorch as pl

    trainer = pl.Trainer(limit_val_batches=1, accelerator="cpu", logger=False,
                         enable_progress_bar=False, enable_model_summary=False)
    metrics = trainer.validate(instantiate(cfg.model), BlobData(n=32, batch_size=8),
                               verbose=False)
    return float(metrics[0]["val_acc"])


def test_a_sweeps_model_without_configure_optimizers_is_warned_of_before_any_job(tmp_path):
    # was: refused before the first job ("every trial's fit would fail"), though the task
    # function is the project's: one that only validates the model ran no job at all, while
    # Hydra's own sweeper ran them; before that refusal, jobs 1 and 2 of a task that fits
    # failed with Lightning's "No `configure_optimizers()` method defined" with no word
    target = {"_target_": "tests.helpers_no_optim.HydraNoOptim"}
    said = (r"config key 'model': its _target_ tests.helpers_no_optim.HydraNoOptim has no "
            r"configure_optimizers of its own \(LightningModule's default\), so a job whose "
            r"task function fits it fails \(Lightning: \"No `configure_optimizers\(\)` method "
            r"defined\"\): define HydraNoOptim.configure_optimizers \(not refused: the task "
            r"function may only validate, test or predict with it, or give it an optimizer "
            r"itself\)")
    with pytest.warns(UserWarning, match=said):
        trials = multirun(tmp_path / "validated", _validate_model,
                          {"budget": 2, "params": {"x": "choice(1, 2)"}}, model=target)
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"], trials
    # a task that fits it: its first two jobs fail as Lightning refuses the fit
    with pytest.warns(UserWarning, match=said), \
            pytest.raises(Exception, match=r"No `configure_optimizers\(\)` method"):  # noqa: PT011
        multirun(tmp_path / "fitted", _fit_model, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                 model=target)
    with warnings.catch_warnings(record=True) as caught:  # a mixin's: no word
        warnings.simplefilter("always")
        trials = multirun(tmp_path / "mixed", _fit_model,
                          {"budget": 1, "params": {"x": "choice(1, 2)"}},
                          model={"_target_": "tests.helpers_no_optim.HydraMixed"})
    assert [t.status for t in trials] == ["COMPLETED"], trials
    assert not [w for w in caught if "configure_optimizers" in str(w.message)]
