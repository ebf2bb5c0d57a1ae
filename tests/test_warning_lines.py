"""The project's warnings to the user point at the user's line (Python), or are the command's
own console line (``lightning-nas``), wherever they are made: rule checks, setting groups,
trial logs. Real ``Search`` checks, real ``lightning-nas`` commands."""

from __future__ import annotations

import warnings
from collections import Counter

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.user_warnings import (
    _RANK_VARIABLES,
    UserWarningCache,
    console_warnings,
    warn_rank_zero,
    warn_user,
)
from tests.helpers_config import USERS_OWN

TINY = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2,
        "enable_progress_bar": False}
ENDLESS = "trainer.max_epochs=-1 is Lightning's 'no limit'"
CONTRARY = "'val_loss' is maximised, but its name says"
FIXED = "(CSVLogger) has version 3: every trial writes into one folder"


def test_python_warnings_of_the_checks_point_at_the_line_that_made_the_search(tmp_path):
    # was: ".../lightning_nas/search/facade_checks.py:136: UserWarning: trainer.max_epochs=-1
    # ...", ".../lightning_nas/search/facade.py:...: UserWarning: 'val_loss' is maximised"
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(str(tmp_path / "logs"), version=3)
    with pytest.warns(UserWarning) as said:
        Search("tests.helpers.TinyNet", {"width": {"choice": [4, 8]}},
               data="tests.helpers.BlobData", trainer={**TINY, "max_epochs": -1,
                                                       "logger": logger},
               monitor="val_loss", mode="max", budget=1, seed=0, run_dir=tmp_path / "run",
               verbose=False)
    for text in (ENDLESS, CONTRARY, FIXED):
        (warning,) = [w for w in said if text in str(w.message)]
        assert warning.filename == __file__, f"{text}: {warning.filename}:{warning.lineno}"


def test_the_commands_warnings_are_its_own_lines_once_without_a_path(tmp_path, capsys):
    # was: ".../lightning_nas/search/rule_checks.py:326: UserWarning: trainer.max_epochs=-1
    # ..." (a line of the package's, meaningless to the command's user)
    cfg = {"model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
           "trainer": {**TINY, "max_epochs": -1},
           "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1, "seed": 0,
                      "monitor": "val_loss", "mode": "max", "max_params": 1,
                      "run_dir": str(tmp_path / "run")}}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("default")  # as Python shows a script's warnings
        assert main(["search", str(config)]) == 2  # max_params=1: no architecture meets it
    assert not [w for w in said if ENDLESS in str(w.message) or CONTRARY in str(w.message)]
    err = capsys.readouterr().err
    lines = err.splitlines()
    for text in (ENDLESS, CONTRARY):
        (line,) = [x for x in lines if text in x]
        assert line.startswith(f"lightning-nas search: warning: {text.split()[0]}"), line
    assert ".py:" not in err and "UserWarning" not in err, err
    assert lines[-1].startswith("lightning-nas search: error: "), err


def test_a_console_warning_is_said_as_python_would_once_and_as_its_filters_say(capsys):
    # was: every call printed, whatever the filters (-W ignore, PYTHONWARNINGS) said
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        with console_warnings("search"):
            warn_user("said once")
            warn_user("said once")
            warnings.filterwarnings("ignore", message="quiet")
            warn_user("quiet, please")
            warnings.filterwarnings("error", message="loud")
            with pytest.raises(UserWarning, match="loud"):
                warn_user("loud, as an error")
    assert capsys.readouterr().err == "lightning-nas search: warning: said once\n"


def test_a_console_warning_is_said_by_rank_0_alone(monkeypatch, capsys):
    # a launcher runs the command once per rank (Lightning's DDP, torchrun): one line, not
    # one per rank (was: each rank printed it)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for rank, said in (("1", ""), ("0", "lightning-nas fit: warning: once\n")):
            monkeypatch.setenv("LOCAL_RANK", rank)
            with console_warnings("fit"):
                warn_user("once")
            assert capsys.readouterr().err == said, rank


