"""Console messages said once, whole, and pointing at the right place: a search's fatal
stop, an ``objective=`` search's misspelt monitor, a warm start from a source still being
searched, a one-shot run's ``Wrote`` line and SPOS's count of its candidates. Real
Trainers, real nevergrad, real stores."""

from __future__ import annotations

import json
import re
import textwrap
import threading
import warnings
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.store import open_run
from lightning_nas.user_warnings import UserWarningCache
from tests.helpers_runs import wait_for_trials
from tests.launcher import ROOT

TINY = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2,
        "enable_progress_bar": False}


def _config(tmp_path: Path, search: dict, model: str = "tests.helpers.TinyNet") -> Path:
    cfg = {"model": model, "data": "tests.helpers.BlobData", "trainer": dict(TINY),
           "search": {"space": {"width": {"choice": [4, 8, 16]}}, "budget": 2, "seed": 0,
                      "run_dir": str(tmp_path / "run"), **search}}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_fatal_stop_says_its_error_once(tmp_path, capsys, monkeypatch):
    # was: three times: the trial's line "FAILED (MonitorError: monitor 'val_accurasy' was
    # not logged ...)", a warning ".../lightning_nas/search/callbacks.py:305: monitor
    # 'val_accurasy' was not logged ... the trial trains on" (the fit's only validation:
    # nothing trained on) and the command's error
    from lightning_nas.search import callbacks

    monkeypatch.setattr(callbacks, "_WARNINGS", UserWarningCache())  # told once a process
    config = _config(tmp_path, {"monitor": "val_accurasy", "mode": "max"})
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["search", str(config)]) == 2
    out, err = capsys.readouterr()
    told = "monitor 'val_accurasy' was not logged by the validation of epoch 0"
    console = [out, err, *(f"{w.filename}:{w.lineno}: {w.message}" for w in said)]
    assert sum(text.count(told) for text in console) == 1, console
    (line,) = [x for x in out.splitlines() if x.startswith("[trial   1 |")]
    assert "FAILED (see below)" in line, line
    assert err.startswith(f"lightning-nas search: error: trial 1 failed with an error every "
                          f"trial would hit: MonitorError: {told}; did you mean 'val_acc'? "
                          f"logged keys: ['val_acc', 'val_loss']"), err
    with open_run(tmp_path / "run") as store:  # the store keeps the whole error
        (trial,) = store.trials()
    assert trial.status is TrialStatus.FAILED and told in trial.error
    assert "Traceback" in trial.error


def test_a_monitor_of_a_fit_validated_again_is_still_warned_of_while_it_trains(
        tmp_path, monkeypatch):
    # the warning is news where the trial trains on (a later validation may log it)
    from lightning_nas.search import callbacks
    from lightning_nas.search.trial import TrialSpec, fit_trial
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    monkeypatch.setattr(callbacks, "_WARNINGS", UserWarningCache())
    for epochs, warned in ((1, False), (2, True)):
        spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / f"{epochs}"),
                         model=TinyNet, data=BlobData, monitor="val_accuracy",
                         trainer={**TINY, "max_epochs": epochs})
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            result = fit_trial(spec)
        assert result.status is TrialStatus.FAILED and result.fatal
        ahead = [w for w in said if "the trial trains on" in str(w.message)]
        assert bool(ahead) is warned, [str(w.message) for w in said]


def test_a_stop_that_lets_a_trial_finish_says_it_in_a_sentence_of_its_own(tmp_path):
    # was: "...: RuntimeError: broken setup The 1 other trial running then was let finish"
    from concurrent.futures import ThreadPoolExecutor

    failed, calls, lock = threading.Event(), [], threading.Lock()

    def objective(arch: dict) -> dict:  # the first call runs on until two calls failed
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if not first:
            raise RuntimeError("broken setup")
        assert failed.wait(60), "the failures never came"
        return {"score": float(arch["c"])}

    def on_trial_end(result) -> None:
        if sum(c is not calls[0] for c in calls) >= 2:
            failed.set()

    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(SearchError) as info:
        Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score", mode="max",
               objective=objective, budget=6, seed=0, run_dir=tmp_path, executor=pool,
               num_workers=2, on_trial_end=on_trial_end, verbose=False).run()
    assert re.search(r"in the objective function \(every trial would; unless a value they "
                     r"share is the cause: none\): RuntimeError: broken setup\. To go on, fix "
                     r"it and run the same search again \(trials \d and \d run again\)\. The 1 "
                     r"other trial running then was let finish", str(info.value)), info.value


@pytest.mark.parametrize("monitor, objectives, close", [
    ("val_los", None, "monitor 'val_los' was never logged; did you mean 'val_loss'? the "
                      "objective returned ['latency_ms', 'val_loss']"),
    ("val_loss_epoch", None, "monitor 'val_loss_epoch' was never logged; did you mean "
                             "'val_loss'? the objective returned ['latency_ms', 'val_loss']"),
    ("val_loss", {"val_loss": "min", "latency": "min"},
     "objective 'latency' was not returned; did you mean 'latency_ms'? the objective "
     "returned ['latency_ms', 'val_loss']")])
