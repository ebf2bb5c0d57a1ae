"""DDP trials on a reused group of rank processes: real gloo ranks on CPU."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from lightning_nas.results import TrialStatus
from lightning_nas.search import rank_failures, ranks
from lightning_nas.search.runner import FRESH_RANKS
from lightning_nas.search.trial import TrialSpec
from tests.helpers_ctrl_c import ctrl_c_launched_when_held, hold_at_torch
from tests.helpers_ddp_trials import DDP, ddp_trial, descendants
from tests.helpers_fresh_ranks import (  # noqa: F401 - fresh_exit_search: a fixture
    PIDS,
    alive,
    fresh_exit_search,
    gone,
)
from tests.launcher import Launcher


@pytest.fixture(scope="module")
def group_trials(shared_run) -> dict:
    """Six trials on this process's groups of two ranks, once per session (conftest's
    ``shared_run``): widths 8 and 32, then rank 1 raising in the third of three epochs,
    then rank 1 exiting (``os._exit(3)``), then both ranks sent SIGTERM before their first
    step, where Lightning's handler meets it (``tests.helpers.SigtermInTrainData``), then
    one more (``tests.helpers.LeavesExitWork``: its ranks note how they exit, and leave a
    thread pool open and a C-level exit handler that aborts them); the groups closed at
    the end. For each trial its status, error, ``epochs``, ``curve`` and
    ``curve_epochs``, ``trial.log`` and ranks' pids (by trial id); the pids of any rank
    still alive after the close (``alive``); and the exit codes of the last group's ranks,
    closed (``closed``)."""
    def make(folder: Path) -> dict:
        grace, ranks._GRACE_S = ranks._GRACE_S, 0.5  # rank 0 waits in a collective meanwhile
        trials = [{"width": 8}, {"width": 32},
                  {"width": 8, "fault": "raise", "at_epoch": 2, "trainer": {"max_epochs": 3}},
                  {"width": 8, "fault": "exit"},
                  {"width": 8, "data": "tests.helpers.SigtermInTrainData",
                   "trainer": {"num_sanity_val_steps": 0}},
                  {"width": 8, "model": "tests.helpers.LeavesExitWork"}]
        runs, procs = {}, []
        try:
            for trial_id, arch in enumerate(trials, start=1):
                result, log, pids = ddp_trial(folder, trial_id, **arch)
                runs[trial_id] = {"status": result.status.value, "error": result.error,
                                  "epochs": result.epochs, "curve": result.curve,
                                  "curve_epochs": result.curve_epochs,
                                  "log": log, "pids": pids}
            procs = list(ranks._local.group.procs)
        finally:
            ranks._GRACE_S = grace
            ranks.close_rank_groups()  # the ranks' stdin ends: they leave their loop and exit
        every = [pid for run in runs.values() for pid in run["pids"].values()]
        gone(every)
        return {"runs": runs, "alive": [pid for pid in every if alive(pid)],
                "closed": [proc.returncode for proc in procs]}

    folder, made = shared_run("group_trials", make)
    return {"folder": folder, "alive": made["alive"], "closed": made["closed"],
            "runs": {int(i): {**run, "status": TrialStatus(run["status"]),
                              "pids": {int(r): p for r, p in run["pids"].items()}}
                     for i, run in made["runs"].items()}}


@pytest.mark.slow
def test_trials_reuse_the_ranks_and_each_rank_prints_into_its_trial_log(group_trials):
    first, second = group_trials["runs"][1], group_trials["runs"][2]
    pids1, pids2, folder = first["pids"], second["pids"], group_trials["folder"]
    assert first["status"] is second["status"] is TrialStatus.COMPLETED
    assert sorted(pids1) == [0, 1] and pids1[0] != pids1[1] != os.getpid()
    assert pids2 == pids1  # the same two processes trained both trials
    assert str(folder / "t2") not in first["log"] and str(folder / "t1") not in second["log"]
    assert not set(pids1.values()) & set(group_trials["alive"])  # no rank left behind


@pytest.mark.slow
def test_a_rank_that_fails_or_dies_ends_its_group_and_the_next_trial_gets_fresh_ranks(
        group_trials):
    # the trials after the two of the test above: rank 1 raising (on their group), rank 1
    # exiting, then (after the SIGTERM trial) a plain one
    raised, died, after = (group_trials["runs"][i] for i in (3, 4, 6))
    assert raised["status"] is died["status"] is TrialStatus.FAILED
    # the first line (what a user reads, and what the loop compares across trials) names
    # the rank and its exception, and no path of the trial (was: "rank 1 failed the trial
    # before reporting a result; end of /.../t1/trial.log:")
    assert raised["error"].splitlines()[0] == ("rank 1 failed the trial: RuntimeError: rank 1 "
                                               "breaks on purpose")
    assert "rank 1 breaks on purpose" in raised["log"]  # the failing rank's error, in its log
    assert "rank 1 breaks on purpose" in raised["error"]  # whose end the result quotes
    assert died["error"].startswith("rank 1 died (exit code 3)")
    assert after["status"] is TrialStatus.COMPLETED
    groups = [set(run["pids"].values()) for run in (raised, died, after)]
    assert all(len(g) == 2 for g in groups)
    assert not groups[0] & groups[1] and not groups[1] & groups[2]  # fresh ranks each time
    assert not set().union(*groups) & set(group_trials["alive"])


@pytest.mark.slow
def test_a_trial_a_rank_failed_after_two_epochs_keeps_its_epochs_and_their_curve(
        group_trials):
    # rank 1 raised in the third epoch; rank 0, waiting in a collective, was killed before
    # it wrote its result: the record says what a trial of one process that fails so says,
    # the two epochs trained and their validations (was: epochs None, no curve)
    raised = group_trials["runs"][3]
    assert raised["error"].startswith("rank 1 failed the trial: RuntimeError: rank 1 breaks")
    assert raised["epochs"] == 2
    assert raised["curve_epochs"] == [1, 2] and len(raised["curve"]) == 2


@pytest.mark.slow
def test_ranks_that_end_their_fit_through_lightnings_sigterm_handler_die_of_sigterm(
        group_trials):
    # a SIGTERM before the ranks' first step meets Lightning's handler (``rank_sigterm``):
    # their fit ends with its SIGTERMException, a SystemExit without a code; the ranks now
    # die of the signal, as the workers do (was: "rank 0 died (exit code 0)")
    termed, after = group_trials["runs"][5], group_trials["runs"][6]
    assert termed["status"] is TrialStatus.FAILED
    assert termed["error"].splitlines()[0] == "rank 0 died (killed by SIGTERM)"
    assert after["status"] is TrialStatus.COMPLETED


@pytest.mark.slow
def test_a_rank_sent_sigterm_alone_dies_of_it_and_the_next_trial_runs(tmp_path):
    # Lightning's SIGTERM handler broadcasts from rank 0 inside the handler of the rank that
    # got the signal; rank 0 never joins it (was: the trial, and the search, hung for ever)
    def hung(signum, frame):
        raise TimeoutError("the trial of a rank sent SIGTERM hung")

    previous, grace = signal.signal(signal.SIGALRM, hung), ranks._GRACE_S
    ranks._GRACE_S = 0.5
    signal.alarm(60)
    try:
        termed, _, pids = ddp_trial(tmp_path, 1, width=8, fault="sigterm")
        after, _, _ = ddp_trial(tmp_path, 2, width=8)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        ranks._GRACE_S = grace
        ranks.close_rank_groups()
    assert termed.status is TrialStatus.FAILED
    assert termed.error.splitlines()[0] == "rank 1 died (killed by SIGTERM)"
    assert after.status is TrialStatus.COMPLETED
    assert gone(pids.values())  # no rank left behind


@pytest.mark.slow
def test_a_groups_port_is_held_for_its_ranks_until_they_meet_on_it(tmp_path, monkeypatch):
    """The port a group's ranks meet on (``MASTER_PORT``) is held by this process from the
    moment it is chosen: another process (another search, another xdist worker's DDP test,
    another trial of a parallel search) that binds it before rank 0 does cannot have it,
    and the trial trains."""
    from lightning_nas.search.rank_zygote import zygote_for

    ports: list[int] = []

    class Noting:  # the real zygote (or none: the ranks start cold); notes each rank's port
        def __init__(self, env: dict[str, str]) -> None:
            self.zygote = zygote_for(env)

        def start(self, env: dict[str, str], log):
            ports.append(int(env["MASTER_PORT"]))
            return self.zygote and self.zygote.start(env, log)

    monkeypatch.setattr(ranks, "_GRACE_S", 0.5)  # rank 1 of a failed trial waits meanwhile
    group = ranks.RankGroup(2, ranks.group_key(DDP, 2), Noting)
    taker = socket.socket()
    try:
        with open(tmp_path / "start.log", "wb") as log:
            group.start(log)
        ranks._local.group = group  # the group this thread's next DDP trial runs on
        assert len(ports) == 2 and ports[0] == ports[1]
        try:  # another process binds the port before rank 0 does
            taker.bind(("127.0.0.1", ports[0]))
            taker.listen()
            taken = True
        except OSError:
            taken = False
        result, _, pids = ddp_trial(tmp_path, 1, width=8)
    finally:
        taker.close()
        ranks._local.group = None
        group.close(kill=True)
    # was: FAILED, "rank 0 failed the trial: DistNetworkError: The server socket has failed
    # to listen on any local network address. port: 49261, ... EADDRINUSE" (a budget slot lost)
    assert result.error is None
    assert result.status is TrialStatus.COMPLETED and sorted(pids) == [0, 1]
    assert not taken


def test_the_rank_named_for_a_failure_does_not_depend_on_the_order_of_answers():
    peer = "RuntimeError: [pair.cc:534] Connection closed by peer [127.0.0.1]:41234"
    own = {0: "ValueError: rank 0 own", 1: "RuntimeError: rank 1 own"}
    for order in ((0, 1), (1, 0)):  # was: the first rank to answer
        assert rank_failures.blame({}, {r: own[r] for r in order}) == (
            "rank 0 failed the trial: ValueError: rank 0 own")
        assert rank_failures.blame({}, {r: (peer if r == 0 else own[r]) for r in order}) == (
            "rank 1 failed the trial: RuntimeError: rank 1 own")  # rank 0 failed because of it
        assert rank_failures.blame({r: "exit code 3" for r in order}, own) == (
            "rank 0 died (exit code 3)")
    assert rank_failures.blame({}, {1: peer, 0: peer}) == f"rank 0 failed the trial: {peer}"
    assert rank_failures.blame({}, {}) is None


def test_rank_0s_own_failure_is_said_once_and_another_ranks_with_rank_0s_echo(tmp_path):
    # was: "rank 0 failed the trial: X" then "rank 0: X" again, where every rank failed alike
    import json

    from lightning_nas.results import TrialResult
    from lightning_nas.search.runner import _collect

    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path), model="m.Net")
    nan = "monitored 'val_acc' is nan at epoch 0"
    (tmp_path / "result.json").write_text(json.dumps(TrialResult(
        trial_id=1, arch={"width": 8}, status=TrialStatus.FAILED,
        error=f"{nan}\nTraceback ...").to_dict()))
    said = _collect(spec, 0.0, f"rank 0 failed the trial: {nan}", True)
    assert said.status is TrialStatus.FAILED
    assert said.error == f"rank 0 failed the trial: {nan}\nTraceback ..."
    other = _collect(spec, 0.0, "rank 1 failed the trial: ValueError: x", True)
    assert other.error == f"rank 1 failed the trial: ValueError: x\nrank 0: {nan}\nTraceback ..."


def test_an_error_whose_message_starts_on_a_new_line_shows_that_line():
    # was: "rank 0 failed the trial: ProcessRaisedException:", empty after the colon
    error = ("ProcessRaisedException: \n\n-- Process 0 terminated with the following error:\n"
             "Traceback (most recent call last):\n  ...\nRuntimeError: EADDRINUSE\n")
    assert rank_failures.blame({}, {0: rank_failures.first_line(error)}) == (
        "rank 0 failed the trial: ProcessRaisedException: -- Process 0 terminated with the "
        "following error:")
    assert rank_failures.first_line("\n\nRuntimeError: boom\nTraceback") == "RuntimeError: boom"
    assert rank_failures.first_line("RuntimeError: a: b\nTraceback") == "RuntimeError: a: b"


def test_a_batch_setting_error_of_a_ddp_rank_keeps_its_advice():
    # was: cut at 300 characters, "...(a validation every 5000 batches, across epo..." for
    # a val_check_interval of 5000 on 2 DDP ranks: a line's tail is its advice
    from lightning_nas.search.batch_settings import too_few

    for line in (f"BatchSettingError: {too_few(5000, 3125, 0.25, 12500, 2)}",
                 f"BatchSettingError: {too_few(1000000, 99999, 1 / 3, 1234567, 16)}"):
        assert len(line) > 300
        assert rank_failures.first_line(f"{line}\nTraceback ...") == line
    # a longer line (a message of the user's) is cut in its middle: its start and its end
    long = "ValueError: " + "x" * 1000 + " give at most 3 (the advice)"
    said = rank_failures.first_line(long)
    assert len(said) <= 600 and said.startswith("ValueError: xxx"), said
    assert " ... " in said and said.endswith(" give at most 3 (the advice)"), said


@pytest.fixture(scope="module")
def fresh_trial(shared_run) -> dict:
    """One trial of ``tests.helpers.NotesAtExit`` (its ranks note how they exit) on fresh
    processes (``LIGHTNING_NAS_FRESH_RANKS=1``), once per session (conftest's
    ``shared_run``), while the port Lightning's launcher would pick for it
    (``STANDALONE_PORT``) is another listener's: its folder, status, error, ranks' pids,
    whether a group of ranks was kept after it (``kept``) and whether its ranks were gone
    after it (``gone``)."""
    def make(folder: Path) -> dict:
        before = {name: os.environ.get(name) for name in (FRESH_RANKS, "STANDALONE_PORT")}
        taken = socket.create_server(("127.0.0.1", 0))  # another process's listener
        os.environ[FRESH_RANKS] = "1"  # and the port Lightning's launcher would pick:
        os.environ["STANDALONE_PORT"] = str(taken.getsockname()[1])  # its own (a race lost)
        try:
            result, _, pids = ddp_trial(folder, 1, model="tests.helpers.NotesAtExit", width=8)
            kept = bool(ranks._groups)
        finally:
            taken.close()
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return {"status": result.status.value, "error": result.error, "pids": pids,
                "kept": kept, "gone": gone(pids.values())}

    folder, made = shared_run("fresh_trial", make)
    return {**made, "folder": folder, "status": TrialStatus(made["status"]),
            "pids": {int(r): p for r, p in made["pids"].items()}}


@pytest.mark.slow
def test_fresh_ranks_setting_trains_on_processes_started_by_lightnings_launcher(fresh_trial):
    # the port Lightning's launcher would pick was another listener's: the trial's ranks met
    # on a port this process held for them (was: FAILED, "rank 0 failed the trial:
    # DistNetworkError: The server socket has failed to listen ... EADDRINUSE")
    assert fresh_trial["error"] is None
    assert fresh_trial["status"] is TrialStatus.COMPLETED and sorted(fresh_trial["pids"]) == [0, 1]
    assert not fresh_trial["kept"]  # no group kept: both processes were this trial's own
    assert fresh_trial["gone"]  # rank 1 was the launcher's child: killed with its group


@pytest.mark.slow
def test_with_fresh_ranks_a_rank_that_dies_names_the_trials_error_as_a_group_does(request):
    # was: a dying rank wrote no rank<R>.error, so the trial stored rank 0's symptom
    # ("RuntimeError: [.../pair.cc:537] Read error [127.0.0.1]:11946: ...", another port in
    # every trial: two such trials never stopped the search). The first trial of a search
    # on fresh ranks, made once for this and test_distributed's test of what it says
    trial = request.getfixturevalue("fresh_exit_search")
    assert TrialStatus(trial["status"]) is TrialStatus.FAILED and sorted(trial["pids"]) == [0, 1]
    assert trial["error"].splitlines()[0] == "rank 1 died (exit code 3)"  # as on a group
    assert trial["died"] == "exit code 3"  # its rank1.died
    assert trial["gone"]


def _fresh_training_trial(tmp_path: Path, launcher: Launcher) -> tuple[int, list[str]]:
    """A search process running a DDP trial of a minute on fresh ranks, once both its ranks
    train: its pid (forked by ``launcher``: the imports paid once, not by a fresh
    ``python -c``) and its ranks' pids. (A group's ranks killed with their search:
    ``test_rank_zygote``'s ``test_forked_ranks_and_their_zygote_die_with_the_search``.)"""
    script = tmp_path / "driver.py"
    script.write_text(f"import os; from pathlib import Path\n"
                      f"from tests.helpers_ddp_trials import ddp_trial\n"
                      f"os.environ[{FRESH_RANKS!r}] = '1'\n"
                      f"ddp_trial(Path({str(tmp_path)!r}), 1, width=8, sleep=30.0)\n")
    driver = launcher.launch([], tmp_path / "driver.log", script)
    log = tmp_path / "t1" / "trial.log"
    deadline = time.time() + 120
    while time.time() < deadline:
        assert launcher.exited() is None, (tmp_path / "driver.log").read_text()
        text = log.read_text() if log.exists() else ""
        pids = [pid for _, pid in re.findall(PIDS, text)]
        if len(pids) == 2:
            break
        time.sleep(0.2)
    assert len(pids) == 2, "both ranks must start training"
    return driver, pids


