"""The README's settings tables in step with the code: the ``search:`` block's table (key |
default | meaning), the ``oneshot:`` block's (key | default | what it sets), the Hydra
sweeper's (key | default | meaning, each row naming the ``search:`` key it mirrors) and the
``SearchSettings`` groups' (group | keys).

Each documented key set must equal the set the code accepts (``SEARCH_KEYS``,
``ONESHOT_KEYS``, ``SWEEPER_KEYS``, the groups' dataclass fields), and each default written
as a plain
literal (``20``, ``true``, ``null``, none, ``SurrogateEvolution``, ``[]``) must equal the
code's. A default cell in prose ("Trainer ``devices`` or 1") is skipped only when
``PROSE_DEFAULTS`` lists its key with a reason, so a new key is never skipped silently.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
import yaml

from lightning_nas.integrations.hydra_config import (
    FROM_SEARCH,
    SWEEPER_KEYS,
    LightningNASSweeperConf,
)
from lightning_nas.oneshot.setting_checks import ONESHOT_KEYS
from lightning_nas.search import setting_groups
from lightning_nas.search.from_config import SEARCH_KEYS
from lightning_nas.search.scheduler_settings import RULE_DEFAULTS
from lightning_nas.search.settings import SearchSettings
from tests.launcher import ROOT

README = ROOT / "README.md"

#: where each table starts: the first table after the first line holding the marker
SEARCH_TABLE = "## The `search:` block"
ONESHOT_TABLE = "The `oneshot:` block's keys"
GROUPS_TABLE = "### Settings in Python: `SearchSettings`"
SWEEPER_TABLE = "The sweeper's settings (`hydra.sweeper.*`"
#: the example's sweep file, shown in the README's Hydra section
SWEEP_FILE = ROOT / "examples/hydra/configs/hparams_search/nas.yaml"

#: keys whose default cell is prose, not a literal, with why (checked: exactly these)
PROSE_DEFAULTS: dict[str, dict[str, str]] = {
    SEARCH_TABLE: {
        "space": "required: the block has no default space",
        "seed": "`seed_everything` or 0: the config's seed (SEARCH_KEYS holds null)",
        "run_dir": "runs/<config name>: from the config file's name (SEARCH_KEYS: null)",
        "devices_per_trial": "the Trainer's `devices` or 1, decided per run",
        "threads_per_trial": "per executor: the process's own, cores / workers, Ray's",
        "max_epochs": "the Trainer's `max_epochs`, read when the search starts",
    },
    ONESHOT_TABLE: {},
    SWEEPER_TABLE: {
        "direction": "null in the code: the score's name says it, or the sweep is refused",
        "monitor": "null in the code: the config's optimized_metric, else score",
        "run_dir": "null in the code: hydra.sweep.dir, read when the sweep starts",
    },
}

#: the code's defaults; ``min_epochs`` and ``eta`` are stored null, read as RULE_DEFAULTS'
CODE_DEFAULTS: dict[str, dict[str, Any]] = {
    SEARCH_TABLE: {**SEARCH_KEYS, **RULE_DEFAULTS},
    ONESHOT_TABLE: dict(ONESHOT_KEYS),
    SWEEPER_TABLE: {k: getattr(LightningNASSweeperConf(), k) for k in SWEEPER_KEYS},
}

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?")


def split_outside_code(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` where it is not inside backticks, each part stripped.

    Example:
        >>> split_outside_code("`a|b` | c", "|")
        ['`a|b`', 'c']
    """
    parts, current, in_code = [], [], False
    for char in text:
        if char == "`":
            in_code = not in_code
        if char == sep and not in_code:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def table_after(text: str, marker: str) -> list[list[str]]:
    """The body rows (cells) of the first Markdown table after the line holding ``marker``."""
    lines = text.splitlines()
    found = [i for i, line in enumerate(lines) if marker in line]
    assert found, f"README.md has no line holding {marker!r} (a heading renamed?)"
    start = found[0]
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append(split_outside_code(line.strip().strip("|"), "|"))
        elif rows:
            break
    assert len(rows) > 2, f"no table after {marker!r} in README.md"
    return rows[2:]  # no header, no --- row


