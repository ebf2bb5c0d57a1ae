"""A search's failed trials, with real Trainers: what is recorded, max_failures, a monitor
or objective some architectures miss, build errors, and what a failure's message says."""

from __future__ import annotations

import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.errors import SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_search import tiny_search


def test_failed_and_nan_trials_are_recorded_and_search_goes_on(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.02, 0.3]}}
    result = tiny_search(tmp_path, space, tiny_trainer, budget=4, optimizer="RandomSearch",
                         seed=1, max_failures=20,
                         model_init_args={"fail_width": 4, "nan_width": 8}).run()
    by_status = {s: [t for t in result.trials if t.status is s] for s in TrialStatus}
    assert len(by_status[TrialStatus.COMPLETED]) == 4
    assert all(t.arch["width"] == 16 for t in by_status[TrialStatus.COMPLETED])
    errors = {t.arch["width"]: t.error for t in by_status[TrialStatus.FAILED]}
    assert "broken on purpose" in errors[4] and "RuntimeError" in errors[4]
    assert "nan" in errors[8]
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == len(by_status[TrialStatus.FAILED]) >= 2


class FailsInSecondEpoch(TinyNet):
    def training_step(self, batch, batch_idx):
        if self.hparams.width == 4 and self.current_epoch == 1:
            raise RuntimeError("width 4 breaks in its second epoch")
        return super().training_step(batch, batch_idx)


def test_a_failed_trial_keeps_no_checkpoint(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.02, 0.3]}}
    result = tiny_search(tmp_path, space, {**tiny_trainer, "max_epochs": 2}, budget=2, seed=1,
                         optimizer="RandomSearch", model=FailsInSecondEpoch, keep_top_k=5).run()
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all("second epoch" in t.error for t in failed)
    for t in result.trials:  # its first epoch's best.ckpt was no result, and not kept
        ckpts = sorted(p.name for p in (tmp_path / "trials" / f"trial_{t.trial_id:04d}")
                       .glob("*.ckpt"))
        assert ckpts == ([] if t.status is TrialStatus.FAILED else ["best.ckpt"]), t


class DivergesAtItsRate(TinyNet):
    """Fails in training with its own learning rate in the message."""

    def training_step(self, batch, batch_idx):
        raise RuntimeError(f"lr {self.hparams.lr:.6f} diverged")


def test_too_many_failures_stop_the_search(tmp_path, tiny_trainer):
    space = {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}}
    with pytest.raises(SearchError, match=r"3 trials failed .*max_failures=2.*lr 0\.\d+ diverged"):
        tiny_search(tmp_path, space, tiny_trainer, budget=5, max_failures=2,
                    model=DivergesAtItsRate).run()


class LogsSomeWhenWide(TinyNet):
    """Logs objective ``val_some`` only when wider than ``above``."""

    above = 8

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        if self.hparams.width > self.above:
            self.log("val_some", self.hparams.width / 100)


def test_an_objective_only_some_architectures_log_fails_them_once_a_trial_completed(
        tmp_path, monkeypatch):
    # was: trial 2 (width 4) stopped the search "with an error every trial would hit"
    # although trial 1 had completed with the objective, and max_failures was never consulted
    space = {"width": {"choice": [16, 4]}, "lr": {"float": [0.02, 0.3]}}
    trainer = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1}
    setup = dict(objectives={"val_acc": "max", "val_some": "max"}, seed=1,
                 optimizer="RandomSearch")
    result = tiny_search(tmp_path, space, trainer, budget=2, max_failures=5,
                         model=LogsSomeWhenWide, **setup).run()
    first, *_ = result.trials
    assert first.status is TrialStatus.COMPLETED and first.arch["width"] == 16
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all(t.arch["width"] == 4 for t in failed)
    assert all(t.error.startswith("MonitorError: objective 'val_some' was not logged in "
                                  "epoch 0") for t in failed)
    assert sum(t.status is TrialStatus.COMPLETED for t in result.trials) == 2
    # a resume counts the completed trials in its store: its trials that miss the objective
    # are failures too, up to max_failures (was: the first of them stopped it)
    count = len(failed)
    monkeypatch.setattr(LogsSomeWhenWide, "above", 64)  # the module changed: none logs it
    with pytest.raises(SearchError, match=rf"{count + 2} trials failed \(max_failures="
                                          rf"{count + 1}\); last error: MonitorError: "
                                          rf"objective 'val_some' was not logged"):
        tiny_search(tmp_path, space, trainer, budget=4, max_failures=count + 1,
                    model=LogsSomeWhenWide, **setup).run()

    # so for an objective= search's function that returns it for some architectures only
    def some(arch: dict) -> dict:
        return {"val_acc": 0.5, **({"val_some": 1.0} if arch["x"] == 1 else {})}

    result = Search(None, {"x": {"choice": [1, 2]}}, objective=some, budget=2, max_failures=5,
                    run_dir=tmp_path / "objective", verbose=False, **setup).run()
    first, *_ = result.trials
    assert first.status is TrialStatus.COMPLETED and first.arch["x"] == 1
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all(t.error.startswith("MonitorError: objective 'val_some' was not "
                                             "returned") for t in failed)