@pytest.mark.slow
def test_with_fresh_ranks_the_trials_processes_die_with_the_search(tmp_path, launcher):
    """``kill -9`` of the search mid-trial leaves neither the trial's own process nor a rank
    that Lightning's launcher started from it training on."""
    # was: the trial's process (its own session) and its ranks trained on and wrote into the
    # run folder after the search was gone
    driver, pids = _fresh_training_trial(tmp_path, launcher)
    started = descendants(driver)
    assert {int(pid) for pid in pids} <= started
    assert launcher.kill() == -signal.SIGKILL
    assert gone(started)
    assert not (tmp_path / "t1" / "result.json").exists()


#: ``python -m lightning_nas ARGV``, as a script the launcher runs
COMMAND = """
import sys
from lightning_nas.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("fresh_ranks", [False, True], ids=["group", "fresh"])
def test_ctrl_c_while_the_ranks_start_ends_the_search_as_in_one_process(
        tmp_path, launcher, monkeypatch, capsys, fresh_ranks):
    """A terminal's Ctrl-C (SIGINT to the search's process group) while a DDP trial's ranks
    still start: the zygote a group's ranks are forked from still imports torch, or with
    fresh ranks the rank Lightning's launcher started from the trial's process (which waits
    for it in the process group) does. The zygote and the ranks run in a session of their
    own, so it reaches the search process alone (none prints a traceback of its imports):
    exit 130 with its two lines, no rank or zygote left running, and a resume trains the
    same trial. The search process is forked by the launcher (its imports paid; was: a
    fresh ``python``): it has started no zygote, and the processes held are its children.
    The resume runs in this process (a group's ranks forked from its zygote, warm where an
    earlier test started it; was: a launch, whose own zygote imported torch and Lightning)."""
    import yaml

    from lightning_nas.cli import main
    from lightning_nas.store import RunStore

    hold, run_dir, cfg = tmp_path / "hold", tmp_path / "run", tmp_path / "search.yaml"
    # a group's ranks are forked from a zygote once it imported torch: the zygote is held
    # (was: the two ranks, each importing torch, before the zygote forked the first group)
    held = ("os.environ.get('LOCAL_RANK') == '1'" if fresh_ranks
            else "'lightning_nas.search.rank_zygote' in sys.orig_argv")
    hold_at_torch(hold, held, note_sigint=True)
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
        "trainer": {**DDP, "logger": False, "enable_progress_bar": False,
                    "enable_model_summary": False},
        "search": {"space": {"width": {"choice": [4, 8, 16]}}, "optimizer": "RandomSearch",
                   "budget": 1, "progress": False, "run_dir": str(run_dir)}}))
    argv = ["search", str(cfg)]  # ``python -m lightning_nas search CFG``, as a script in
    command = hold / "lightning_nas_command.py"  # hold: first on the search's sys.path, so
    command.write_text(COMMAND)  # first on the PYTHONPATH of the zygote or trial it starts
    fresh = "1" if fresh_ranks else "0"
    code, out = ctrl_c_launched_when_held(launcher, argv, tmp_path, {
        "OMP_NUM_THREADS": "1", FRESH_RANKS: fresh}, hold, 1, script=command)
    assert code == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert out.splitlines()[-2:] == [
        "Interrupted: 0 completed, 1 running (re-run on resume); run the same command again "
        "to resume.", "lightning-nas search: interrupted"], out
    assert gone([path.suffix[1:] for path in hold.glob("importing.*")])
    assert not list(hold.glob("sigint.*"))  # the Ctrl-C reached no rank
    # the same command again, in this process: its environment and folder as they are (a
    # zygote serves ranks of its environment and folder alone: another would be started)
    if fresh_ranks != (os.environ.get(FRESH_RANKS) == "1"):
        monkeypatch.setenv(FRESH_RANKS, fresh)
    assert main(argv) == 0, capsys.readouterr()
    with RunStore(run_dir / "search.db") as store:  # the same trial, run again (budget 1:
        # no second trial to train, was two fresh processes more)
        assert [(t.trial_id, t.status) for t in store.trials()] == [(1, TrialStatus.COMPLETED)]


#: a sitecustomize for the process that starts a group of ranks (not a rank: no ``RANK``):
#: about to start rank 1 (the audit event ``subprocess.Popen``, raised before the process is
#: forked) it writes ``starting_rank_1`` into ``{folder}`` and waits there, as a slow start
#: would; a Ctrl-C meanwhile raises its ``KeyboardInterrupt`` out of ``Popen``
_HOLD_BEFORE_RANK_1 = """
import os, sys, time
if "RANK" not in os.environ:
    def _hold(event, args):
        if event == "subprocess.Popen" and (args[3] or {{}}).get("RANK") == "1":
            open(os.path.join({folder!r}, "starting_rank_1"), "w").close()
            time.sleep(120)
    sys.addaudithook(_hold)