@pytest.mark.parametrize("variable", _RANK_VARIABLES)
def test_a_python_warning_is_said_by_rank_0_alone_at_the_users_line(monkeypatch, variable):
    # a user's script a launcher runs once per rank (torchrun, Lightning's DDP re-running it
    # with LOCAL_RANK set): rank 0 warns at the user's line, the others say nothing (was:
    # every rank warned, as the command's console did before it said rank 0's alone)
    for name in _RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        monkeypatch.setenv(variable, "1")
        warn_user("rank 1's")
        monkeypatch.setenv(variable, "0")
        warn_user("rank 0's")
    assert [(str(w.message), w.filename) for w in said] == [("rank 0's", __file__)]
    monkeypatch.setenv(variable, "1")
    with warnings.catch_warnings(), pytest.raises(UserWarning, match="an error"):
        warnings.simplefilter("error")  # made an error: raised on every rank
        warn_user("an error")


def test_a_trainer_hooks_warning_is_said_by_rank_0_alone_and_a_cached_one_once(monkeypatch):
    # warn_rank_zero, as Lightning's rank_zero_warn: the rank a Trainer sets (ddp_spawn's
    # processes have no launcher variable) keeps every other rank quiet, and so does it
    # warn_user's (a check before training; was: every process's own)
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    cache = UserWarningCache()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        monkeypatch.setattr(rank_zero_only, "rank", 1)
        warn_rank_zero("rank 1's")
        cache.warn("cached")  # kept: rank 0 alone says it, each rank once
        warn_user("rank 1's too")
        monkeypatch.setattr(rank_zero_only, "rank", 0)
        warn_rank_zero("rank 0's", FutureWarning)
        cache.warn("cached")
        cache.warn("again")
        cache.warn("again")
    assert [(str(w.message), w.category, w.filename) for w in said] == [
        ("rank 0's", FutureWarning, __file__), ("again", UserWarning, __file__)]


def test_a_warning_in_a_trial_a_thread_pool_runs_is_the_commands_line_too(tmp_path, capsys):
    # was: a trial run in a pool's thread did not see the command (a ContextVar, which a new
    # thread does not inherit): ".../concurrent/futures/thread.py:58: UserWarning: made in
    # the trial" in Python's form
    from concurrent.futures import ThreadPoolExecutor

    def objective(arch: dict) -> dict:  # the package's warning, made in the trial's thread
        warn_user(f"made in the trial {arch['c']}")
        return {"score": float(arch["c"])}

    with ThreadPoolExecutor(max_workers=2) as pool, console_warnings("search"), \
            warnings.catch_warnings():
        warnings.simplefilter("default")
        Search(None, {"c": {"choice": [1, 2]}}, monitor="score", mode="max",
               objective=objective, budget=2, seed=0, run_dir=tmp_path, executor=pool,
               num_workers=2, verbose=False).run()
    err = capsys.readouterr().err
    said = sorted(line for line in err.splitlines() if "made in the trial" in line)
    assert said == ["lightning-nas search: warning: made in the trial 1",
                    "lightning-nas search: warning: made in the trial 2"], err



def test_a_warning_in_a_trial_a_worker_process_runs_is_the_commands_line_once(
        two_worker_warnings):
    # was: the workers printed Python's form, once per trial (four lines): ".../tests/
    # helpers_config.py:227: UserWarning: built in a worker" (the console was the search
    # process's alone)
    said = [line for line in two_worker_warnings if "built in a worker" in line]
    assert said == ["lightning-nas search: warning: built in a worker"]


def test_a_users_own_warning_is_shown_once_by_each_worker_process(two_worker_warnings):
    # a warnings.warn of the user's model, in each training step: shown by each worker
    # process once, as a plain loop of fits would (was: once per trial the worker ran,
    # each trial's filters having made Python forget it had shown it)
    own = [line for line in two_worker_warnings if USERS_OWN in line]
    by_process = Counter(line.rsplit(" ", 1)[-1] for line in own)
    assert own and set(by_process.values()) == {1}, own


def test_a_warning_in_a_trial_a_worker_process_runs_points_at_the_users_line(tmp_path):
    # from Python (no console): the worker's warning comes to the search process, which
    # warns at the line that ran the search, once (was: each worker printed it at
    # ".../multiprocessing/process.py:108", a line of Python's own)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("default")  # as Python shows a script's warnings
        Search("tests.helpers_config.WarnsInWorker", {"width": {"choice": [4, 8]}},
               data="tests.helpers.BlobData", trainer=TINY, budget=2, executor="process",
               threads_per_trial=1, seed=0, run_dir=tmp_path / "run", verbose=False).run()
    assert [w.filename for w in said if "built in a worker" in str(w.message)] == [__file__]