def literal(cell: str) -> tuple[bool, Any]:
    """``(True, value)`` for a plain literal default (`` `20` ``, `` `[]` ``, none, 1),
    ``(False, None)`` for prose.

    Example:
        >>> literal("`SurrogateEvolution`"), literal("none"), literal("Trainer `devices` or 1")
        ((True, 'SurrogateEvolution'), (True, None), (False, None))
    """
    code = re.fullmatch(r"`([^`]*)`", cell)
    if code:
        return True, yaml.safe_load(code.group(1))
    if cell in ("none", "null"):
        return True, None
    if cell in ("true", "false") or _NUMBER.fullmatch(cell):
        return True, yaml.safe_load(cell)
    return False, None


def documented(marker: str) -> dict[str, str]:
    """Each key of the table after ``marker`` with its default cell (or its part of it: a
    row of several keys, `` `monitor`, `mode` ``, has one default each, or one for all)."""
    out: dict[str, str] = {}
    for cells in table_after(README.read_text(encoding="utf-8"), marker):
        keys = re.findall(r"`([^`]+)`", cells[0])
        assert keys, f"a row of no key: {cells}"
        parts = split_outside_code(cells[1], ",") if len(keys) > 1 else [cells[1]]
        if len(parts) != len(keys):
            parts = [cells[1]] * len(keys)  # one default for all (none), or prose
        for key, part in zip(keys, parts, strict=True):
            assert key not in out, f"{key!r} documented twice in the table after {marker!r}"
            out[key] = part
    return out


def same(doc: Any, code: Any) -> bool:
    """Equal and of one type (``true`` is no 1, ``10`` no 10.0, ``{}`` no ``[]``); tuples
    read as lists."""
    if isinstance(code, tuple):
        code = list(code)
    return type(doc) is type(code) and doc == code


@pytest.mark.parametrize("marker", [SEARCH_TABLE, ONESHOT_TABLE, SWEEPER_TABLE])
def test_documented_keys_are_the_accepted_keys(marker: str) -> None:
    keys = set(documented(marker))
    accepted = set(CODE_DEFAULTS[marker])
    assert keys == accepted, (f"README table after {marker!r}: undocumented "
                              f"{sorted(accepted - keys)}, not accepted {sorted(keys - accepted)}")


@pytest.mark.parametrize("marker", [SEARCH_TABLE, ONESHOT_TABLE, SWEEPER_TABLE])
def test_documented_defaults_are_the_code_defaults(marker: str) -> None:
    code = CODE_DEFAULTS[marker]
    prose, wrong = set(), []
    for key, cell in documented(marker).items():
        is_literal, value = literal(cell)
        if not is_literal:
            prose.add(key)
        elif key in code and not same(value, code[key]):
            wrong.append(f"{key}: README {cell} ({value!r}), code {code[key]!r}")
    assert not wrong, f"README table after {marker!r}: " + "; ".join(wrong)
    listed = set(PROSE_DEFAULTS[marker])
    assert prose == listed, (f"default cells in prose, not listed in PROSE_DEFAULTS: "
                             f"{sorted(prose - listed)}; listed but literal or gone: "
                             f"{sorted(listed - prose)}")


