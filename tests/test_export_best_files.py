"""``export_best`` and ``load_best``: ``best.yaml`` and ``best.ckpt`` written as a pair (an
export that fails on the way, two at once, one during a search), the winner's weights
never lost to an export of another trial, a damaged ``best.yaml`` said, and a trial that
cannot be exported (rejected, paused, pruned, absent) named with the ones that can."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas import Search, export_best, finetune, load_best
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_export import hold_elsewhere
from tests.helpers_models import TinyNet


def test_export_writes_best_yaml_and_checkpoint(finished_run):
    (finished_run / "best.yaml").unlink()
    (finished_run / "best.ckpt").unlink()
    out = export_best(finished_run)
    on_disk = yaml.safe_load((finished_run / "best.yaml").read_text())
    assert on_disk == out
    assert out["model"]["class_path"] == "tests.helpers.TinyNet"
    assert out["model"]["init_args"] == out["arch"]
    ckpt = torch.load(finished_run / out["checkpoint"], weights_only=False)
    assert ckpt["hyper_parameters"]["width"] == out["arch"]["width"]


@pytest.mark.parametrize("call", [export_best, load_best, finetune])
def test_a_run_dir_of_another_kind_is_a_config_error_naming_it(call):
    # was: a bare TypeError, "expected str, bytes or os.PathLike object, not int"
    with pytest.raises(ConfigError, match=rf"^{call.__name__}\(run_dir=\.\.\.\) must be a "
                                          r"path \(str or os.PathLike\), got int 3$"):
        call(3)


def test_export_of_a_missing_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        export_best(tmp_path)


def _same_weights(exported: Path, trials: str) -> bool:
    """Whether the exported ``best.ckpt`` holds the weights of the trial's checkpoint (a copy
    without lightning_nas's callback states, not of its bytes)."""
    a, b = (torch.load(p, weights_only=False)["state_dict"] for p in (exported, trials))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_export_that_fails_on_the_way_leaves_the_earlier_pair_as_it_was(finished_run):
    # was: best.ckpt was replaced before best.yaml was written: an export stopped between
    # the two left another trial's weights under best.yaml, and finetune started from them
    with RunStore(finished_run / "search.db") as store:
        current = store.best("max")
        other = next(t for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != current.trial_id and t.checkpoint)
    before = {name: (finished_run / name).read_bytes()
              for name in ("best.yaml", "best.ckpt")}
    assert _same_weights(finished_run / "best.ckpt", current.checkpoint)
    from lightning_nas.export_files import staging_path

    blocked = staging_path(finished_run / "best.yaml")  # where this thread stages it
    blocked.mkdir()  # best.yaml cannot be written: a real OSError
    with pytest.raises(IsADirectoryError):
        export_best(finished_run, trial_id=other.trial_id)
    assert {name: (finished_run / name).read_bytes() for name in before} == before
    assert not staging_path(finished_run / "best.ckpt").exists()  # no copy on a full disk
    blocked.rmdir()
    assert export_best(finished_run, trial_id=other.trial_id)["trial"] == other.trial_id
    assert _same_weights(finished_run / "best.ckpt", other.checkpoint)
    assert sorted(p.name for p in finished_run.glob("*.tmp")) == []


