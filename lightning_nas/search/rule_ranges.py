"""A searched Trainer argument's integer range, or a choice's options, against a search's
scheduler rule, before training: ``check_rule_range`` checks each value the range may take
as a fixed setting is (``rule_trainer.check_rule_trainer``), and refuses a range holding
values the rule cannot judge trials under, naming them and what they do
(``space_values.check_trainer_values`` calls it for each searched Trainer argument,
``space_values.trainer_ranges``); where every value (every option) is refused, the ways out
of the whole range or choice (the rule's ``min_epochs`` that takes some of them, a fixed
Trainer value, no scheduler).

Example:
    >>> from lightning_nas.search.schedulers import ASHARule
    >>> check_rule_range({}, "check_val_every_n_epoch", range(1, 3), ASHARule(2, 4, eta=2), 4)
    >>> check_rule_range({}, "check_val_every_n_epoch", range(1, 4), ASHARule(1, 4, eta=2), 4)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: space key 'trainer.check_val_every_n_epoch' may take 2: ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightning_nas.config.trainer_checks import check_trainer_kwargs
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int
from lightning_nas.search.rule_trainer import check_rule_trainer
from lightning_nas.search.schedulers import ASHARule, HyperbandRule, MedianRule, Rule
from lightning_nas.search.setting_checks import in_words

__all__ = ["check_rule_range"]

#: a rule's ``min_epochs`` tried at most for a range it takes no value of
#: (``_judging_setting``), and the checks of their values at most, in all
_CANDIDATES, _CHECKS = 32, 2048

#: what the values of a searched Trainer argument that a rule refuses do, by its name, as
#: the way out that narrows its range says it (``check_rule_range``); others: the rule
#: cannot judge a trial under them (``check_val_every_n_epoch``: no rung or epoch before
#: the last validates)
_CONFLICTS = {
    "min_epochs": "under which Lightning ignores the scheduler's stops",
    "min_steps": "under which Lightning ignores the scheduler's stops",
    "max_steps": "which would end a trial before max_epochs",
    "max_time": "which would end a trial before max_epochs",
}


def check_rule_range(trainer: Mapping[str, Any], name: str, values: Sequence[Any],
                     scheduler: Any, epochs: int | None) -> None:
    """Refuse a searched Trainer argument ``name`` whose integer range ``values`` (or a
    choice's options, a list) holds a value that ``scheduler`` cannot judge trials under
    (``check_rule_trainer`` over ``trainer``). The error is the first such value's; a
    choice's says to leave it out of the space key's values, unless every option is
    refused: then the ways out of the whole choice, as a range's (was: that option's
    refusal alone). A range's way out narrows the range, naming the values to leave out
    and what they do (``_CONFLICTS``: ``min_epochs`` above
    1 makes Lightning ignore the rule's stops; was: "which cannot be judged" for any
    argument), or, where every value is refused, says so and names the ways out of the
    whole range: the rule's ``min_epochs`` under which it takes most of them
    (``_judging_setting``), a fixed Trainer value it takes in place of the space key (1, 0
    or -1), no scheduler (was: no scheduler alone). Each value up to the last epoch the rule
    knows (``_known_epochs``) is checked, then the next, for those above it: validated every
    that many epochs or more, a trial validates no epoch the rule judges at, or reaches,
    before its last, so the rule judges each of them alike (a median rule from min_epochs
    ``m``: first at ``ceil(m / k) * k = k``, past the last epoch; an ASHA rule: at no rung;
    the other arguments its checks read, ``min_epochs``, ``max_steps``, ...: refused above 1
    at most). A huge range costs no more checks than the epochs the rule knows.

    Args:
        trainer: the Trainer arguments no space key searches.
        name: the searched Trainer argument (space key ``trainer.NAME``).
        values: the values its range may take (``space_values.trainer_ranges``), or its
            choice's options.
        scheduler: the search's rule (or its name, where none could be made).
        epochs: a trial's last epoch (the search's ``max_epochs`` or the Trainer's).

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> check_rule_range({}, "check_val_every_n_epoch", range(1, 2 ** 40),
        ...                  MedianRule(min_epochs=3), 4)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: space key 'trainer.check_val_every_n_epoch' may ...

    Raises:
        ConfigError: naming the first value refused, why, and the ways out.
    """
    if isinstance(values, range):
        known = _known_epochs(scheduler, epochs)
        head = 0 if values[0] > known else min(len(values),
                                                (known - values[0]) // values.step + 1)
    else:  # a choice's options: each of them
        head = len(values)
    tried = values[:head + 1]  # those up to ``known``, and the first above it (if any)

    def refused(value: Any, instead: str = "search without a scheduler",
                rule: Any = scheduler, rungs_too: bool = True) -> str | None:
        try:
            check_rule_trainer({**trainer, name: value}, rule, epochs, instead,
                               rungs_too=rungs_too)
        except ConfigError as err:
            return str(err)
        return None

    def spans(rule: Any, taken: bool) -> list[tuple[int, int]]:
        """The runs of ``values`` (index spans) that ``rule`` takes (or refuses)."""
        return _runs([(i, len(values) - 1 if i == head else i)  # the first above
                      for i, value in enumerate(tried)  # ``known``: all of them
                      if (refused(value, rule=rule) is None) == taken])

    bad = spans(scheduler, False)
    if not bad:
        return
    first = values[bad[0][0]]
    count, listed = _counted(values, bad)
    kind = "range" if isinstance(values, range) else "choice"
    if kind == "choice" and count < len(values):  # as a fixed value's refusal, its own words
        raise ConfigError(f"space key 'trainer.{name}' may take {first!r}: " + str(refused(
            first, f"leave {first!r} out of the space key's values, or search without a "
                   f"scheduler", rungs_too=False)))
    step = f" (step {values.step})" if isinstance(values, range) and values.step > 1 else ""
    whole = (f"the space key's range {values[0]}..{values[-1]}{step}" if kind == "range"
             else f"the space key's choice {list(values)!r}")
    if count == len(values):  # nothing to narrow it to: the rule's settings, or none
        ways = [f"{give} ({judged})" for give, judged in [_judging_setting(
            scheduler, epochs, values, tried, lambda rule: spans(rule, True))] if give]
        fixed = next((value for value in (1, 0, -1) if refused(value) is None
                      and _takes(name, value)), None)
        ways += [] if fixed is None else [f"fix {_trainer_words(name, fixed)} instead of "
                                          f"searching it"]
        instead = f"as every value of {whole} is refused, " + ", or ".join(
            [*ways, "search without a scheduler"])
    else:
        instead = (f"narrow {whole} to leave out {'value' if count == 1 else 'values'} "
                   f"{listed}, {_CONFLICTS.get(name, 'which cannot be judged')}, or search "
                   f"without a scheduler")
    raise ConfigError(f"space key 'trainer.{name}' may take {first!r}: "
                      f"{refused(first, instead)}")


def _judging_setting(rule: Any, epochs: int | None, values: Sequence[Any],
                     tried: Sequence[Any], taken: Callable[[Rule], list[tuple[int, int]]]
                     ) -> tuple[str, str]:
    """Where no value of a searched range ``values`` (or a choice's options) is taken
    under ``rule``, the ``min_epochs`` (a rule's grace, ASHA's first rung) under which most
    of them are
    (``taken``: the index spans of ``values`` a rule takes), the nearest to its own of
    those, as the search's setting or a rule object's build, and the values it takes;
    ``("", "")`` where none takes any, or for a rule of a class of one's own (built
    otherwise). Tried: 1 and the range's values (``tried``: those the rule's checks see;
    ASHA takes a value that divides its rungs) below a trial's last epoch,
    ``_CANDIDATES`` at most, nearest its own first, fewer for a long ``tried``
    (``_CHECKS`` checks in all).

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> give, judged = _judging_setting(
        ...     MedianRule(min_epochs=3), 4, range(2, 5, 2), range(2, 5, 2),
        ...     lambda rule: [(0, 0)] if rule.min_epochs <= 2 else [])
        >>> give, judged[:29]
        ('build MedianRule with min_epochs=2', 'under which value 2 is judged')
    """
    last = getattr(rule, "max_epochs", None) or epochs
    own = getattr(rule, "min_epochs", 1)
    if type(rule) not in (MedianRule, ASHARule, HyperbandRule) or not isinstance(last, int):
        return "", ""
    many = max(1, min(_CANDIDATES, _CHECKS // len(tried)))
    firsts = sorted({1, *(value for value in tried if is_int(value) and 1 <= value < last)}
                    - {own},
                    key=lambda first: (abs(first - own), first))[:many]
    best: tuple[int, list[tuple[int, int]]] | None = None
    for first in firsts:
        got = taken(_with_first(rule, first))
        if got and (best is None or _counted(values, got)[0] > _counted(values, best[1])[0]):
            best = (first, got)
    if best is None:
        return "", ""
    first, got = best
    give = (in_words(f"give search.min_epochs: {first}", f"give the search's min_epochs={first}")
            if rule.setting else f"build {type(rule).__name__} with min_epochs={first}")
    count, listed = _counted(values, got)
    kind = "range" if isinstance(values, range) else "choice"
    if count == len(values):
        return give, f"under which every value of the {kind} is judged"
    one = count == 1
    return give, (f"under which {'value' if one else 'values'} {listed} {'is' if one else 'are'}"
                  f" judged; narrow the {kind} to {'it' if one else 'them'}")


def _with_first(rule: Rule, first: int) -> Rule:
    """``rule`` (a ``MedianRule``, ``ASHARule`` or ``HyperbandRule``) rebuilt with
    ``min_epochs=first``, its other settings and its ``setting`` name kept."""
    kept = {"min_trials": rule.min_trials} if isinstance(rule, MedianRule) else {
        "max_epochs": rule.max_epochs, "eta": rule.eta}
    made = type(rule)(min_epochs=first, mode=rule.mode, **kept)
    made.setting = rule.setting
    return made


def _known_epochs(scheduler: Any, epochs: int | None) -> int:
    """The last epoch ``scheduler`` knows of: a trial's last (``epochs``), its rule's
    ``min_epochs``, ``max_epochs`` and rungs (``ASHARule.all_rungs``), at least 1."""
    known = [epochs, getattr(scheduler, "min_epochs", None),
             getattr(scheduler, "max_epochs", None)]
    known += scheduler.all_rungs() if isinstance(scheduler, ASHARule) else []
    return max([k for k in known if is_int(k)] + [1])


def _runs(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (ascending ``(first, last)`` indices) with neighbours joined.

    Example:
        >>> _runs([(1, 1), (3, 3), (4, 9)])
        [(1, 1), (3, 9)]
    """
    runs: list[tuple[int, int]] = []
    for first, last in spans:
        if runs and runs[-1][1] == first - 1:
            runs[-1] = (runs[-1][0], last)
        else:
            runs.append((first, last))
    return runs


