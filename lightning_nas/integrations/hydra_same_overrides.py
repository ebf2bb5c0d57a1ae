"""The job overrides a resumed Hydra sweep leaves out of its comparison
(``hydra_resume.override_changes``'s ``same``), since Hydra composes the same jobs from them:
``same_trainer_overrides``, those of a Lightning Trainer node's arguments that Lightning takes
as the same on both sides (``trainer_spelling.as_taken``: ``trainer.check_val_every_n_epoch=1``
is the default), and ``same_as_composed``, those one side alone gives that set what the other
side composes without them (a file's value spelt out, ``epochs=1``; the option the defaults
choose, ``model=a``).

Example:
    >>> jobs = [{"epochs": 1}, {"epochs": 1}]
    >>> sorted(same_as_composed(["epochs=1"], [], jobs, [{}, {}], None))
    ['epochs=1']
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from lightning_nas.config.paths import get_dotted
from lightning_nas.integrations.hydra_override_effects import composed_at, override_parts
from lightning_nas.search.trainer_spelling import as_taken, is_trainer_node

__all__ = ["same_as_composed", "same_trainer_overrides"]

_MISSING = object()


def same_trainer_overrides(stored: Sequence[str], current: Sequence[str],
                           jobs: Sequence[Mapping[str, Any]], loader: Any) -> set[str]:
    """The overrides among ``stored`` and ``current`` (the job overrides of a sweep and of
    its resume) that set an argument of a Lightning Trainer node (``is_trainer_node`` in
    both ``jobs``, the two ``job_setup`` records: ``trainer.check_val_every_n_epoch=1``,
    ``+trainer.precision=32``) that Lightning takes as the same on both sides
    (``as_taken``: one at ``Trainer.__init__``'s default is one left out, a precision's
    other spelling the one it converts to); a side's value is its last override of the
    key, else its record's (which leaves an overridden key out: the file's value). The
    overrides a resume compares as written are the others (was: all of them, so the
    Trainer's default spelt out on the resume's command line was refused as a change).

    Example:
        >>> node = {"trainer": {"_target_": "lightning.pytorch.Trainer", "max_epochs": 2}}
        >>> sorted(same_trainer_overrides([], ["+trainer.check_val_every_n_epoch=1",
        ...     "trainer.max_epochs=2", "trainer.devices=2"], [node, node], None))
        ['+trainer.check_val_every_n_epoch=1', 'trainer.max_epochs=2']
    """
    sides = [_trainer_arguments(lines, jobs, loader) for lines in (stored, current)]
    same: set[str] = set()
    for path in {p for side in sides for p, _ in side.values()}:
        taken = []
        for side, job in zip(sides, jobs, strict=True):
            given = [v for p, v in side.values() if p == path]  # the last one wins
            value = given[-1] if given else get_dotted(job, path, _MISSING)
            arg = path.rpartition(".")[2]
            taken.append(as_taken({} if value is _MISSING else {arg: value}))
        if taken[0] == taken[1]:
            same |= {line for side in sides for line, (p, _) in side.items() if p == path}
    return same


def same_as_composed(stored: Sequence[str], current: Sequence[str],
                     jobs: Sequence[Mapping[str, Any]], choices: Sequence[Mapping[str, Any]],
                     loader: Any) -> set[str]:
    """The overrides among ``stored`` and ``current`` (the job overrides of a sweep and of
    its resume) of a part of the config that one side alone overrides, where they set what
    the other side composes there without them, so that Hydra composes the same jobs: a
    value its record holds (``jobs``, the two ``job_setup`` records: the files' value, as
    ``epochs=1`` where the file says 1, or ``opt={wd: 0}`` merged into a mapping holding
    it), or the option it chose of a config group (``choices``, each side's
    ``group_choices``: ``model=a`` where the defaults choose ``a``). The overrides a resume
    compares are the others (was: all of them, so such an override added or left out at a
    resume was refused, ``a job override added: epochs=1``).

    Example:
        >>> jobs = [{"epochs": 1, "opt": {"lr": 0.1}}, {"opt": {"lr": 0.1}}]
        >>> sorted(same_as_composed([], ["epochs=1", "opt.lr=0.2"], jobs, [{}, {}], None))
        ['epochs=1']
    """
    same: set[str] = set()
    for key, (old, new) in override_parts([list(stored), list(current)], loader).items():
        if (old is None) == (new is None):  # both sides, or neither: compared as they are
            continue
        given, other = (old, 1) if new is None else (new, 0)
        kind = given.effect[0]
        if kind == "chosen":  # a config group's option, chosen alone
            there = choices[other].get(key, _MISSING)
            if there is not _MISSING and json.dumps(there) == given.effect[1]:
                same |= set(given.lines)
        elif kind != "written":  # values set at a path: applied to what the other holds
            known = get_dotted(jobs[other], key, _MISSING)
            value = composed_at(key, given.lines, known, _MISSING)
            if known is not _MISSING and value is not _MISSING and json.dumps(
                    value, default=str) == json.dumps(known, default=str):
                same |= set(given.lines)
    return same


def _trainer_arguments(lines: Sequence[str], jobs: Sequence[Mapping[str, Any]],
                       loader: Any) -> dict[str, tuple[str, Any]]:
    """Each of ``lines`` that sets (or deletes: ``_MISSING``) a value of a Lightning
    Trainer node of each of ``jobs``, as its path and the value it sets; a config group's
    option, a sweep and another key are left out."""
    found: dict[str, tuple[str, Any]] = {}
    parser = OverridesParser.create()
    for line in lines:
        try:
            override = parser.parse_overrides([line])[0]
        except HydraException:  # (not one a sweep took: compared as written)
            continue
        path = override.key_or_group
        parent, _, arg = path.rpartition(".")
        if (override.package is not None or override.is_sweep_override() or not parent
                or arg.startswith("_") or (loader and loader.get_group_options(path))
                or not all(is_trainer_node(get_dotted(job, parent)) for job in jobs)):
            continue
        found[line] = (path, _MISSING if override.is_delete() else override.value())
    return found