def test_exports_at_once_wait_for_each_other_and_one_during_a_search_is_refused(
        finished_run):
    # was: every export staged its files under one name (best.ckpt.tmp) and none held the
    # folder: two at once (`export --trial N` per Pareto point, threads) left best.yaml
    # over the other trial's best.ckpt, or no best.yaml with both "done", and the other
    # failed "No such file or directory: 'best.ckpt.tmp' -> 'best.ckpt'"
    import threading

    with RunStore(finished_run / "search.db") as store:
        a, b = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)][:2]
    leftover = finished_run / "best.ckpt.4242-1.tmp"  # a copy of an export killed on the way
    leftover.write_bytes(b"x" * 1000)

    def export(trial: int, barrier: threading.Barrier, errors: list) -> None:
        barrier.wait()  # both at once
        try:
            export_best(finished_run, trial_id=trial)
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    for _ in range(8):
        barrier, errors = threading.Barrier(2), []
        threads = [threading.Thread(target=export, args=(t, barrier, errors)) for t in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []  # the second waited for the first
        best = load_best(finished_run)
        held = torch.load(finished_run / "best.ckpt", weights_only=False)["hyper_parameters"]
        assert best["trial"] in (a, b) and {k: held[k] for k in best["arch"]} == best["arch"]
    assert list(finished_run.glob("*.tmp")) == []  # the killed export's copy removed too
    # a search holds the folder (the fixture's own export at its end ran within its hold):
    # an export meanwhile is refused, naming it, and writes nothing
    holder = hold_elsewhere(finished_run)
    try:
        before = {p: p.stat().st_mtime_ns for p in finished_run.iterdir()}
        with pytest.raises(SearchError, match=rf"{finished_run} is being searched by another "
                                              rf"process \(pid {holder.pid} on .*\): wait for "
                                              rf"it to end, or stop it; then export again \(a "
                                              rf"search exports its best trial itself"):
            export_best(finished_run, trial_id=a)
        assert {p: p.stat().st_mtime_ns for p in finished_run.iterdir()} == before
    finally:
        holder.kill()
        holder.wait()
    assert export_best(finished_run, trial_id=a)["trial"] == a  # once the search is gone


@pytest.mark.parametrize("text, why", [("trial: [\n", "not YAML: ParserError"),
                                       ("hello\n", "it holds 'hello', not a mapping"),
                                       ("arch: {width: 8}\n", "no trial number")])
def test_a_damaged_best_yaml_is_said_naming_it_and_the_export_that_writes_it_again(
        finished_run, capsys, text, why):
    # was: yaml's ParserError traceback (exit 1), or "AttributeError: 'str' object has no
    # attribute 'get'", from `lightning-nas finetune` of a run whose best.yaml was edited
    from lightning_nas.cli import main
    from lightning_nas.errors import StoreError

    (finished_run / "best.yaml").write_text(text)
    folders = sorted(finished_run.iterdir())
    with pytest.raises(StoreError) as err:
        load_best(finished_run)
    said = str(err.value)
    assert said.startswith(f"{finished_run / 'best.yaml'} is not a best.yaml an export wrote "
                           f"({why}")
    assert said.endswith(f"write it again with `lightning-nas export {finished_run}` (or "
                         f"`--trial N` for a trial of your choice)")
    assert main(["finetune", str(finished_run), "--max_epochs=1"]) == 2
    assert capsys.readouterr().err.startswith(f"lightning-nas finetune: error: {said[:60]}")
    assert sorted(finished_run.iterdir()) == folders  # nothing trained, no folder made
    assert main(["export", str(finished_run)]) == 0  # as it says
    assert load_best(finished_run)["trial"] in (1, 2, 3)


def test_an_export_after_trials_were_removed_keeps_the_winners_best_ckpt(finished_run):
    # was: with trials/ gone (disk freed; a folder copied with search.db and best.* only),
    # a re-export (a no-op resume, `lightning-nas export`) removed best.ckpt of the very
    # trial it exported, and finetune said its checkpoint "was not kept"

    weights = (finished_run / "best.ckpt").read_bytes()
    trial = load_best(finished_run)["trial"]
    shutil.rmtree(finished_run / "trials")
    out = export_best(finished_run)
    assert (out["trial"], out["checkpoint"]) == (trial, "best.ckpt")
    assert (finished_run / "best.ckpt").read_bytes() == weights
    assert load_best(finished_run)["checkpoint"] == "best.ckpt"
    assert finetune(finished_run, max_epochs=1).status is TrialStatus.COMPLETED
    with RunStore(finished_run / "search.db") as store:
        other = next(t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != trial)
    # was: `export --trial N` of another trial removed that best.ckpt, the only copy of the
    # winner's weights, and a later plain export could not bring them back: refused
    with pytest.raises(ConfigError, match=rf"holds the weights of trial {trial}, the run's "
                                          rf"best, and is their only copy .* an export of "
                                          rf"trial {other} would remove it; move it out"):
        export_best(finished_run, trial_id=other)
    assert (finished_run / "best.ckpt").read_bytes() == weights
    assert load_best(finished_run)["trial"] == trial
    assert list(finished_run.glob("*.tmp")) == []
    kept = finished_run.parent / "winner.ckpt"
    (finished_run / "best.ckpt").rename(kept)  # moved away as the error says: exported
    assert export_best(finished_run, trial_id=other)["checkpoint"] is None
    assert not (finished_run / "best.ckpt").exists() and kept.read_bytes() == weights


def test_an_export_of_another_trial_never_replaces_the_only_copy_of_the_winners_weights(
        finished_run):
    # was: with the winner's trial folder gone, `export --trial N` of a trial that kept its
    # checkpoint replaced best.ckpt, and no export brought the winner's weights back

    with RunStore(finished_run / "search.db") as store:
        winner = store.best("max")
        other = next(t for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != winner.trial_id and t.checkpoint)
    weights = (finished_run / "best.ckpt").read_bytes()
    shutil.rmtree(Path(winner.checkpoint).parent)
    with pytest.raises(ConfigError, match=rf"an export of trial {other.trial_id} would "
                                          rf"replace it; move it out of the run folder"):
        export_best(finished_run, trial_id=other.trial_id)
    assert (finished_run / "best.ckpt").read_bytes() == weights
    assert export_best(finished_run)["checkpoint"] == "best.ckpt"  # the winner's, still


def test_a_trial_that_cannot_be_exported_is_named_with_the_ones_that_can(tmp_path):
    # was: "has no trial 99; trials: 1 to 11" and "trial 2 is REJECTED; only COMPLETED
    # trials can be exported", neither naming a trial that can be exported
    Search(None, {"k": {"int": [0, 40]}}, objective=lambda arch: {"val_acc": arch["k"] / 40},
           budget=8, optimizer="RandomSearch", constraints=[lambda arch: arch["k"] > 25],
           seed=0, run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        done = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)]
        rejected = [t.trial_id for t in store.trials(TrialStatus.REJECTED)]
        total = len(store)
    assert rejected, "the seed gives no rejected trial: pick another"
    with pytest.raises(ConfigError) as err:
        export_best(tmp_path, trial_id=rejected[0])
    assert f"trial {rejected[0]} is REJECTED: it broke a constraint of the search and was " \
           f"never trained; only COMPLETED trials can be exported; COMPLETED trials: " \
           in str(err.value)
    listed = str(err.value).rsplit(": ", 1)[1]
    assert sorted(int(i) for part in listed.split(", ") for i in range(
        int(part.split("-")[0]), int(part.split("-")[-1]) + 1)) == sorted(done)
    with pytest.raises(ConfigError, match=rf"has no trial 99 \(trials 1 to {total}\); "
                                          rf"COMPLETED trials: "):
        export_best(tmp_path, trial_id=99)