def test_an_objective_searchs_misspelt_metric_names_the_close_one(tmp_path, monitor,
                                                                  objectives, close):
    # was: "monitor 'val_los' was never logged; the objective returned [...]", no close name
    options = {"objectives": objectives} if objectives else {"monitor": monitor, "mode": "min"}
    with pytest.raises(SearchError) as info:
        Search(None, {"c": {"choice": [1, 2, 3]}},
               objective=lambda arch: {"val_loss": float(arch["c"]), "latency_ms": 3.0},
               budget=2, seed=0, run_dir=tmp_path / "run", verbose=False, **options).run()
    assert f"every trial would hit: MonitorError: {close}" in str(info.value), info.value


LIVE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from lightning_nas import Search
    from tests.helpers import BlobData, TinyNet

    def held(result):  # after its first trial the search waits until the test lets it go
        while not Path({go!r}).exists():
            time.sleep(0.05)

    Search(TinyNet, {{"width": {{"choice": [4, 8]}}}}, data=BlobData, trainer={trainer!r},
           monitor="val_acc", mode="max", budget=2, seed=0, run_dir={run_dir!r},
           verbose=False, on_trial_end=held).run()
""")


def test_a_warm_start_from_a_running_search_points_at_the_users_line(tmp_path, launcher,
                                                                     capsys):
    # was: ".../lightning_nas/search/facade.py:221: UserWarning: warm_start source ... is
    # still being searched", from Python and from the command alike
    source, go = tmp_path / "source", tmp_path / "go"
    script = tmp_path / "run.py"
    script.write_text(LIVE.format(root=str(ROOT), go=str(go), run_dir=str(source),
                                  trainer=TINY))
    launcher.launch([], tmp_path / "run.log", script)
    try:
        wait_for_trials(source, tmp_path / "run.log")  # its first trial completed
        with pytest.warns(UserWarning) as said:
            Search("tests.helpers.TinyNet", {"width": {"choice": [4, 8]}},
                   data="tests.helpers.BlobData", trainer=TINY, budget=1, seed=0,
                   monitor="val_acc", mode="max", run_dir=tmp_path / "python",
                   verbose=False, warm_start=[str(source)]).run()
        (live,) = [w for w in said if "still being searched" in str(w.message)]
        assert live.filename == __file__, f"{live.filename}:{live.lineno}"
        config = _config(tmp_path, {"monitor": "val_acc", "mode": "max", "budget": 1,
                                    "warm_start": [str(source)]})
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            assert main(["search", str(config)]) == 0
        assert not [w for w in said if "still being searched" in str(w.message)]
        err = capsys.readouterr().err
        assert f"lightning-nas search: warning: warm_start source {source.resolve()} is " \
               f"still being searched (pid " in err, err
    finally:
        go.touch()
        assert launcher.wait(120) == 0, (tmp_path / "run.log").read_text()


def _oneshot(tmp_path: Path, algorithm: str) -> Path:
    cfg = {"model": "tests.helpers.TinySupernet",
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 128}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2, "enable_progress_bar": False},
           "oneshot": {"algorithm": algorithm, "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(tmp_path / algorithm), "finetune_epochs": 0,
                       **({"num_candidates": 10} if algorithm == "spos" else {})}}
    path = tmp_path / f"{algorithm}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _wrote(out: str) -> list[str]:
    (line,) = [x for x in out.splitlines() if x.startswith("Wrote ")]
    return re.split(r", | and ", line[len("Wrote "):])


def test_spos_says_its_candidates_drawn_and_the_distinct_subnets_scored(tmp_path, capsys):
    # was: "One-shot search: 6 subnets scored after 1 epoch" for num_candidates: 10 (a space
    # of 6 subnets: those drawn twice are scored once), and "Wrote .../best_arch.yaml and
    # .../subnet.pt", not history.json
    assert main(["oneshot", str(_oneshot(tmp_path, "spos"))]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "spos"
    scored = len(json.loads((run / "history.json").read_text()))
    assert scored < 10
    assert f"One-shot search: 10 candidates drawn, {scored} distinct subnets scored after " \
           f"1 epoch; best " in out, out
    assert _wrote(out) == [str(run / name) for name in ("best_arch.yaml", "history.json",
                                                          "subnet.pt")]


def test_darts_names_every_file_it_wrote(tmp_path, capsys):
    # was: "Wrote .../best_arch.yaml, .../subnet.pt and .../alphas.json", not alphas.png
    pytest.importorskip("matplotlib")
    assert main(["oneshot", str(_oneshot(tmp_path, "darts"))]) == 0
    run = tmp_path / "darts"
    assert _wrote(capsys.readouterr().out) == [
        str(run / name) for name in ("best_arch.yaml", "subnet.pt", "alphas.json",
                                     "alphas.png")]
    assert (run / "alphas.png").read_bytes()[:4] == b"\x89PNG"
