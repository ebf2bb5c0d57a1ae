"""The seed of a config without an integer ``seed_everything``, checked against a real
``lightning.pytorch.cli.LightningCLI(run=False, args=[...])``: LightningCLI 2.6 calls
``seed_everything(None)`` for ``true`` (its default, no key) and for a file's ``null``, which
takes ``PL_GLOBAL_SEED`` from the environment, else 0; a search, a fit and a one-shot run
take it where LightningCLI does, and a resume keeps the seed its run stored."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightning.pytorch.cli import LightningCLI

from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.fit import fit_spec
from lightning_nas.oneshot.run_checks import checked_settings
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore
from tests.helpers_config import config

#: the seed the tests put in the environment, as a user's ``PL_GLOBAL_SEED=11 lightning-nas ...``
ENV_SEED = 11


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _cli_seed(tmp_path: Path, cfg: dict[str, Any]) -> Any:
    """The seed plain LightningCLI seeds with for ``cfg``'s model, data and Trainer."""
    part = {key: value for key, value in cfg.items() if key != "search"}
    cli = LightningCLI(run=False, save_config_callback=None,
                       args=["--config", str(_write(tmp_path / "cli.yaml", part))])
    return cli.config["seed_everything"]


def _cfg(tmp_path: Path, seed: Any) -> dict[str, Any]:
    """``config`` with ``seed_everything: seed`` (``...``: no key)."""
    cfg = config(tmp_path / "run")
    del cfg["seed_everything"]
    return cfg if seed is ... else {**cfg, "seed_everything": seed}


@pytest.mark.parametrize("seed", [..., None, True], ids=["no key", "null", "true"])
def test_the_environments_seed_is_taken_where_lightningcli_takes_it(seed, tmp_path,
                                                                    monkeypatch):
    # was: 0 for no key and null, a drawn seed for true, PL_GLOBAL_SEED ignored
    monkeypatch.setenv("PL_GLOBAL_SEED", str(ENV_SEED))
    cfg = _cfg(tmp_path, seed)
    assert _cli_seed(tmp_path, cfg) == ENV_SEED
    monkeypatch.setenv("PL_GLOBAL_SEED", str(ENV_SEED))  # (as before LightningCLI's)
    search = search_from_config(load_config(_write(tmp_path / "search.yaml", cfg)))
    assert search.settings.goal.seed == ENV_SEED
    assert fit_spec(cfg, out_dir=tmp_path / "fit").seed == ENV_SEED
    oneshot = {key: value for key, value in cfg.items() if key != "search"}
    assert checked_settings(oneshot)[1]["seed"] == ENV_SEED


def test_without_the_environments_seed_null_and_no_key_seed_0_and_true_draws(
        tmp_path, monkeypatch):
    # LightningCLI seeds true with 0 too; ours draws one, as its help says ("Set to True
    # to use a random seed") and lightning-nas has documented
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    for seed in (..., None):
        assert _cli_seed(tmp_path, _cfg(tmp_path, seed)) == 0
        assert search_from_config(_cfg(tmp_path, seed)).settings.goal.seed == 0
    monkeypatch.delenv("PL_GLOBAL_SEED")  # (LightningCLI's seed_everything set it)
    drawn = {search_from_config(_cfg(tmp_path, True)).settings.goal.seed for _ in range(3)}
    assert len(drawn) > 1


@pytest.mark.parametrize("seed", [..., None, True], ids=["no key", "null", "true"])
def test_a_resume_keeps_its_runs_seed_whatever_the_environment_says(seed, tmp_path,
                                                                    monkeypatch):
    # the stored seed is the one the trials ran with (a run made with PL_GLOBAL_SEED=11,
    # resumed without it or with another); was: refused for no key and null,
    # "search.seed: 11, now 0" (a run seeded 11 by `search.seed` or by an older version)
    cfg = _cfg(tmp_path, seed)
    (tmp_path / "run").mkdir()
    with RunStore(tmp_path / "run" / "search.db") as store:
        store.set_meta("settings", {"seed": ENV_SEED})
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    with pytest.warns(UserWarning, match=f"resuming with seed {ENV_SEED}") if seed is not True \
            else warnings.catch_warnings():  # (true: a drawn seed, which the run's is)
        assert search_from_config(cfg).settings.goal.seed == ENV_SEED
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    with pytest.warns(UserWarning, match="PL_GLOBAL_SEED=5, which a new run would seed with"):
        assert search_from_config(cfg).settings.goal.seed == ENV_SEED


def _stored_run(tmp_path: Path, seed: int | None) -> None:
    """A run folder ``run`` whose store holds a search of seed ``seed``."""
    (tmp_path / "run").mkdir()
    with RunStore(tmp_path / "run" / "search.db") as store:
        store.set_meta("settings", {"seed": seed})


