"""A search's messages in a sweep's words: the settings they name as a sweep's user writes
them (``hydra.sweeper.max_failures``, ``hydra.sweep.dir``), and its phrases of a seed, a run
folder and a warm start as a sweep's (was: ``search.max_failures``, ``run_dir``, keys a
sweep has not).

Example:
    >>> sweep_phrases("a run with a seed replays")
    'a sweep with a seed replays'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["sweep_phrases", "sweep_wording"]

#: what a search's message says, as a sweep's user says it (``sweep_wording``)
_SWEEP_PHRASES = (
    (r"the run has no seed, `seed: null`", "the sweep has no seed, `hydra.sweeper.seed: null`"),
    (r"the run has no seed \(`seed: null`\)",
     "the sweep has no seed (`hydra.sweeper.seed: null`)"),
    (r"a run with a seed replays", "a sweep with a seed replays"),
    (r"a search with a seed \(`seed: 0`, `Search\(\.\.\., seed=0\)`, or `seed_everything: "
     r"true`, whose drawn seed a resume takes\)",
     "a sweep with a seed (`hydra.sweeper.seed`, 0 when left out)"),
    (r"search in a new run_dir with another optimizer",
     "sweep into another hydra.sweep.dir with another hydra.sweeper.optimizer"),
    (r"`warm_start: \[([^`]*)\]`", r"`hydra.sweeper.warm_start=[\1]`"),
    (r"\[warm start\] retrain_top_k=", "[warm start] hydra.sweeper.retrain_top_k="),
    # a resume's store check (was: "a search with a different mode", a sweep's direction)
    (r"a different mode \(stored '(max|min)', now '(max|min)'\); resume with the same mode",
     r"a different hydra.sweeper.direction (stored '\1imize', now '\2imize'); resume with "
     r"the same direction"),
    (r"a different space \((.*)\); resume with the same space",
     r"a different space (hydra.sweeper.params and the command line's sweeps) (\1); resume "
     r"with the same params"),
    (r"holds a search (with|started)", r"holds a sweep \1"),
    # a resume's store checks of the sweep's settings (was: bare keys, `warm_start_fill`)
    (r"a different monitor \((.*)\); resume with the same monitor",
     r"a different score (hydra.sweeper.monitor, else optimized_metric) (\1); resume with "
     r"the same score"),
    (r"(a different|started without|resume with the same|resume with that|a relative|leave) "
     r"(warm_start_fill|warm_start|objectives)\b", r"\1 hydra.sweeper.\2"),
    (r"a different hydra\.sweeper\.objectives \(.*\); resume with the same",
     lambda m: re.sub(r"'(max|min)'", r"'\1imize'", m[0])),  # as the sweep's user wrote it
    (r"from the folder the search was started in", "from the folder the sweep was started in"),
    # the loop's stop after proposals in a row (``proposals.gave_up``): a sweep runs jobs and
    # has constraints, no limits (was: "broke the limits or constraints")
    (r"^(The optimizer proposed \d+ architectures in a row), none to train: ",
     r"\1, none to run: "),
    (r"broke the limits or constraints \(REJECTED\)",
     "broke hydra.sweeper.constraints (REJECTED)"),
    # the warm start's report (``SourceReport.describe``; was: a bare key)
    (r"; warm_start_fill not used for ", "; hydra.sweeper.warm_start_fill not used for "),
    # the warm start's line: a source's mode as the sweep's direction is written (was: max)
    (r"(?m)^(warm start from .*? \([^(),]+, )(max|min)(?=[;)])", r"\1\2imize"),
    (r"(; first objective .+? not logged there: its monitor .+?) \((max|min)\) stands in",
     r"\1 (\2imize) stands in"),
    # the Pareto front said at the end (``search.summary.front_line``): each objective's mode
    # as the sweep's user writes it (was: not said; a search's words, `acc max`)
    (r"(?m)^Pareto front \(([^\n]*?)\): ",
     lambda m: "Pareto front (" + re.sub(r" (max|min)(?=, |$)", r" \1imize", m[1]) + "): "),
    # a warm start's source still being searched (``SourceReport.live_warning``)
    (r"^warm_start source ", "hydra.sweeper.warm_start source "),
    (r"not used, by this search or its resume \(it keeps these priors\): to use them, start "
     r"this search once", "not used, by this sweep or its resume (it keeps these priors): to "
     "use them, start this sweep once"),
    # a warm start's source that gives no prior (``SourceReport.empty_warning``)
    (r"gives this search no prior \((.*)\): it starts as if that source were not given; "
     r"check the folder and this search's space, or leave it out of warm_start$",
     r"gives this sweep no prior (\1): it starts as if that source were not given; check the "
     r"folder and this sweep's hydra.sweeper.params, or leave it out of "
     r"hydra.sweeper.warm_start"),
)


def sweep_wording(text: str, keys: Sequence[str] | Mapping[str, Any],
                  folder: str = "hydra.sweep.dir") -> str:
    """``text``, an error of the search loop, with the settings it names as a sweep's user
    writes them (was: ``raise search.max_failures ... or start another run_dir``, keys a
    sweep has not).

    Example:
        >>> sweep_wording("raise search.max_failures, or start another run_dir (search.db)",
        ...               ["max_failures"])
        'raise hydra.sweeper.max_failures, or choose another hydra.sweep.dir (search.db)'
        >>> sweep_wording("remove runs/a (no trial completed) or choose another run_dir", [])
        'remove runs/a (no trial completed) or choose another hydra.sweep.dir'
    """
    text = re.sub(r"\bsearch\.(\w+)",
                  lambda m: f"hydra.sweeper.{m[1]}" if m[1] in keys else m[0], text)
    text = sweep_phrases(text).replace("start another run_dir", f"choose another {folder}")
    # a fatal stop's way on (was: "run the same search again ...; a changed search setting (a
    # monitor, say) is not resumed: remove ... or choose another run_dir")
    return (text.replace("choose another run_dir", f"choose another {folder}")
            .replace("run the same search again", "run the same command again")
            .replace("a changed search setting (a monitor, say)",
                     "a changed sweep setting (hydra.sweeper.monitor, say)"))


def sweep_phrases(text: str) -> str:
    """``text`` with a search's words of a seed, a run dir and a warm start as a sweep's.

    Example:
        >>> sweep_phrases("at ask 0 (the run has no seed, `seed: null`: ...)")
        'at ask 0 (the sweep has no seed, `hydra.sweeper.seed: null`: ...)'
    """
    for phrase, said in _SWEEP_PHRASES:  # a resume's replay without a seed, ...
        text = re.sub(phrase, said, text)
    return text
