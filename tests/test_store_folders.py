"""The folder a search's store is made in: a file on the way is refused, a folder holding what
a search writes (or a logger's versions) is refused to a new search, one being searched is
refused to a second search (another process's, or another thread's of this one) until its
driver ends, making no ``search.db`` there, and a store that cannot be opened or locked is
named with what is wrong. Real SQLite files, real locks, real Trainers."""

from __future__ import annotations

import shutil

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore, open_search_store


@pytest.mark.parametrize("inside", ["", "sub/run"])
def test_a_run_dir_at_or_under_a_file_is_refused(tmp_path, inside):
    # was: FileExistsError / NotADirectoryError from mkdir, naming neither setting nor cure
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"`hydra.sweeper.run_dir` .* cannot be a folder: "
                                          r".*notes.txt is a file"):
        open_search_store(tmp_path / "notes.txt" / inside, {"monitor": "acc"},
                          run_dir_key="hydra.sweeper.run_dir")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_new_search_refuses_a_folder_holding_what_a_search_writes(tmp_path):
    # was: its trials/trial_0001/ (the user's notes) was removed and best.yaml replaced
    run = tmp_path / "run"
    (run / "trials" / "trial_0001").mkdir(parents=True)
    (run / "trials" / "trial_0001" / "notes.txt").write_text("precious")
    (run / "best.yaml").write_text("mine")
    (run / "notes.md").write_text("other files are let be")
    fixed = {"monitor": "val_acc", "mode": "max"}
    with pytest.raises(ConfigError, match=r"`run_dir` .* holds trials/, best.yaml but no "
                       r"search.db.*pick an empty or new `run_dir`, or remove them"):
        open_search_store(run, fixed)
    assert sorted(p.name for p in run.rglob("*")) == [
        "best.yaml", "notes.md", "notes.txt", "trial_0001", "trials"]  # nothing written
    shutil.rmtree(run / "trials" / "trial_0001")
    (run / "best.yaml").unlink()
    open_search_store(run, fixed).close()  # an empty trials/ and other files: a new search
    open_search_store(run, fixed).close()  # and its resume


def test_a_new_search_refuses_such_a_folder_also_beside_a_search_db_holding_no_search(
        tmp_path):
    # was: a 0-byte search.db (a copy cut short, a crash as it was made) read as a resume's
    # store, so the new search replaced best.yaml, best.ckpt and trials/trial_0001/
    run = tmp_path / "run"
    (run / "trials" / "trial_0001").mkdir(parents=True)
    (run / "trials" / "trial_0001" / "best.ckpt").write_text("weights")
    (run / "best.yaml").write_text("trial: 1")
    (run / "search.db").write_bytes(b"")
    fixed = {"monitor": "val_acc", "mode": "max"}
    with pytest.raises(ConfigError, match=r"`run_dir` .* holds trials/, best.yaml but a "
                       r"search.db that holds no search: a new search would remove"):
        open_search_store(run, fixed)
    assert (run / "search.db").read_bytes() == b""  # nothing written
    assert (run / "best.yaml").read_text() == "trial: 1"
    shutil.rmtree(run / "trials")
    (run / "best.yaml").unlink()
    open_search_store(run, fixed).close()  # nothing beside it: a new search
    open_search_store(run, fixed).close()  # and its resume


@pytest.mark.slow
def test_a_new_search_takes_a_logs_folder_unless_it_holds_a_searchs_logger_versions(
        tmp_path, tiny_space, tiny_trainer):
    # was: any logs/ not empty refused a new search (a logger's own lightning_logs, the
    # folders of an attempt that died before its search.db), although it holds no search
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    run, fixed = tmp_path / "run", {"monitor": "val_acc", "mode": "max"}
    (run / "logs" / "lightning_logs" / "version_0").mkdir(parents=True)
    (run / "logs" / "lightning_logs" / "version_0" / "metrics.csv").write_text("epoch\n0\n")
    (run / "logs" / "trials" / "trial_0001").mkdir(parents=True)  # folders, no file
    open_search_store(run, fixed).close()  # a new search
    (run / "search.db").unlink()
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    Search(TinyNet, tiny_space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1,
           "logger": logger}, run_dir=tmp_path / "real", budget=1, seed=0,
           verbose=False).run()
    real = tmp_path / "real"
    assert (real / "logs" / "trials" / "trial_0001" / "metrics.csv").is_file()
    for name in ("search.db", "best.yaml", "best.ckpt", "best_config.yaml"):
        (real / name).unlink(missing_ok=True)
    shutil.rmtree(real / "trials")
    with pytest.raises(ConfigError, match=r"holds logs/ but no search\.db"):
        open_search_store(real, fixed)  # its trial's metrics.csv would be written again
    assert (real / "logs" / "trials" / "trial_0001" / "metrics.csv").is_file()