def _counted(values: Sequence[Any], spans: list[tuple[int, int]]) -> tuple[int, str]:
    """How many values of ``values`` (a range, or a choice's options: each named) the
    index ``spans`` hold, and them in words.

    Example:
        >>> _counted(range(1, 10), [(0, 0), (2, 8)]), _counted([2, 5, 7], [(1, 2)])
        ((8, '1, 3..9'), (2, '5, 7'))
    """
    listed = ", ".join(str(values[a]) if a == b else f"{values[a]}..{values[b]}"
                       for a, b in spans) if isinstance(values, range) else ", ".join(
        repr(values[i]) for a, b in spans for i in range(a, b + 1))
    return sum(last - first + 1 for first, last in spans), listed


def _takes(name: str, value: int) -> bool:
    """Whether the Trainer takes ``value`` for argument ``name`` (``check_trainer_kwargs``)."""
    try:
        check_trainer_kwargs({name: value})
    except ConfigError:
        return False
    return True


def _trainer_words(name: str, value: int) -> str:
    """Trainer argument ``name`` set to ``value``, in the words the settings were given in.

    Example:
        >>> _trainer_words("min_epochs", 1)
        'trainer={"min_epochs": 1}'
    """
    return in_words(f"trainer.{name}: {value}", f'trainer={{"{name}": {value}}}')