@pytest.mark.parametrize(("seed", "env", "said"), [
    (..., None, "no seed_everything, which seeds a new run with 0"),
    (..., "7", "no seed_everything, and PL_GLOBAL_SEED=7, which a new run would seed with, "
               "is not used"),
    (None, "7", "seed_everything: null, and PL_GLOBAL_SEED=7, which a new run would seed "
                "with, is not used"),
    (True, "7", "seed_everything: true, and PL_GLOBAL_SEED=7, which a new run would seed "
                "with, is not used"),
    (False, None, "seed_everything: false, which seeds nothing in a new run"),
], ids=["no key", "no key, env", "null, env", "true, env", "false"])
def test_a_resume_that_keeps_its_runs_seed_over_the_invocations_says_so(
        seed, env, said, tmp_path, monkeypatch):
    # a search started with seed_everything: 3, resumed with the key removed (or under
    # another PL_GLOBAL_SEED) takes 3, as it must, and says so (was: without a word)
    _stored_run(tmp_path, 3)
    if env is None:
        monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    else:
        monkeypatch.setenv("PL_GLOBAL_SEED", env)
    with pytest.warns(UserWarning) as caught:
        search = search_from_config(_cfg(tmp_path, seed))
    assert search.settings.goal.seed == 3
    texts = [str(w.message) for w in caught if "resuming with seed" in str(w.message)]
    assert texts == [f"{tmp_path / 'run'}: resuming with seed 3, the seed its trials ran with "
                     f"(its search.db's); this invocation gives {said}: a resume keeps its "
                     f"run's seed (to search with another, give a new run_dir)"]


@pytest.mark.parametrize(("seed", "env", "stored"), [
    (..., None, 0), (..., "3", 3), (None, "3", 3), (True, "3", 3), (True, None, 3),
    (False, None, None), (3, "7", 3),
], ids=["no key", "no key, env", "null, env", "true, env", "true", "false", "int"])
def test_a_resume_whose_invocation_gives_its_runs_seed_says_nothing(
        seed, env, stored, tmp_path, monkeypatch):
    # the invocation's seed is the run's (true without PL_GLOBAL_SEED: a drawn one, which
    # the run's is)
    _stored_run(tmp_path, stored)
    if env is None:
        monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    else:
        monkeypatch.setenv("PL_GLOBAL_SEED", env)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert search_from_config(_cfg(tmp_path, seed)).settings.goal.seed == stored


def test_a_bad_seed_everything_over_a_stored_run_is_refused_without_a_resumes_warning(
        tmp_path, monkeypatch):
    _stored_run(tmp_path, 3)
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match="`seed_everything` must be an integer, true or "
                                              "false, got 'abc'"):
            search_from_config(_cfg(tmp_path, "abc"))


def test_the_search_command_says_the_seed_its_resume_keeps(tmp_path, monkeypatch, capsys):
    # a real run of seed_everything: 3, then `lightning-nas search` with the key removed
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    cfg = _cfg(tmp_path, 3)
    cfg["search"]["budget"] = 1
    search_from_config(cfg).run()
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    path = _write(tmp_path / "search.yaml", _cfg(tmp_path, ...))
    capsys.readouterr()
    assert main(["search", str(path), "--print_config"]) == 0
    assert (f"lightning-nas search: warning: {tmp_path / 'run'}: resuming with seed 3, the "
            f"seed its trials ran with (its search.db's); this invocation gives no "
            f"seed_everything, and PL_GLOBAL_SEED=7, which a new run would seed with, is not "
            f"used: a resume keeps its run's seed (to search with another, give a new "
            f"run_dir)\n") in capsys.readouterr().err


@pytest.mark.parametrize("value", ["abc", "-1", str(2**32)])
def test_a_bad_environment_seed_is_refused_naming_the_variable(value, tmp_path,
                                                               monkeypatch):
    # LightningCLI: "Invalid seed specified via PL_GLOBAL_SEED: 'abc'" (a ValueError at
    # its start); was: taken as no seed at all (0), silently
    monkeypatch.setenv("PL_GLOBAL_SEED", value)
    with pytest.raises(ValueError):
        _cli_seed(tmp_path, _cfg(tmp_path, ...))
    monkeypatch.setenv("PL_GLOBAL_SEED", value)
    with pytest.raises(ConfigError) as info:
        search_from_config(_cfg(tmp_path, ...))
    assert (f"PL_GLOBAL_SEED={value!r} (the environment's seed, which seed_everything "
            f"true, null or no key takes, as LightningCLI): expected an integer from 0 to "
            f"4294967295") in str(info.value), info.value
    assert not (tmp_path / "run").exists()