@pytest.mark.parametrize("args, kwargs, said", [
    ((2,), {}, "export_best(run_dir, store, trial_id): store must be the run's open RunStore "
               "or None (export_best opens it), got 2; to export trial 2 give trial_id=2"),
    ((), {"trial_id": True}, "trial_id must be a trial number (a whole number), or None for "
                             "the run's best trial; got True; COMPLETED trials: 1-3"),
    ((), {"trial_id": "2"}, "trial_id must be a trial number (a whole number), or None for "
                            "the run's best trial; got '2'; COMPLETED trials: 1-3"),
    ((), {"trial_id": 2.0}, "trial_id must be a trial number (a whole number), or None for "
                            "the run's best trial; got 2.0; COMPLETED trials: 1-3"),
])
def test_export_best_given_no_trial_number_says_so_and_writes_nothing(finished_run, args,
                                                                      kwargs, said):
    # was: export_best(run, 2), a trial number where the store goes, raised "AttributeError:
    # 'int' object has no attribute '_held'"; trial_id=True exported trial 1 (chosen: true),
    # '2' and 2.0 trial 2, each without a word
    before = {p.name: p.read_bytes() for p in finished_run.glob("best*")}
    with pytest.raises(ConfigError) as err:
        export_best(finished_run, *args, **kwargs)
    assert str(err.value) == said
    assert {p.name: p.read_bytes() for p in finished_run.glob("best*")} == before


