"""The Hydra sweeper's settings (``helpers_hydra_sweep.multirun``, in-process): unknown
keys named with the close and the valid ones, settings of ``lightning-nas search`` a sweep
does not take, the optimizer checked with the workers, the run_dir (a tilde, a folder named
by the time, empty), a space of one architecture, the model key by any name, and where a
sweep's warning points."""

from __future__ import annotations

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import ConfigError, SearchError, SpaceError  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests import helpers_hydra_sweep  # noqa: E402
from tests.helpers_ctrl_c import terminal_ctrl_c  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402


@pytest.mark.slow
def test_an_unknown_sweeper_key_is_named_with_the_close_and_the_valid_ones(tmp_path):
    # was: Hydra's "Key 'n_trials' not in 'LightningNASSweeperConf'", naming no valid key
    # (the stored settings were closed, so the sweeper's own check never ran)
    ran = []
    for folder, sweeper, overrides, key, close in (
            ("file", {"n_trials": 3}, (), "n_trials", r"'budget' \(the Optuna sweeper's "
                                                      r"n_trials\)"),
            ("line", {}, ("hydra.sweeper.budgt=3",), "budgt", "'budget'"),
            ("nevergrad", {"optim": {"budget": 5}}, (), "optim",
             r"'optimizer', 'budget', 'num_workers', 'seed', 'direction' \(the Nevergrad "
             r"sweeper's optim\)")):
        with pytest.raises(Exception, match=rf"unknown hydra.sweeper setting '{key}'; did you "
                                            rf"mean {close}\? valid keys: optimizer, budget, "):
            multirun(tmp_path / folder, lambda cfg: ran.append(1) or 1.0,
                     {"params": {"x": "choice(1, 2)"}, **sweeper}, overrides)
    # the known ones keep their types and defaults
    with pytest.raises(Exception, match="hydra.sweeper.budget=abc") as info:
        multirun(tmp_path / "typed", lambda cfg: ran.append(1) or 1.0,
                 {"params": {"x": "choice(1, 2)"}}, ("hydra.sweeper.budget=abc",))
    assert "'abc' of type 'str' could not be converted to Integer" in str(info.value.__cause__)
    assert not ran
    assert len(multirun(tmp_path / "ok", lambda cfg: 1.0, {"params": {"x": "range(0, 30)"}})) == 20


def test_a_setting_of_lightning_nas_search_says_what_a_sweep_does_instead(tmp_path):
    # was: "unknown hydra.sweeper setting 'scheduler'; valid keys: ...", no word of why
    ran = []
    with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the sweeper's
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0,
                 {"params": {"x": "choice(1, 2)"}, "scheduler": "asha", "eta": 2},
                 ("hydra.sweeper.executor=ray",))
    text = str(info.value)
    assert ("unknown hydra.sweeper settings 'eta', 'scheduler': of lightning-nas search, not "
            "of a sweep; a sweep stops no job early (the launcher owns the job processes): "
            "that needs lightning-nas search (README, 'Limits of a sweeper').") in text
    assert ("unknown hydra.sweeper setting 'executor': of lightning-nas search, not of a "
            "sweep; a sweep's jobs run on the project's Hydra launcher") in text
    assert "valid keys: optimizer, budget, " in text
    assert not ran and not (tmp_path / "run").exists()


def test_the_optimizer_is_checked_with_the_sweeps_workers(tmp_path):
    # NGOpt over floats with 2 workers runs nevergrad's MetaModel; was: checked with 1
    # worker, and (under numpy >= 2.4) failed inside nevergrad after 12 jobs
    ran = []
    params = {"x": "interval(0, 1)", "y": "interval(0, 1)"}
    try:
        multirun(tmp_path, lambda cfg: ran.append(1) or float(cfg.x),
                 {"budget": 20, "num_workers": 2, "optimizer": "NGOpt", "params": params})
    except ConfigError as err:  # this numpy: refused before any job
        assert "with budget 20 and 2 workers before any trial" in str(err) and not ran
    else:  # a numpy under which MetaModel runs: the sweep finished
        assert len(ran) == 20


def test_a_run_dir_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch):
    # was: Path("~/sweep").absolute(): the store went into ./~/sweep
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "run_dir": "~/sweep",
                                                  "params": {"x": "range(0, 9)"}})
    with RunStore(tmp_path / "home" / "sweep" / "search.db") as store:
        assert len(store.trials()) == 2
    assert not (tmp_path / "~").exists()


