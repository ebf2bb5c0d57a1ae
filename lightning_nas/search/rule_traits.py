"""What the code around a scheduler rule reads of it, beside its decisions: the name a
message gives it (``rule_name``: its ``make_rule`` setting, else its class's) and whether
the epochs it judges at are known before a trial trains (``lists_its_rungs``: not for an
``ASHARule`` subclass that overrides ``rungs_of`` alone), and the paused trial its
``promotion`` names (``promoted_of``: one of them, or a ``SearchError``).

Example:
    >>> from lightning_nas.search.schedulers import ASHARule
    >>> rule_name(ASHARule()), lists_its_rungs(ASHARule(max_epochs=9))
    ('ASHARule', True)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING

from lightning_nas.errors import SearchError

if TYPE_CHECKING:  # (schedulers imports this module: ASHARule.missed_by)
    from lightning_nas.search.schedulers import ASHARule, Rule

__all__ = ["lists_its_rungs", "promoted_of", "rule_name"]


def lists_its_rungs(rule: ASHARule) -> bool:
    """Whether ``rule``'s ``all_rungs`` is its class's ``rungs_of``'s (defined in the same
    class or below it): one that overrides ``rungs_of`` alone may judge at epochs its
    inherited ``all_rungs`` does not list.

    Example:
        >>> from lightning_nas.search.schedulers import ASHARule
        >>> class Odd(ASHARule):
        ...     def rungs_of(self, key):
        ...         return [3, 6]
        >>> lists_its_rungs(ASHARule(max_epochs=6)), lists_its_rungs(Odd(max_epochs=6))
        (True, False)
    """
    def owner(name: str) -> type:
        return next(cls for cls in type(rule).__mro__ if name in vars(cls))

    return issubclass(owner("all_rungs"), owner("rungs_of"))


def rule_name(rule: Rule) -> str:
    """How a message names ``rule``: its ``setting`` (``make_rule``'s name), else its class's.

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> rule_name(MedianRule())
        'MedianRule'
    """
    return getattr(rule, "setting", None) or type(rule).__name__


def promoted_of(rule: Rule, paused: Mapping[Hashable, int]) -> Hashable | None:
    """The paused trial ``rule.promotion(paused)`` promotes (``paused``: ``{trial id: epochs
    trained}``), or None.

    Raises:
        SearchError: where it names no key of ``paused`` (a rule of one's own that promotes
            by another name, or a trial that is not paused; was: a ``KeyError`` out of the
            search loop, the trials running then left RUNNING).

    Example:
        >>> from lightning_nas.search.schedulers import ASHARule
        >>> promoted_of(ASHARule(max_epochs=9), {3: 1}) is None  # no values: none promotable
        True
    """
    promoted = rule.promotion(paused)
    if promoted is None or promoted in paused:
        return promoted
    listed = ", ".join(map(str, sorted(paused, key=str))) or "none"
    raise SearchError(f"scheduler {rule_name(rule)}'s promotion returned {promoted!r}, which is "
                      f"no paused trial (paused: {listed}): a rule's promotion(paused) returns "
                      f"one of the keys of paused, {{trial id: epochs trained}}, or None")