def test_groups_table_is_the_settings_fields() -> None:
    rows = table_after(README.read_text(encoding="utf-8"), GROUPS_TABLE)
    groups = {f.name: type(getattr(SearchSettings(), f.name))
              for f in dataclasses.fields(SearchSettings)
              if dataclasses.is_dataclass(getattr(SearchSettings(), f.name))}
    own = {f.name for f in dataclasses.fields(SearchSettings)} - set(groups)
    seen: dict[str, set[str]] = {}
    for cells in rows:
        names = re.findall(r"`([^`]+)`", cells[0])
        keys = set(re.findall(r"`([^`]+)`", cells[1]))
        if names == ["SearchSettings"]:  # "`SearchSettings` itself"
            seen["itself"] = keys
            assert keys == own, f"SearchSettings' own fields {sorted(own)}, README {sorted(keys)}"
            continue
        cls_name, attr = names[0], names[1].removeprefix("settings.")
        assert attr in groups, f"README names settings.{attr}; groups: {sorted(groups)}"
        cls = groups[attr]
        assert cls_name == cls.__name__, f"settings.{attr} is a {cls.__name__}, README {cls_name}"
        assert getattr(setting_groups, cls_name) is cls
        fields = {f.name for f in dataclasses.fields(cls)}
        assert keys == fields, f"{cls_name}: fields {sorted(fields)}, README {sorted(keys)}"
        seen[attr] = keys
    assert set(seen) == {*groups, "itself"}, f"groups in README {sorted(seen)}"
    assert set().union(*seen.values()) == set(SearchSettings.keys())


def test_sweeper_rows_name_the_search_key_they_mirror() -> None:
    # each row's meaning opens "as `search.KEY`": the same name where the search: block has
    # it, else a key whose FROM_SEARCH answer (a sweep's error for it) names this setting
    wrong = []
    for cells in table_after(README.read_text(encoding="utf-8"), SWEEPER_TABLE):
        key = re.findall(r"`([^`]+)`", cells[0])[0]
        mirror = re.match(r"as `search\.(\w+)`", cells[2])
        if mirror is None:
            wrong.append(f"{key}: its meaning does not open with as `search.<key>`")
        elif key in SEARCH_KEYS and mirror[1] != key:
            wrong.append(f"{key}: mirrors search.{mirror[1]}, but search: has {key} too")
        elif key not in SEARCH_KEYS and key not in FROM_SEARCH.get(mirror[1], ""):
            wrong.append(f"{key}: search.{mirror[1]} is neither {key} nor a key whose "
                         f"FROM_SEARCH answer names {key} (FROM_SEARCH: {sorted(FROM_SEARCH)})")
    assert not wrong, "README sweeper table: " + "; ".join(wrong)


def test_every_search_key_is_a_sweeper_setting_or_answered() -> None:
    # the table's "that block's other keys a sweep has not" are FROM_SEARCH's, each refused
    # by a sweep with what it does instead; a new search: key must be one or the other
    left = set(SEARCH_KEYS) - set(SWEEPER_KEYS) - set(FROM_SEARCH)
    assert not left, f"search: keys neither a sweeper setting nor in FROM_SEARCH: {sorted(left)}"


def _sweeper_blocks() -> dict[str, dict[str, Any]]:
    """The ``hydra.sweeper`` node of the example's sweep file and of each README YAML block
    that switches to this sweeper (the example shown, the template's file switched)."""
    readme = README.read_text(encoding="utf-8")
    texts = {str(SWEEP_FILE.relative_to(ROOT)): SWEEP_FILE.read_text(encoding="utf-8")}
    for i, block in enumerate(readme.split("```yaml\n")[1:]):
        text = block.split("```")[0]
        if "override /hydra/sweeper: lightning_nas" in text:
            texts[f"README yaml block {i + 1}"] = text
    return {name: yaml.safe_load(text)["hydra"]["sweeper"] for name, text in texts.items()}


def test_hydra_example_configs_use_only_documented_settings() -> None:
    blocks = _sweeper_blocks()
    assert len(blocks) >= 3, f"the example file and two README blocks, found {sorted(blocks)}"
    keys = set(documented(SWEEPER_TABLE))
    wrong = {name: sorted(set(node) - keys) for name, node in blocks.items()
             if set(node) - keys}
    assert not wrong, f"sweeper settings the README table lists not: {wrong}"