def test_a_sweep_in_a_folder_named_by_the_time_says_how_to_resume_it(tmp_path, capsys):
    # was: no word of it, and the same command again (the template's sweep dir holds
    # ${now:...}) started a new sweep in a new folder, the killed one never resumed
    named = str(tmp_path / "multiruns" / "${now:%Y-%m-%d_%H-%M-%S-%f}")
    sweeper = {"run_dir": None, "params": {"x": "range(0, 9)"}}
    multirun(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 1}, sweep_dir=named)
    (folder,) = (tmp_path / "multiruns").glob("2*")  # (Hydra's test runner made "${now:...")
    out = capsys.readouterr().out
    assert (f"Its folder is named by the time (hydra.sweep.dir: {named}): to resume this "
            f"sweep after a kill, run the same command with hydra.sweep.dir={folder}") in out
    # as it says: the same command with that folder resumes it
    trials = multirun(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 2},
                      sweep_dir=str(folder))
    assert len(trials) == 2 and f"Resuming {folder}: 1 completed" in capsys.readouterr().out
    # a fixed folder (or hydra.sweeper.run_dir) says nothing of it
    multirun(tmp_path / "fixed", lambda cfg: float(cfg.x), {**sweeper, "budget": 1},
             sweep_dir=str(tmp_path / "fixed" / "jobs"))
    assert "named by the time" not in capsys.readouterr().out


def test_a_stop_of_a_sweep_in_a_folder_named_by_the_time_names_its_folder(tmp_path):
    # was: "To go on, fix it and run the same command again (trials 1 and 2 run again)",
    # and the same command again swept into a new folder named by the time: nothing ran again
    named = str(tmp_path / "multiruns" / "${now:%Y-%m-%d_%H-%M-%S-%f}")
    fixed: list[bool] = []

    def task(cfg: DictConfig) -> float:
        if not fixed:
            raise FileNotFoundError("no such file: data/train.csv")
        return float(cfg.x)

    sweeper = {"run_dir": None, "budget": 3, "max_failures": 9, "params": {"x": "range(0, 9)"}}
    with pytest.raises(SearchError) as info:
        multirun(tmp_path, task, sweeper, sweep_dir=named)
    (folder,) = (tmp_path / "multiruns").glob("2*")
    assert (f". To go on, fix it and run the same command with hydra.sweep.dir={folder} "
            f"(trials 1 and 2 run again)") in str(info.value), str(info.value)
    fixed.append(True)  # as it says: both trials run again there
    trials = multirun(tmp_path, task, sweeper, sweep_dir=str(folder))
    assert [t.trial_id for t in trials[:2]] == [1, 2] and all(t.score is not None
                                                               for t in trials)


def test_a_ctrl_c_of_a_sweep_in_a_folder_named_by_the_time_names_its_folder(tmp_path, capsys):
    # was: "Interrupted: ...; run the same command again to resume.", and the same command
    # again swept into a new folder named by the time: the interrupted sweep never resumed
    named = str(tmp_path / "multiruns" / "${now:%Y-%m-%d_%H-%M-%S-%f}")
    interrupt: list[bool] = [True]

    def task(cfg: DictConfig) -> float:
        if interrupt:
            raise KeyboardInterrupt
        return float(cfg.x)

    sweeper = {"run_dir": None, "budget": 2, "params": {"x": "range(0, 9)"}}
    with terminal_ctrl_c(), pytest.raises((SystemExit, KeyboardInterrupt)) as info:
        multirun(tmp_path, task, sweeper, sweep_dir=named)
    assert info.type is SystemExit and info.value.code == 130
    (folder,) = (tmp_path / "multiruns").glob("2*")
    out = capsys.readouterr().out
    assert (f"Interrupted: 0 completed, 1 running (re-run on resume); run the same command "
            f"with hydra.sweep.dir={folder} to resume.") in out, out
    interrupt.clear()  # as it says: the same command with that folder resumes it
    trials = multirun(tmp_path, task, sweeper, sweep_dir=str(folder))
    assert [t.trial_id for t in trials] == [1, 2] and all(t.score is not None for t in trials)
    assert f"Resuming {folder}: 0 completed" in capsys.readouterr().out