def test_a_second_search_on_a_folder_being_searched_is_refused_until_its_driver_ends(
        tmp_path, tiny_space, tiny_trainer):
    # was: the second one re-ran the live trial in its folder (both failed) and every
    # later architecture was trained twice
    import os
    import signal
    import subprocess
    import sys

    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lightning_nas.store import RunStore; "
         "from lightning_nas.run_folder import hold_folder; s = RunStore(sys.argv[1]); "
         "s.set_driver(); h = hold_folder(s.path.parent, ''); print('held', flush=True); "
         "time.sleep(120)", str(run / "search.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        search = Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                        run_dir=run, verbose=False)
        with pytest.raises(SearchError, match=rf"{run} is being searched by another process "
                                              rf"\(pid {holder.pid} on .*\): wait for it"):
            search.run()
        with RunStore(run / "search.db") as store:
            assert store.trials() == []  # nothing started
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # however the driver ends, the folder is free
        holder.wait()
    assert len(search.run().trials) == 1


def test_a_second_search_in_another_thread_of_this_process_is_told_it_is_this_ones(
        tmp_path, tiny_space, tiny_trainer):
    # was: "is being searched by another process (pid <this process's own>): wait for it to
    # end, or stop it" (a notebook, a threaded script: there is no other process to stop)
    import os
    import threading

    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    run, reached, go, first = tmp_path / "run", threading.Event(), threading.Event(), []

    def hold_on(result: TrialResult) -> None:  # the first search holds the folder meanwhile
        reached.set()
        go.wait(120)

    def search(**kwargs) -> Search:
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                      run_dir=run, verbose=False, **kwargs)

    thread = threading.Thread(target=lambda: first.append(search(on_trial_end=hold_on).run()))
    thread.start()
    try:
        assert reached.wait(300)
        with pytest.raises(SearchError, match=rf"^{run} is being searched by another search in "
                                              rf"this process \(pid {os.getpid()}\): one search "
                                              rf"per run folder at a time; wait for it to end; "
                                              rf"the same command then resumes the search$"):
            search().run()
    finally:
        go.set()
        thread.join()
    assert len(first[0].trials) == 1  # the first search went on
    assert len(search().run().trials) == 1  # once it ended: the same call resumes it


def test_a_search_refused_on_a_held_folder_makes_no_search_db_there(
        tmp_path, tiny_space, tiny_trainer):
    # was: search.db was made before the hold was tried, so a search refused on a live
    # one-shot run's folder left one there (and `show` then read the folder as a search)
    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from lightning_nas.run_folder import hold_folder
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    held = hold_folder(tmp_path, "then run it again")  # as a one-shot run holds its folder
    search = Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                    run_dir=tmp_path, verbose=False)
    with pytest.raises(SearchError, match="is being searched by another search in this process"):
        search.run()
    assert not (tmp_path / "search.db").exists()
    held.close()
    (tmp_path / "best_arch.yaml").write_text("arch: {}\n")  # the one-shot run ended
    with pytest.raises(ConfigError, match="is a one-shot run folder"):
        search.run()  # was: a search.db beside the one-shot run's files
    assert not (tmp_path / "search.db").exists()
    (tmp_path / "best_arch.yaml").unlink()
    assert len(search.run().trials) == 1