"""

#: a notebook's kernel, as far as a group is concerned: it starts a group, survives the
#: Ctrl-C, keeps the group, and lives on until its stdin ends
_NOTEBOOK = """
import os, sys
from lightning_nas.search.ranks import RankGroup
group = RankGroup(2)
try:
    group.start(open(os.devnull, "wb"))
except KeyboardInterrupt:
    print("interrupted; tracked:", [proc.pid for proc in group.procs], flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
def test_ctrl_c_between_two_rank_starts_leaves_no_started_rank_running(tmp_path):
    """A Ctrl-C in ``RankGroup.start`` after rank 0 started and before rank 1 did (from a
    notebook, whose kernel lives on): the rank already started is stopped, not left waiting
    for trials nobody sends."""
    import subprocess
    import sys

    from tests.launcher import ROOT, default_sigint, pythonpath

    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "sitecustomize.py").write_text(_HOLD_BEFORE_RANK_1.format(folder=str(hold)))
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": pythonpath(hold, ROOT)}
    kernel = subprocess.Popen([sys.executable, "-c", _NOTEBOOK], cwd=tmp_path, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              preexec_fn=default_sigint)
    try:
        deadline = time.time() + 120
        while not (hold / "starting_rank_1").exists():
            assert kernel.poll() is None and time.time() < deadline, kernel.communicate()
            time.sleep(0.05)
        started = descendants(kernel.pid)
        assert len(started) == 1  # rank 0, started; rank 1 not yet
        kernel.send_signal(signal.SIGINT)
        said = kernel.stdout.readline()  # once the kernel got its KeyboardInterrupt
        # was: rank 0 ran on, waiting for a trial (its stdin still open), yet still listed
        # in the group's procs while ``start`` had failed
        assert gone(started)
        assert said == "interrupted; tracked: []\n"
        assert kernel.poll() is None  # the kernel itself lives on
    finally:
        left = descendants(kernel.pid)  # a rank the test failed for: killed, not left
        kernel.kill()
        kernel.communicate()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.slow