def test_an_empty_run_dir_is_refused_as_lightning_nas_search_refuses_it(tmp_path):
    # was: '' silently meant the sweep dir, where `lightning-nas search` refuses it
    calls = []
    with pytest.raises(ConfigError, match=r"`hydra.sweeper.run_dir` must be a folder path, "
                                          r"got '' \(empty"):
        multirun(tmp_path, lambda cfg: calls.append(cfg.x) or 1.0,
                 {"budget": 2, "run_dir": "", "params": {"x": "choice(1, 2)"}})
    assert not calls


def test_a_hydra_sweeps_warning_points_at_the_line_that_started_hydra(tmp_path):
    # was: ".../hydra_plugins/lightning_nas_sweeper/lightning_nas_sweeper.py:37: UserWarning:
    # 'val/loss' is maximised ..." (the shim's line; Hydra's frames above it)
    with pytest.warns(UserWarning, match=r"'val/loss' is maximised") as said:
        multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}},
                 direction="maximize", optimized_metric="val/loss")
    (warning,) = [w for w in said if "'val/loss' is maximised" in str(w.message)]
    # the line of multirun's that started Hydra
    assert warning.filename == helpers_hydra_sweep.__file__, f"{warning.filename}:{warning.lineno}"


def test_a_space_of_one_architecture_is_refused_before_anything_is_stored(tmp_path):
    with pytest.raises(SpaceError, match="single architecture.*hydra.mode=RUN"):
        multirun(tmp_path, lambda cfg: 1.0, {"budget": 2, "params": {"x": "choice(1)"}})
    assert not (tmp_path / "run").exists()


def test_a_sweeps_model_key_is_read_by_any_name_a_plain_search_gives_it(tmp_path):
    # was: the sweep's way of naming keys read this search's keys too: a plain search's
    # 'depth' (the model's argument) dropped the sweep's model.depth and gave its scores
    # to depth=1, architectures that never ran
    from lightning_nas.search.warm import load_priors
    from lightning_nas.space import SearchSpace

    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.depth

    first = multirun(tmp_path, task, {"budget": 4, "params": {
        "x": "range(0, 12)", "model.depth": "choice(1, 2, 3)"}})
    ran = sorted((t.arch["model.depth"], t.arch["x"], t.score) for t in first)
    assert len({depth for depth, _, _ in ran}) > 1
    for key in ("depth", "model.depth", "model.init_args.depth"):
        space = SearchSpace.from_dict({"x": {"int": [0, 11]}, key: {"choice": [1, 2, 3]}})
        priors, report = load_priors([tmp_path / "run"], space)
        assert sorted((p.arch[key], p.arch["x"], p.score) for p in priors) == ran, key
        assert (report.sources[0].dropped, report.sources[0].filled) == ([], {})
    # in a sweep every key is a path into the job config: 'depth' is not model.depth
    space = SearchSpace.from_dict({"x": {"int": [0, 11]}, "depth": {"choice": [1, 2, 3]}})
    _, report = load_priors([tmp_path / "run"], space, hydra=True)
    assert report.sources[0].dropped == ["model.depth"]


def test_every_unknown_sweeper_key_is_named_at_once(tmp_path):
    # was: the first misspelt one alone, or another sweeper's key alone where both were
    # given (n_trials named, budgt left for the next run to refuse)
    for folder, sweeper, overrides, said in (
            ("two", {"sed": 1}, ("hydra.sweeper.budgt=3",),
             "unknown hydra.sweeper setting 'budgt'; did you mean 'budget'? unknown "
             "hydra.sweeper setting 'sed'; did you mean 'seed'? valid keys: optimizer, "),
            ("optuna", {"n_trials": 3}, ("hydra.sweeper.budgt=3",),
             "unknown hydra.sweeper setting 'n_trials'; did you mean 'budget' (the Optuna "
             "sweeper's n_trials)? unknown hydra.sweeper setting 'budgt'; did you mean "
             "'budget'? valid keys: optimizer, ")):
        with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the sweeper's
            multirun(tmp_path / folder, lambda cfg: 1.0, {"params": {"x": "choice(1, 2)"},
                                                          **sweeper}, overrides)
        assert said in str(info.value)