def test_a_store_that_cannot_be_opened_names_its_file_and_what_is_wrong(tmp_path):
    # was: SQLite's words alone ("database disk image is malformed", "file is not a
    # database", "unable to open database file"), naming no file, in search, show, ...
    from lightning_nas.errors import NASError, StoreError
    from lightning_nas.store import open_run

    fixed = {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc", "mode": "max"}
    for name in ("trunc", "garbage", "blocked"):
        with open_search_store(tmp_path / name, fixed) as s:
            s.start_trial({"k": 1})
    db = tmp_path / "trunc" / "search.db"
    db.write_bytes(db.read_bytes()[:5000])  # a copy cut short
    (tmp_path / "garbage" / "search.db").write_bytes(b"\x8f" * 28672)
    for name, what in (("trunc", r"is corrupt \(database disk image is malformed\)"),
                       ("garbage", r"is not an SQLite database \(file is not a database\)")):
        path = tmp_path / name / "search.db"
        with pytest.raises(StoreError, match=rf"^{path} {what}: .*give another run_dir"):
            open_run(path.parent)  # show, report, export: read
        with pytest.raises(StoreError, match=rf"^{path} {what}: .*give another run_dir"):
            open_search_store(path.parent, fixed)  # search: written
    # the files SQLite writes beside it cannot be made: it cannot be opened for writing
    (tmp_path / "blocked" / "search.db-wal").mkdir()
    with pytest.raises(NASError, match=rf"^{tmp_path / 'blocked' / 'search.db'} cannot be "
                                       r"opened for writing \(unable to open database file\)"
                                       r": SQLite cannot create or write it, or search.db-wal"):
        open_search_store(tmp_path / "blocked", fixed)



def test_a_store_write_the_disk_refuses_names_the_file_and_what_to_do(tmp_path):
    # was: SQLite's words alone, "database or disk is full", naming no file nor disk (a
    # search whose run_dir is on another disk than the one a user checks)
    from lightning_nas.errors import StoreError

    fixed = {"space": {"k": {"choice": ["a", "b"]}}, "monitor": "acc", "mode": "max"}
    with open_search_store(tmp_path / "run", fixed) as store:
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")  # full: SQLite's SQLITE_FULL
        with pytest.raises(StoreError, match=rf"^{store.path} cannot be written \(database "
                                             r"or disk is full\): .*free space .* resumes"):
            store.start_trial({"k": "a" * 100_000})
        assert len(store) == 0

def test_only_a_lock_another_process_holds_reads_as_a_search_running_there(tmp_path):
    # was: any refused flock (ENOLCK, EOPNOTSUPP of a network mount) read "being searched
    # by another process (pid ? on ?)", and search.db with the setup was left behind
    import errno
    import fcntl
    import os

    from lightning_nas.store_errors import check_lockable, lock_held, unlockable

    lock = tmp_path / "search.lock"
    with open(lock, "a") as first, open(lock, "a") as second:
        fcntl.flock(first.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OSError) as held:  # the system's own refusal of a held lock
            fcntl.flock(second.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert lock_held(held.value)
    assert lock_held(OSError(errno.EACCES, os.strerror(errno.EACCES)))
    for code in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EBADF):
        assert not lock_held(OSError(code, os.strerror(code)))
    message = str(unlockable(tmp_path / "run", OSError(errno.ENOLCK, "No locks available")))
    assert message.startswith(f"{tmp_path / 'run'} cannot be locked (No locks available): its "
                              f"file system takes no flock() lock") and "local disk" in message
    before = sorted(tmp_path.rglob("*"))
    check_lockable(tmp_path / "new" / "run")  # a local disk locks: nothing is left
    check_lockable(tmp_path)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("taken", ["removed", "renamed"])
def test_a_search_whose_folder_another_took_meanwhile_writes_nothing_more(tmp_path, taken):
    # was: written over the newer run's store and best.yaml by a search that came back late
    # (its search.lock removed while it ran, "removing it loses nothing", and a new search
    # took the folder; or, on a network file system, its lock lapsed while it was frozen or
    # cut off and a search of another host took the folder and named itself there)
    from lightning_nas.errors import StoreError
    from lightning_nas.export import export_best
    from lightning_nas.run_folder import LOCK_FILE

    run, fixed = tmp_path / "run", {"monitor": "val_acc", "mode": "max"}
    late = open_search_store(run, fixed, hold=True)
    late.start_trial({"x": 1})
    done = TrialResult(1, {"x": 1}, TrialStatus.COMPLETED, 0.9)
    if taken == "removed":
        (run / LOCK_FILE).unlink()
        newer = open_search_store(run, fixed, hold=True)  # not refused: the file is new
        holder = "was removed"
    else:  # (a lock that lapsed cannot be made here: the newer holder's name is written)
        (run / LOCK_FILE).write_text("pid 4242 on another-host\n")
        newer = RunStore(run / "search.db")
        holder = "now names pid 4242 on another-host"
    try:
        newer.set_meta("monitor", "val_acc")
        said = rf"{run} is no longer held by this search \(pid .*\): its {LOCK_FILE} {holder}"
        for write in (lambda: late.set_meta("monitor", "late"),
                      lambda: late.start_trial({"x": 2}),
                      lambda: late.finish_trial(done),
                      lambda: late.log_events([{"kind": "ask", "ask": 2}]),
                      lambda: export_best(run, store=late)):
            with pytest.raises(StoreError, match=said):
                write()
        assert len(newer) == 1 and newer.get_meta("monitor") == "val_acc"
        assert newer.events() == [] and not (run / "best.yaml").exists()
    finally:
        late.close()
        newer.close()


def test_a_search_that_lost_its_folder_stops_at_once_and_writes_nothing_more(tmp_path):
    # was: IndexError "pop from empty list" (the refused write, taken as a stop, left a
    # trial counted as running that was never submitted); a stop would also have stored the
    # trials out and exported the best so far, over the newer run's files
    from lightning_nas import Search
    from lightning_nas.errors import StoreError
    from lightning_nas.run_folder import LOCK_FILE
    from lightning_nas.store import open_run

    run, calls = tmp_path / "run", []

    def objective(arch):  # its folder taken from it as its second trial runs
        calls.append(arch)
        if len(calls) == 2:
            (run / LOCK_FILE).unlink()
            (run / LOCK_FILE).write_text("pid 4242 on another-host\n")
        return {"val_acc": 0.5 + len(calls) / 100}

    with pytest.raises(StoreError, match=rf"{run} is no longer held by this search"):
        Search(None, {"x": {"choice": [1, 2, 3, 4]}}, objective=objective, budget=4,
               run_dir=run, verbose=False).run()
    with open_run(run) as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED,
                                                      TrialStatus.RUNNING]
    assert len(calls) == 2 and not (run / "best.yaml").exists()