@pytest.mark.parametrize("fresh_ranks", [False, True], ids=["group", "fresh"])
def test_ranks_destroy_their_process_group_before_they_exit(request, fresh_ranks):
    """A group's ranks keep Lightning's gloo process group from trial to trial, and exit
    once the search closes the group; fresh ranks exit after their trial. Either way the
    group is destroyed by an ``atexit`` hook (``lightning_nas.group_exit``), not left to
    interpreter finalization, where a gloo worker thread dropping the last reference to a
    collective may abort the process ("terminate called without an active exception",
    pytorch/pytorch#190489; a fresh rank 1 that aborts fails its trial: ``rank 1 died``).
    And a fresh rank exits with its heap frozen (``lightning_nas.search.exit_gc``): no sweep
    of torch's and Lightning's objects at exit (was: seconds per rank); a group's rank ends
    without the teardown at all (the test below)."""
    if fresh_ranks:  # the trial of fresh processes, and its folder
        trial, folder = request.getfixturevalue("fresh_trial"), "t1"
        assert trial["status"] is TrialStatus.COMPLETED
    else:  # the last trial of a group (its ranks were new), once its group was closed
        trial, folder = request.getfixturevalue("group_trials"), "t6"
        assert trial["runs"][6]["status"] is TrialStatus.COMPLETED
        assert trial["closed"] == [0, 0]
    # was: "True" (the group left to finalization). A fresh rank 1 that exits after rank 0
    # may be killed with it (the trial's processes end with rank 0) before it notes anything
    for note in ("group_at_exit", "frozen_at_exit") if fresh_ranks else ("group_at_exit",):
        noted = {rank: (trial["folder"] / folder / f"{note}.rank{rank}") for rank in (0, 1)}
        noted = {rank: path.read_text() for rank, path in noted.items()
                 if path.exists() or not fresh_ranks}
        want = "False" if note == "group_at_exit" else "True"  # was: "False", not frozen
        assert noted.get(0) == want and set(noted.values()) == {want}, (note, noted)


