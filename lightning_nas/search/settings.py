"""The settings of a multi-trial search: validated, frozen, grouped as the ``search:`` block
of a config groups them.

``SearchSettings`` holds the five groups of ``search/setting_groups.py`` (``Goal``,
``Execution``, ``EarlyStopping``, ``Limits``, ``Transfer``; importable from here too) plus
the run folder and what is printed.

Every setting has one flat name (the key of the ``search:`` block, the keyword of
``Search``); ``SearchSettings.from_options(**flat)`` routes each to its group and names an
unknown one with the valid keys. Each group checks its values when it is made, so a wrong
setting fails before anything is built or trained.

Example:
    >>> settings = SearchSettings.from_options(budget=10, num_workers=2, scheduler="asha")
    >>> settings.goal.budget, settings.execution.num_workers, settings.early_stopping.scheduler
    (10, 2, 'asha')
    >>> settings.replace(budget=5).goal.budget
    5
    >>> SearchSettings.from_options(budgt=5)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: unknown search setting 'budgt'; did you mean 'budget'? ...
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_nas.errors import ConfigError, unknown
from lightning_nas.numeric import plain_bool
from lightning_nas.run_folder import run_dir_path
from lightning_nas.search.objectives import Objectives, constraint_record
from lightning_nas.search.schedulers import Rule
from lightning_nas.search.setting_checks import null_word, said_in_config

# the groups: importable from here (documented so, and the path older pickles name)
from lightning_nas.search.setting_groups import (
    EarlyStopping,
    Execution,
    Goal,
    Limits,
    Transfer,
)

__all__ = ["EarlyStopping", "Execution", "Goal", "Limits", "SearchSettings", "Transfer"]


def _check_monitor_agrees(goal: Mapping[str, Any]) -> None:
    """A ``monitor`` or ``mode`` given with ``objectives`` must be the first objective's
    (it is the monitor): an explicit ``mode: max`` was replaced by ``{val_acc: min}``."""
    objectives = goal["objectives"]
    if not isinstance(objectives, Objectives):
        objectives = Objectives(objectives)
    first = objectives.names[0]
    given = {k: goal[k] for k in ("monitor", "mode") if goal.get(k) is not None}  # null: unset
    implied = {"monitor": first, "mode": objectives.modes[first]}
    if any(value != implied[key] for key, value in given.items()):
        said = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise ConfigError(f"{said} disagrees with the first objective ({first}: "
                          f"{objectives.modes[first]}), which is the monitor; leave monitor "
                          f"and mode out or set them to {null_word()}, or list the objectives "
                          f"with the monitor first")  # (was: "(or null)" from Python too)


def _goal_changes(goal: Goal, mine: dict[str, Any]) -> dict[str, Any]:
    """The changes ``mine`` makes to ``goal``: another monitor replaces earlier objectives
    (without a mode: its name's); a mode, or the same monitor, keeps them (and its mode)."""
    mine = dict(mine)
    if "objectives" not in mine and goal.objectives is not None:
        if mine.get("monitor", goal.monitor) != goal.monitor:
            mine["objectives"] = None
        elif "monitor" in mine or "mode" in mine:
            mine["objectives"] = goal.objectives
    if ("monitor" in mine and mine["monitor"] != goal.monitor and "mode" not in mine
            and mine.get("objectives") is None):
        mine["mode"] = None
    if mine.get("objectives") is not None:
        _check_monitor_agrees(mine)
    return mine


#: the run folder of a search made in Python (``run_dir=None`` too)
_DEFAULT_RUN_DIR = Path("runs/nas")

_GROUPS = {"goal": Goal, "execution": Execution, "early_stopping": EarlyStopping,
           "limits": Limits, "transfer": Transfer}


@dataclass(frozen=True)
class SearchSettings:
    """Everything that steers a search, in groups; ``run_dir``, ``verbose`` and ``progress``
    say where it writes and what it prints.

    Args:
        goal, execution, early_stopping, limits, transfer: the groups (defaults when left
            out).
        run_dir: where ``search.db``, trial folders and ``best.*`` go; the same folder resumes
            (None: the default, ``runs/nas``, as a config's ``run_dir: null`` is its default).
        verbose: print one line per trial and a summary.
        progress: a search-level progress bar: ``True``, ``False`` or ``"auto"`` (only when
            stderr is a terminal).
    """

    goal: Goal = field(default_factory=Goal)
    execution: Execution = field(default_factory=Execution)
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    limits: Limits = field(default_factory=Limits)
    transfer: Transfer = field(default_factory=Transfer)
    run_dir: Path = _DEFAULT_RUN_DIR
    verbose: bool = True
    progress: bool | str = "auto"

    def __post_init__(self) -> None:
        for name, group_cls in _GROUPS.items():  # (was: AttributeError, or taken as given)
            group = getattr(self, name)
            if not isinstance(group, group_cls):
                raise ConfigError(
                    f"`{name}` must be a {group_cls.__name__} (lightning_nas.search.settings."
                    f"{group_cls.__name__}), got {type(group).__name__} {group!r:.80}; give "
                    f"single settings by name: SearchSettings.from_options(budget=10, ...)")
        # None: the default, as a config's null (was: refused, "got None"); ~ as Lightning
        # takes it; no newline (was: taken, and best_config.yaml broke)
        run_dir = _DEFAULT_RUN_DIR if self.run_dir is None else self.run_dir
        object.__setattr__(self, "run_dir", run_dir_path(run_dir))
        for flag in ("verbose", "progress"):  # NumPy's bool: Python's (was: refused,
            # "got np.True_", while NumPy's numbers are taken)
            object.__setattr__(self, flag, plain_bool(getattr(self, flag)))
        yes, no, auto = (("true", "false", "auto") if said_in_config()  # (was: a config's
                         else ("True", "False", "'auto'"))  # words from Python too)
        if not isinstance(self.verbose, bool):
            raise ConfigError(f"`verbose` must be {yes} or {no}, got {self.verbose!r}")
        if not isinstance(self.progress, bool) and self.progress != "auto":  # not 1, 0
            raise ConfigError(f"`progress` can be {yes}, {no}, {auto}; got {self.progress!r}")
        budget, top_k = self.goal.budget, self.transfer.retrain_top_k
        if budget is not None and top_k > budget:
            raise ConfigError(f"`retrain_top_k`={top_k} is more than `budget`={budget}: the "
                              f"re-trained architectures are trials of this search and count "
                              f"against its budget; lower one or raise the other")
        if self.transfer.warm_start:
            from lightning_nas.search.warm import check_sources

            check_sources(self.transfer.warm_start, self.run_dir)

    @classmethod
    def keys(cls) -> list[str]:
        """Every flat setting name, in group order."""
        names = [f.name for group in _GROUPS.values() for f in dataclasses.fields(group)]
        return [*names, "run_dir", "verbose", "progress"]

    @classmethod
    def from_options(cls, **options: Any) -> SearchSettings:
        """Settings from flat names (``budget=10, num_workers=2``); the rest are defaults.

        Args:
            **options: settings by their flat names (``keys()``); an unknown one is a
                ``ConfigError`` naming the valid ones.
        """
        return cls().replace(**options)

    def replace(self, **options: Any) -> SearchSettings:
        """A copy with the flat settings ``options`` changed (validated again).

        A ``monitor`` other than the first objective replaces the objectives: the copy has
        none, and the new monitor's ``mode`` (given, else its name's), as a later layer
        (``Search(settings=..., monitor=...)``) sets what to optimise; the same monitor, or
        a ``mode`` alone, keeps them (a mode that disagrees with the first objective's is a
        ``ConfigError``); ``objectives`` given replace them.

        Args:
            **options: the settings to change, by their flat names (``keys()``).

        Example:
            >>> s = SearchSettings.from_options(objectives={"val_acc": "max", "params": "min"})
            >>> s.replace(monitor="val_loss").goal.objectives is None
            True
        """
        valid = self.keys()
        for key in options:
            if key not in valid:
                raise unknown("search setting", key, valid)
        groups = {}
        for name, group_cls in _GROUPS.items():
            group = getattr(self, name)
            mine = {f.name: options[f.name] for f in dataclasses.fields(group_cls)
                    if f.name in options}
            if name == "goal":
                mine = _goal_changes(group, mine)
            groups[name] = dataclasses.replace(group, **mine) if mine else group
        top = {k: options[k] for k in ("run_dir", "verbose", "progress") if k in options}
        return dataclasses.replace(self, **groups, **top)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name, as plain data (stored with the run)."""
        out: dict[str, Any] = {}
        for name in _GROUPS:
            group = getattr(self, name)
            out.update({f.name: getattr(group, f.name) for f in dataclasses.fields(group)})
        out["objectives"] = None if out["objectives"] is None else out["objectives"].to_dict()
        out["executor"] = self.execution.executor_name
        if isinstance(out["scheduler"], Rule):  # its settings: a resume compares them
            out["scheduler"] = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(out["scheduler"]))
        # an object with its arguments (not its address): compared on resume
        out["constraints"] = [constraint_record(c) for c in out["constraints"]]
        out["ray"] = None if out["ray"] is None else dict(out["ray"])
        out["warm_start"] = list(out["warm_start"])
        out["warm_start_fill"] = (None if out["warm_start_fill"] is None
                                  else dict(out["warm_start_fill"]))
        return {**out, "run_dir": str(self.run_dir), "verbose": self.verbose,
                "progress": self.progress}