def test_a_search_stopped_by_max_failures_exports_the_best_so_far(tmp_path, tiny_trainer):
    # was: no best.yaml, best.ckpt or best_config.yaml although trials had completed
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.3]}}
    with pytest.raises(SearchError, match=r"2 trials failed \(max_failures=1\)"):
        tiny_search(tmp_path, space, tiny_trainer, budget=8, max_failures=1, seed=0,
                    optimizer="RandomSearch", model_init_args={"fail_width": 8}).run()
    with RunStore(tmp_path / "search.db") as store:
        best = store.best("max")
    assert best is not None  # the seed completes a trial before the second failure
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id
    assert (tmp_path / "best.ckpt").exists()


def test_unlogged_monitor_fails_after_first_trial(tmp_path, tiny_space, tiny_trainer):
    search = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=5, monitor="val_accuracy")
    with pytest.raises(SearchError, match=r"'val_accuracy' was not logged by the validation "
                                          r"of epoch 0.*val_acc.*val_loss"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.FAILED]


class WideLogsAcc(TinyNet):
    """Logs ``val_acc`` only when its width is above 8."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        if self.hparams.width > 8:
            self.log("val_acc", (logits.argmax(-1) == y).float().mean())
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))


def test_a_monitor_an_architecture_never_logs_fails_it_alone_once_a_trial_completed(
        tmp_path, tiny_trainer):
    # was: the first width-4 trial stopped the search ("an error every trial would hit"),
    # though trials of width 16 had completed, scored on the same monitor
    space = {"width": {"choice": [4, 16]}, "lr": {"float": [0.05, 0.3]}}
    search = tiny_search(tmp_path, space, tiny_trainer, model=WideLogsAcc, budget=5, seed=2,
                         optimizer="RandomSearch", max_failures=1)
    with pytest.raises(SearchError, match=r"2 trials failed \(max_failures=1\); last error: "
                                          r"MonitorError: monitor 'val_acc' was not logged"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        assert [(t.arch["width"], t.status) for t in store.trials()] == [
            (16, TrialStatus.COMPLETED), (16, TrialStatus.COMPLETED),
            (4, TrialStatus.FAILED), (4, TrialStatus.FAILED)]


def test_a_monitor_an_objective_does_not_return_fails_the_call_alone_once_one_completed(
        tmp_path):
    # as a trained trial's (was: the first such call stopped the search); before any
    # completed, it stops the search at once (a misspelt monitor)
    def objective(arch: dict) -> dict:
        return {"val_acc": arch["x"] / 10} if arch["x"] > 1 else {"acc": 0.0}

    kw = {"budget": 3, "seed": 2, "optimizer": "RandomSearch", "verbose": False}
    result = Search(None, {"x": {"choice": [1, 2, 3]}}, objective=objective,
                    run_dir=tmp_path / "later", **kw).run()
    assert [(t.arch["x"], t.status) for t in result.trials] == [
        (2, TrialStatus.COMPLETED), (1, TrialStatus.FAILED), (3, TrialStatus.COMPLETED)]
    with pytest.raises(SearchError, match=r"monitor 'val_acc' was never logged"):
        Search(None, {"x": {"choice": [1, 2, 3]}}, objective=lambda arch: {"acc": 0.0},
               run_dir=tmp_path / "first", **kw).run()


def test_an_architecture_the_model_rejects_is_a_failed_trial(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8, 16]}}
    result = tiny_search(tmp_path, space, tiny_trainer, budget=1, optimizer="RandomSearch", seed=2,
                         model=_picky_model, max_failures=5).run()
    assert result.best is not None and result.best.arch == {"width": 16}
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert all(f"width {t.arch['width']} is not supported" in t.error for t in failed)


def _picky_model(arch: dict) -> TinyNet:
    if arch["width"] != 16:  # a different message per architecture: not fatal
        raise ValueError(f"width {arch['width']} is not supported")
    return TinyNet(width=arch["width"])


def test_the_same_build_error_after_a_completed_trial_does_not_stop_the_search(
        tmp_path, tiny_space, tiny_trainer):
    done, failed = [], []

    def build(arch):  # an error that depends on the architecture, the same words each time
        if done and len(failed) < 2:
            failed.append(arch)
            raise ValueError("hidden must be divisible by heads")
        return TinyNet(width=arch["width"])

    result = tiny_search(tmp_path, tiny_space, tiny_trainer, model=build, budget=3,
                         on_trial_end=done.append).run()
    # was: trials 2 and 3 stopped the search, "every trial would", though trial 1 completed
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] + [
        TrialStatus.FAILED] * 2 + [TrialStatus.COMPLETED] * 2


def test_fit_trial_marks_build_failures(tmp_path, tiny_trainer):
    from lightning_nas.search.trial import TrialSpec, fit_trial

    def spec(name: str, **kw) -> TrialSpec:
        kw.setdefault("trainer", dict(tiny_trainer))
        return TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(tmp_path / name),
                         model=TinyNet, data=BlobData, **kw)

    built_badly = fit_trial(spec("a", trainer={"max_epochs": -5}))
    broke_in_fit = fit_trial(spec("b", model_init_args={"fail_width": 4}))
    assert built_badly.build_failed and "max_epochs" in built_badly.error
    assert not broke_in_fit.build_failed and "broken on purpose" in broke_in_fit.error


def test_the_show_command_a_failure_stop_names_is_shell_quoted(tmp_path):
    # was: "see `lightning-nas show runs/my run`", which a shell splits at the space
    import shlex

    from lightning_nas.results import TrialResult
    from lightning_nas.search.failures import FailureWatch

    run = tmp_path / "my run"
    with RunStore(run / "search.db") as store:
        for k in (1, 2):
            tid = store.start_trial({"k": k})
            store.finish_trial(TrialResult(trial_id=tid, arch={"k": k},
                                           status=TrialStatus.FAILED, error="boom"))
        with pytest.raises(SearchError) as err:
            FailureWatch(store, 1, run).check_count()
    assert f"see `lightning-nas show {shlex.quote(str(run))}`." in str(err.value)


@pytest.mark.parametrize("hydra", [False, True])
def test_a_trial_the_search_process_died_in_twice_says_how_to_isolate_it(tmp_path, hydra):
    # was: "use executor 'process'" in a Hydra sweep too, which has no executor setting, and
    # no word that a kill from outside (OOM killer, a cluster's scheduler) counts
    from lightning_nas.search.failures import FailureWatch

    with RunStore(tmp_path / "search.db") as store:
        if hydra:
            store.set_meta("hydra", {"overrides": []})
        tid = store.start_trial({"k": 1})
        store.restart_trial(tid)  # its second run, when the process died again
        assert FailureWatch(store, 5, tmp_path).interrupted(False, lambda r: None) == []
        failed = store.get(tid)  # not re-run: FAILED
    assert failed.status is TrialStatus.FAILED
    assert failed.error.startswith("the search process died 2 times while running this trial "
                                   "(it may be what kills it: out of memory, a crash in native "
                                   "code; a kill from outside counts too); ")
    assert ("Hydra launcher" in failed.error) is hydra
    assert ("executor 'process'" in failed.error) is not hydra