@pytest.mark.slow
def test_a_groups_ranks_end_after_their_atexit_hooks_without_the_interpreters_teardown(
        group_trials):
    """A closed group's ranks run what Python's exit runs in Python (their threads joined, a
    thread pool left open among them; every ``atexit`` hook, ``NotesAtExit``'s notes) and
    then end at once (``os._exit``): no teardown of the interpreter, nor the C-level exit
    handlers (C++ destructors: torch's operator registry; a native library's ``atexit``).
    Was: both, about 0.3 s of CPU per rank that every close waited for (most of it copying
    pages the rank shared with its zygote)."""
    trial, folder = group_trials, group_trials["folder"] / "t6"
    assert trial["runs"][6]["status"] is TrialStatus.COMPLETED
    for rank in (0, 1):
        assert (folder / f"group_at_exit.rank{rank}").read_text() == "False"  # hooks ran
    # was: [-6, -6] (SIGABRT: the C-level handler ``LeavesExitWork`` registered ran)
    assert trial["closed"] == [0, 0]
    assert not trial["alive"]


def test_rank_0s_own_failure_on_fresh_processes_is_named_as_a_group_names_it(tmp_path):
    # was: stored as rank 0's error alone, where a group's says "rank 0 failed the trial: "
    # first (a rank other than 0 that failed too, or none: the same trial, two errors)
    import json

    from lightning_nas.results import TrialResult
    from lightning_nas.search.runner import _collect

    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path), model="m.Net")
    (tmp_path / "result.json").write_text(json.dumps(TrialResult(
        trial_id=1, arch={"width": 8}, status=TrialStatus.FAILED,
        error="ValueError: boom\nTraceback ...").to_dict()))
    failure = rank_failures.fresh_failure(tmp_path)
    assert failure == "rank 0 failed the trial: ValueError: boom"
    said = _collect(spec, 0.0, failure, True)
    assert said.error == "rank 0 failed the trial: ValueError: boom\nTraceback ..."
    (tmp_path / "result.json").write_text(json.dumps(TrialResult(
        trial_id=1, arch={"width": 8}, status=TrialStatus.COMPLETED, score=1.0).to_dict()))
    assert rank_failures.fresh_failure(tmp_path) is None  # a trial that completed