@pytest.mark.parametrize("scheduler, status, why", [
    ({"scheduler": "asha", "eta": 2}, TrialStatus.PAUSED,
     "the scheduler paused it after {epochs}, at a rung: a resume of the search may promote it "
     "and train it to its end"),
    ({"scheduler": "median"}, TrialStatus.PRUNED,
     "the scheduler stopped it for good after {epochs}, before its end"),
])
def test_export_of_a_paused_or_pruned_trial_says_why_it_is_not_exported(tmp_path, capsys,
                                                                         scheduler, status, why):
    # was: "trial 3 is PAUSED; only COMPLETED trials can be exported", saying neither that it
    # trained only part of its epochs nor that a resume may still finish a paused one
    from lightning_nas.cli import main
    from lightning_nas.wording import counted

    space = {"lr": {"float": [1e-6, 0.3], "log": True}, "width": {"choice": [8, 16]}}
    trials = Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 4}, budget=6,
                    **scheduler, min_epochs=1, optimizer="RandomSearch", seed=1,
                    run_dir=tmp_path, verbose=False).run().trials
    stopped = next(t for t in trials if t.status is status)
    done = sorted(t.trial_id for t in trials if t.status is TrialStatus.COMPLETED)
    assert main(["export", str(tmp_path), "--trial", str(stopped.trial_id)]) == 2
    said = why.format(epochs=counted(stopped.epochs, "epoch"))
    assert capsys.readouterr().err.startswith(
        f"lightning-nas export: error: trial {stopped.trial_id} is {status.value}: {said}; "
        f"only COMPLETED trials can be exported; COMPLETED trials: {done[0]}")
    assert not (tmp_path / "best.yaml").exists() or load_best(tmp_path)["trial"] in done


def test_export_trial_of_a_run_with_no_trial_yet_says_so(tmp_path, capsys):
    # was: "has no trial 1 (trials 1 to 0)" of a search killed before its first trial
    from lightning_nas.cli import main

    with RunStore(tmp_path / "search.db") as store:  # all such a search left
        store.set_meta("monitor", "val_acc")
        store.set_meta("mode", "max")
    assert main(["export", str(tmp_path), "--trial", "1"]) == 2
    assert capsys.readouterr().err == (f"lightning-nas export: error: {tmp_path} has no trial "
                                       f"1 (no trial yet); COMPLETED trials: none\n")
    with RunStore(tmp_path / "search.db") as store:
        store.start_trial({"k": 3})
    with pytest.raises(ConfigError, match=r"has no trial 2 \(trial 1 only\); COMPLETED trials: "
                                          r"none$"):
        export_best(tmp_path, trial_id=2)
    assert not (tmp_path / "best.yaml").exists()


def test_best_yaml_names_the_object_arguments_the_store_keeps(tmp_path, tiny_trainer):
    # was: the model section left the object arguments out (the store keeps them under
    # "objects"): nothing said the winner needs a builder; a module instance has no path
    from torch import nn

    from lightning_nas.module import NASModule
    from tests.helpers_nets import build_mlp

    Search(NASModule, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=tiny_trainer,
           model_init_args={"builder": build_mlp, "num_classes": 3,
                            "loss": nn.CrossEntropyLoss()},
           budget=1, run_dir=tmp_path, verbose=False).run()
    best = load_best(tmp_path)
    assert best["model_objects"] == {"builder": "tests.helpers.build_mlp", "loss": None}
    model = best["model"]  # a node the config loader takes, as before
    assert set(model) == {"class_path", "init_args"} and model["init_args"]["width"] in (4, 8)


