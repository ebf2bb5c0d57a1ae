"""``hydra_resume.override_changes``: a resumed sweep's job overrides against its first run's,
decided by the config Hydra composes from each (Hydra's own compose API on one small config
with a config group, no job run): two command lines that compose the same config resume,
others are refused naming the key, both spellings shown."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from lightning_nas.integrations.hydra_resume import (  # noqa: E402
    override_changes,
    override_values,
    setup_differences,
)

#: (the first run's overrides, the resume's): the config group `model` (options a, c)
PAIRS = [
    # one key's overrides: the last value wins (was: `s=1 s=2` refused against `s=2`)
    (["s=1", "s=2"], ["s=2"]), (["s=1", "s=2"], ["s=2", "s=1"]), (["s=1", "~s"], ["~s"]),
    (["~s", "+s=1"], ["s=1"]), (["++s=1"], ["s=1"]), (["a=1", "a={b:1}"], ["a={b:1}"]),
    (["model=c", "model=a"], ["model=a"]),
    # a mapping and a dotted path into it: as Hydra merges them, in their order (was: two
    # keys, so refused, and `a.b=2 a={b:1}` resumed against `a={b:1} a.b=2`)
    (["a={b:1}", "a.b=2"], ["a.b=2"]), (["a={b:1}", "a.b=2"], ["a={b:2}"]),
    (["a={b:1}", "a.b=2"], ["a.b=2", "a={b:1}"]), (["a={b:{z:1}}", "a.b.z=2"], ["a.b={z:2}"]),
    (["model=c", "model.depth=3"], ["model.depth=3", "model=c"]),
]


@pytest.fixture(name="composer", scope="module")
def _composer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Compose the config with overrides (Hydra's compose API); its config loader."""
    conf: Path = tmp_path_factory.mktemp("conf")
    (conf / "model").mkdir()
    for option, depth in (("a", 1), ("c", 2)):
        (conf / "model" / f"{option}.yaml").write_text(f"name: {option}\ndepth: {depth}\n")
    (conf / "config.yaml").write_text(yaml.safe_dump({
        "defaults": [{"model": "a"}, "_self_"], "a": {"b": 0, "c": 5}, "n": None, "s": 3,
        "l": [1, 2, 3]}))
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        composed = functools.cache(lambda overrides: OmegaConf.to_container(
            compose("config", list(overrides))))  # (each command line composed once)
        yield (lambda overrides: composed(tuple(overrides)),
               GlobalHydra.instance().config_loader())


@pytest.mark.parametrize(("first", "resume"), PAIRS)
def test_a_resume_compares_the_job_overrides_by_what_hydra_composes(composer, first, resume):
    compose_with, loader = composer
    same = compose_with(first) == compose_with(resume)
    changes = override_changes(first, resume, loader=loader)
    assert (changes == []) == same, (first, resume, changes)
    if not same:  # named with both spellings, whole
        assert changes == [f"a job override changed: {' '.join(first)}, now {' '.join(resume)}"]


def test_a_mapping_merged_on_the_command_line_keeps_the_files_other_keys_in_the_record():
    # `opt={wd: 0}` sets opt.wd alone: an edit of the file's opt.lr is named (was: opt left
    # out whole, so it resumed); a record an older version made without opt still resumes,
    # and a mapping that an override alone holds on one side is the override's, not an edit
    overridden = override_values(["opt={wd: 0, n: {a: 1}}", "~x", "epochs=2"], None)
    assert overridden == ["opt.wd", "opt.n.a", "x", "epochs"]
    job = {"opt": {"lr": 0.2, "n": {}}, "epochs": 1}
    assert setup_differences({"job": {"opt": {"lr": 0.1, "n": {}}}}, {"job": job},
                             overridden=overridden) == ["opt.lr: 0.1, now 0.2"]
    assert setup_differences({"job": {"epochs": 1}}, {"job": job}, overridden=overridden) == []
    for sides in (({"s": 1}, {"s": 1, "new": {}}), ({"s": 1, "new": {}}, {"s": 1})):
        assert setup_differences({"job": sides[0]}, {"job": sides[1]},
                                 overridden=["new.a"]) == []