def test_a_search_stopped_by_a_file_where_a_trials_folder_goes_does_not_fail_that_trial(
        tmp_path):
    # was: each stop (an error of the search, the process alive) counted as a death of the
    # search process in the trial, so the third run stored it FAILED, "the search process
    # died 2 times while running this trial", and stopped on the file ("Not a directory")
    from lightning_nas import Search
    from lightning_nas.errors import StoreError
    from tests.helpers import BlobData, TinyNet

    def search(budget=2):
        return Search(TinyNet, {"width": {"choice": [4, 8, 16, 32]}},
                      data=BlobData(n=64, batch_size=32), optimizer="RandomSearch", seed=0,
                      trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                               "logger": False, "enable_progress_bar": False,
                               "enable_model_summary": False},
                      budget=budget, run_dir=tmp_path, verbose=False)

    search(budget=1).run()
    (tmp_path / "trials" / "trial_0002").write_text("in the way")
    for _ in range(3):
        with pytest.raises(StoreError, match=rf"^{tmp_path / 'trials' / 'trial_0002'} is a "
                                             r"file, where trial 2's folder goes: move it"):
            search().run()
        with RunStore(tmp_path / "search.db") as store:
            assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED,
                                                          TrialStatus.RUNNING]
            assert store.attempts(2) == 0
    (tmp_path / "trials" / "trial_0002").unlink()
    result = search().run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
