"""The strategies a warm start's refusal names as keeping each earlier run's results on its
own task (``warm_scales.TASK_AWARE``) are those whose class says so (``priors_on_own_task``),
in nevergrad's real registry: the list and the classes cannot drift apart."""

from __future__ import annotations

import nevergrad as ng

from lightning_nas.search.warm_scales import TASK_AWARE, told_as_results
from lightning_nas.strategies import DEFAULT_OPTIMIZER, NAS_OPTIMIZERS


def test_the_task_aware_strategies_are_the_registered_classes_that_say_so():
    registered = {name for name in ng.optimizers.registry
                  if getattr(ng.optimizers.registry[name], "priors_on_own_task", False)}
    assert set(TASK_AWARE) == registered
    assert len(TASK_AWARE) == len(set(TASK_AWARE))
    assert all(not told_as_results(name) for name in TASK_AWARE)
    assert all(told_as_results(name) for name in NAS_OPTIMIZERS if name not in TASK_AWARE)


def test_the_default_strategy_is_named_first():
    # the refusal's words are as before: (SurrogateEvolution, RegularizedEvolution, LocalSearch)
    assert TASK_AWARE[0] == DEFAULT_OPTIMIZER
    assert TASK_AWARE == ("SurrogateEvolution", "RegularizedEvolution", "LocalSearch")