class _Watched(list):
    """The staged files ``move_in`` moves, which note, as each is moved, whether
    ``watched`` is in place (of the last pass over them: the one that moves them)."""

    def __init__(self, files: list, watched: Path) -> None:
        super().__init__(files)
        self.watched, self.seen = watched, []

    def __iter__(self):
        self.seen = []
        for item in super().__iter__():
            self.seen.append((item[1].name, self.watched.exists()))
            yield item


def test_an_export_replaces_best_ckpt_in_place_never_leaving_none(tmp_path):
    # was: the old best.ckpt deleted before the new one moved in, so a fine-tune reading
    # the folder then was refused ("no best.ckpt ... moved or deleted")
    from lightning_nas.export_files import move_in, staged

    run = tmp_path
    for name, text in (("best.ckpt", "old weights"), ("best.yaml", "trial: 1\n")):
        (run / name).write_text(text)
    files = _Watched([staged(run / "best.ckpt", "new weights"),
                      staged(run / "best.yaml", "trial: 2\n")], run / "best.ckpt")
    move_in(run, files, keep_checkpoint=False)
    assert files.seen == [("best.ckpt", True), ("best.yaml", True)]
    assert (run / "best.ckpt").read_text() == "new weights"
    assert (run / "best.yaml").read_text() == "trial: 2\n"
    # an export that writes no best.ckpt still removes the other trial's, best.yaml last
    files = _Watched([staged(run / "best.yaml", "trial: 3\n")], run / "best.ckpt")
    move_in(run, files, keep_checkpoint=False)
    assert files.seen == [("best.yaml", False)] and not (run / "best.ckpt").exists()


def test_a_resume_that_replaces_an_export_trial_choice_says_so(finished_run):
    # was: a resume (nothing left to train) rewrote best.* to the run's best over the
    # trial `lightning-nas export --trial N` chose, with no word of it
    from tests.conftest import TINY_SPACE, TINY_TRAINER

    with RunStore(finished_run / "search.db") as store:
        winner = store.best("max").trial_id
        other = next(t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != winner)
    assert export_best(finished_run, trial_id=other)["chosen"] is True
    search = Search(TinyNet, {k: dict(v) for k, v in TINY_SPACE.items()}, data=BlobData,
                    trainer=dict(TINY_TRAINER), budget=3, run_dir=finished_run, verbose=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        search.run()
    lines = [str(w.message) for w in said if "chosen" in str(w.message)]
    assert lines == [f"{finished_run / 'best.yaml'}: trial {other}, chosen by an export "
                     f"--trial, replaced by the run's best, trial {winner}; lightning-nas "
                     f"export {finished_run} --trial {other} exports it again"]
    assert load_best(finished_run)["trial"] == winner
    with warnings.catch_warnings():  # the run's best again: nothing replaced, nothing said
        warnings.simplefilter("error")
        assert "chosen" not in export_best(finished_run)


def test_load_best_of_a_one_shot_folder_names_its_best_arch_yaml(tmp_path):
    # was: "best.yaml does not exist; run `lightning-nas export DIR`", a command that
    # refuses a one-shot folder ("its export is there already")
    (tmp_path / "best_arch.yaml").write_text("arch: {width: 8}\n")  # as a one-shot run's
    with pytest.raises(FileNotFoundError) as err:
        load_best(tmp_path)
    said = str(err.value)
    assert f"{tmp_path} is a one-shot run folder" in said, said
    assert str(tmp_path / "best_arch.yaml") in said and "lightning-nas export" not in said
