"""The header of ``best_config.yaml``: the command that trains the trial again (shell-quoted,
its run folder absolute on one line, the torch threads the trial ran with), the build order
of a LightningCLI project, and whether a paused and resumed, promoted or unseeded trial
trains again to the same score."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lightning_nas import export_best, finetune, load_best
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore
from tests.helpers_export import CONFIG


def test_export_quotes_strings_that_look_like_numbers(tmp_path):
    # a `tag: 1e-3` string came back as 0.001 and `fit` refused it ("expected str")
    run = tmp_path / "run"
    arch = {"tag": "1e-3", "name": "1E5"}
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("config", {"model": {"class_path": "m.Net"}, "search": {}})
        trial_id = store.start_trial(arch)
        store.finish_trial(TrialResult(trial_id=trial_id, arch=arch,
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    assert load_yaml((run / "best.yaml").read_text())["arch"] == arch
    config = load_yaml((run / "best_config.yaml").read_text())
    assert config["model"]["init_args"] == arch
    with RunStore(run / "search.db") as store:  # a search with threads_per_trial
        store.set_meta("settings", {"threads_per_trial": 1})
    export_best(run)  # the trials' thread count, without which fit's sums differ on CPU
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    assert "# It ran with 1 torch thread: on CPU the same count" in header
    assert f"# Train it again: OMP_NUM_THREADS=1 lightning-nas fit {run}" in header


@pytest.mark.parametrize("model", [{"class_path": "m.Net"}, {"_target_": "m.Net"}])
def test_the_header_says_an_instantiate_link_changes_the_build_order(tmp_path, model):
    # was: "(or plain LightningCLI: fit --config best_config.yaml)" only, though a CLI whose
    # link_arguments(apply_on="instantiate") builds the data first (jsonargparse builds a
    # link's source before its target) drew a random split otherwise: another score
    run = tmp_path / "run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("config", {"model": model, "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    said = ("# A trial builds the model, then the data, as plain LightningCLI does; a CLI of "
            "yours\n# with link_arguments(apply_on='instantiate') builds the data first")
    assert (said in header) is ("class_path" in model)  # a Hydra config: no LightningCLI
    assert header.splitlines()[-1] == "# lightning-nas fit: monitor=val_acc mode=max"


def test_the_header_names_the_users_own_lightningcli_script(tmp_path):
    # was: "(or plain LightningCLI: fit --config best_config.yaml)", read as `python -m
    # lightning.pytorch.cli fit ...`, which has no model and trains nothing
    run = tmp_path / "run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("config", {"model": {"class_path": "m.Net"}, "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    (line,) = [x for x in header.splitlines() if x.startswith("# Train it again:")]
    assert line.endswith(" (or your own LightningCLI script: python YOUR_CLI.py fit --config "
                         "best_config.yaml)"), line
    assert "plain LightningCLI: fit" not in header


def test_the_commands_export_prints_are_shell_quoted(tmp_path):
    # was: "# Train it again: lightning-nas fit runs/my run/best_config.yaml", which a shell
    # splits at the space; likewise `lightning-nas export RUN` and finetune --from_scratch
    import shlex

    run = tmp_path / "my run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("model", {"class_path": "tests.helpers.TinyNet"})
        store.set_meta("config", {"model": {"class_path": "tests.helpers.TinyNet"},
                                  "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    for threads in (None, 2):
        if threads:
            with RunStore(run / "search.db") as store:
                store.set_meta("settings", {"threads_per_trial": threads})
        export_best(run)
        line = next(x for x in (run / "best_config.yaml").read_text().splitlines()
                    if x.startswith("# Train it again: "))
        command = line.removeprefix("# Train it again: ").split(" (")[0]
        env = [f"OMP_NUM_THREADS={threads}"] if threads else []
        assert shlex.split(command) == [*env, "lightning-nas", "fit",
                                        str(run / "best_config.yaml")], line
    with pytest.raises(FileNotFoundError) as err:  # no checkpoint was kept
        finetune(run)
    assert f": lightning-nas finetune {shlex.quote(str(run))} --from_scratch (" in str(err.value)
    (run / "best.yaml").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_best(run)
    assert str(err.value).endswith(f"run `lightning-nas export {shlex.quote(str(run))}`")


def test_best_config_names_its_run_folder_absolute_on_one_line(tmp_path, monkeypatch):
    # was: "# Trial 1 of {run_dir}" and the command named the folder as given: a newline in
    # its path (a folder an older version took) went on to a line of YAML: `fit` said
    # "unknown config section 'x'", or it set a "seed_everything: 7" of its own; and the
    # command of a relative run_dir trained it only from the folder the search ran in
    import subprocess

    from lightning_nas.export import output_dir

    monkeypatch.chdir(tmp_path)
    configs = {}
    for given in ("runs/my run", "runs/nl\nx", "runs/a\nseed_everything: 7", "runs/q'\r\tb"):
        run = Path(given)
        with RunStore(run / "search.db") as store:
            store.set_meta("mode", "max")
            store.set_meta("monitor", "val_acc")
            store.set_meta("settings", {"threads_per_trial": 1})
            store.set_meta("config", {"model": {"class_path": "m.Net"}, "search": {}})
            trial_id = store.start_trial({"width": 4})
            store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                           status=TrialStatus.COMPLETED, score=0.5))
        export_best(run)
        text = (run / "best_config.yaml").read_text()
        configs[given] = load_yaml(text)
        header = text.split("\nmodel:")[0].splitlines()
        assert all(line.startswith("#") for line in header), header
        shown = str(tmp_path / run) if given == "runs/my run" else repr(str(tmp_path / run))
        assert header[0] == f"# Trial 1 of {shown}: val_acc=0.5 (max) at epoch None.", given
        line = next(x for x in header if x.startswith("# Train it again: "))
        command = line.removeprefix("# Train it again: ").split(" (or your own")[0]
        words = subprocess.run(["bash", "-c", f"printf '%s\\0' {command}"], check=True,
                               capture_output=True).stdout.decode().split("\0")[:-1]
        assert words == ["OMP_NUM_THREADS=1", "lightning-nas", "fit",  # as pasted, anywhere
                         str(tmp_path / run / "best_config.yaml")], line
    assert all(config == configs["runs/my run"] for config in configs.values()), configs
    with pytest.raises(ConfigError, match=r"`out_dir` \(--out\) must be a folder path of "
                                          r"printable characters .* got 'ft\\nx'"):
        output_dir("ft\nx", Path("default"))  # a fit's or a fine-tune's
    assert not Path("ft\nx").exists()


@pytest.mark.slow
def test_best_config_names_the_threads_of_trials_that_shared_the_cores(two_worker_search):
    # was: only a set threads_per_trial was named; two workers on 2 cores (1 thread each)
    # or Ray (num_cpus) wrote no note, and `lightning-nas fit` (2 threads) scored otherwise
    import os

    # conftest: a config search on two worker processes, no threads_per_trial
    threads = max(1, (os.cpu_count() or 1) // 2)
    header = (two_worker_search / "best_config.yaml").read_text().split("\nmodel:")[0]
    assert f"# It ran with {threads} torch thread" in header
    assert f"# Train it again: OMP_NUM_THREADS={threads} lightning-nas fit" in header


def test_best_config_names_the_threads_of_the_invocation_that_trained_the_trial(tmp_path):
    # was: one count per run (meta trial_threads), overwritten by every resume: a resume
    # with another threads_per_trial named its count for the trials of the first run too
    run = tmp_path / "run"
    for budget, threads in ((1, 2), (2, 1)):  # the resume trains trial 2 with 1 thread
        search_from_config({**CONFIG, "trainer": {"max_epochs": 1, "accelerator": "cpu"},
                            "search": {"space": {"model.width": {"choice": [8, 16]}},
                                       "budget": budget, "threads_per_trial": threads,
                                       "verbose": False, "run_dir": str(run)}}).run()
    for trial, threads in ((1, 2), (2, 1)):
        export_best(run, trial_id=trial)
        header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
        assert f"# It ran with {threads} torch thread" in header
        assert f"# Train it again: OMP_NUM_THREADS={threads} lightning-nas fit" in header
    with RunStore(run / "search.db") as store:  # as an older version left it: one count
        assert [store.fits(1), store.fits(2)] == [[2], [1]]
        store.set_meta("trial_threads", 3)
    _forget_fits(run)
    export_best(run, trial_id=1)
    assert "OMP_NUM_THREADS=3 lightning-nas fit" in (run / "best_config.yaml").read_text()


def _forget_fits(run) -> None:
    """Leave ``run`` as a version older than the record of each fit left it."""
    with sqlite3.connect(run / "search.db") as db:
        db.execute("DELETE FROM fits")


def test_the_header_of_a_paused_and_resumed_winner_says_whether_it_is_a_replay(tmp_path):
    # was: "trained in one go it scores close to this" (a tester saw 0.557 against 0.676);
    # then "another run, not a replay" also where the checkpoint kept the random state, so
    # that a fit trains the same epochs (a tester saw it do so, to the last digit)
    from lightning_nas.export_header import config_header

    best = TrialResult(trial_id=3, arch={}, status=TrialStatus.COMPLETED, score=0.9, epoch=2)
    assert "paused and resumed" not in config_header(tmp_path, best, "val_acc", "max")
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed=True)
    assert "kept no random state" in header and "another run, not a replay" in header
    assert "close" not in header and "# It ran with 1 torch thread.\n" in header
    assert "OMP_NUM_THREADS=1 lightning-nas fit" in header
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed="replayed")
    assert "which kept its random state: trained in one go it trains the same epochs" in header
    assert "not a replay" not in header
    assert "# It ran with 1 torch thread: on CPU the same count gives the same score.\n" in header
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed="gone")
    assert "which is gone: a search of this version keeps the random state there" in header
    header = config_header(tmp_path, best, "val_acc", "max", fits=[2, 1], resumed=True)
    assert "# Its fits ran with 2 then 1 torch threads (the first, then each resume" in header
    assert "OMP_NUM_THREADS=1 lightning-nas fit" in header  # its latest fit's
    assert header.splitlines()[-1] == "# lightning-nas fit: monitor=val_acc mode=max"


def test_the_header_of_an_unseeded_search_promises_no_replay(tmp_path):
    # was: "It ran with 1 torch thread: on CPU the same count gives the same score." and
    # the command, though seed_everything: false seeded nothing (a fit gave 0.1, not 0.182)
    from lightning_nas.export_header import config_header

    run = tmp_path / "run"
    search = {"space": CONFIG["search"]["space"], "budget": 1, "threads_per_trial": 1,
              "verbose": False, "run_dir": str(run)}
    search_from_config({**CONFIG, "seed_everything": False, "search": search,
                        "trainer": {**CONFIG["trainer"], "max_epochs": 1}}).run()
    text = (run / "best_config.yaml").read_text()
    header = text.split("\nseed_everything:")[0]
    assert load_yaml(text)["seed_everything"] is False
    assert "# It ran with 1 torch thread.\n" in header and "same score" not in header
    assert ("# The search was unseeded (seed_everything: false): trained again it is another "
            "run,\n# with other random numbers, and its score will differ") in header
    assert "A trial builds the model, then the data" not in header  # no order to keep
    assert "paused and resumed" not in header
    assert f"# Train it again: OMP_NUM_THREADS=1 lightning-nas fit {run}" in header
    assert header.splitlines()[-1] == "# lightning-nas fit: monitor=val_acc mode=max"
    best = TrialResult(trial_id=3, arch={}, status=TrialStatus.COMPLETED, score=0.9, epoch=2)
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed="replayed",
                           seeded=False)  # its checkpoint's random state replays no fit
    assert "same" not in header and "unseeded" in header and "paused" not in header


def test_a_promoted_trial_is_named_as_such_whatever_logger_the_search_has(tmp_path):
    # was: decided by trials/trial_N/logs_resumed_*, which only the default logger writes:
    # with a logger of the search's own, best_config.yaml of a promoted trial said nothing
    run = tmp_path / "run"
    search = {**CONFIG["search"], "budget": 6, "threads_per_trial": 1, "verbose": False,
              "space": {**CONFIG["search"]["space"], "lr": {"float": [0.001, 0.3], "log": True}},
              "run_dir": str(run)}
    search_from_config({**CONFIG, "search": search, "trainer": {
        **CONFIG["trainer"], "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger"}}
                        }).run()
    # the logger's own record of the promotions: a version per resumed fit
    promoted = {int(p.name[6:10]) for p in (run / "logs" / "trials").glob("trial_*_resumed_*")}
    with RunStore(run / "search.db") as store:
        done = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)]
    assert promoted and promoted < set(done)
    for trial in done:
        export_best(run, trial_id=trial)
        header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
        assert ("# It was paused and resumed from its checkpoint, which kept its random "
                "state" in header) == (trial in promoted), header
    _forget_fits(run)  # as an older version left it: its logs
    plain = min(set(done) - promoted)
    (run / "trials" / f"trial_{plain:04d}" / "logs_resumed_1").mkdir(parents=True)
    export_best(run, trial_id=plain)
    assert "It was paused and resumed" in (run / "best_config.yaml").read_text()
