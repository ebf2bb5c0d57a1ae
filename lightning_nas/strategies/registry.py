"""Search strategies: any optimizer of nevergrad's registry, by name, seeded.

Importing this module registers the NAS strategies of ``lightning_nas.strategies.nas``
(``RegularizedEvolution``, ``Reinforce``, ``LocalSearch``, ``SurrogateEvolution``) in
nevergrad's registry, so they are usable by name like any nevergrad optimizer.

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> space = SearchSpace.from_dict({"k": {"choice": [3, 5, 7]}})
    >>> opt = make_optimizer("RandomSearch", space, budget=4, seed=0)
    >>> space.validate(opt.ask().value)["k"] in (3, 5, 7)
    True
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import re
import traceback
import warnings
from typing import Any

import nevergrad as ng
import numpy as np

from lightning_nas.arch import arch_key
from lightning_nas.errors import ConfigError, one_line, typed
from lightning_nas.space import SearchSpace
from lightning_nas.strategies import nas as nas_strategies
from lightning_nas.strategies.codec import candidate_of
from lightning_nas.strategies.given_object import given_as_object
from lightning_nas.strategies.transfer import tell_priors
from lightning_nas.wording import counted

__all__ = ["DEFAULT_OPTIMIZER", "DRY_ASKS", "NAS_OPTIMIZERS", "available_optimizers",
           "check_optimizer_name", "check_optimizer_runs", "make_optimizer", "optimizer_failed",
           "others", "replay_refused", "tells_not_asked", "told_again_error"]

#: the NAS strategies registered in nevergrad's registry by this package
NAS_OPTIMIZERS = tuple(nas_strategies.NAS_OPTIMIZERS)
#: the strategy recommended for architecture search (chosen on NAS-Bench-201, see README)
DEFAULT_OPTIMIZER = "SurrogateEvolution"

# cma (used by some nevergrad optimizers) warns at import when matplotlib is missing; import
# it once here, quietly, instead of letting that warning land in the middle of a search.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*matplotlib.*")
    try:
        import cma  # noqa: F401
    except ImportError:  # pragma: no cover - cma comes with nevergrad
        pass


def available_optimizers() -> list[str]:
    """Names usable as ``search.optimizer`` (nevergrad's registry, sorted)."""
    return sorted(ng.optimizers.registry)


def check_optimizer_name(name: str) -> None:
    """Raise ``ConfigError`` naming close registry names if ``name`` is not registered (or
    is no string: was a bare ``TypeError`` from ``OneShotNAS(optimizer=3)``).

    Args:
        name: a nevergrad registry name (``available_optimizers()``).

    Example:
        >>> check_optimizer_name("NGOp")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: unknown optimizer 'NGOp'; close names: NGOpt, ...
    """
    if not isinstance(name, str):
        raise ConfigError(f"optimizer must be a nevergrad registry name (a string such as "
                          f"'RandomSearch'), "
                          f"{given_as_object(name) or f'got {type(name).__name__} {name!r}'}")
    if name in ng.optimizers.registry:
        return
    close = difflib.get_close_matches(name, list(ng.optimizers.registry), n=6, cutoff=0.5)
    if not close and name.strip():  # names that share a prefix, ignoring case (was: for a
        # blank name, the first six of the registry)
        close = [n for n in available_optimizers() if n.lower().startswith(name[:3].lower())][:6]
    hint = f"close names: {', '.join(close)}" if close else "no close name"
    raise ConfigError(f"unknown optimizer {name!r}; {hint} (the NAS strategies: "
                      f"{', '.join(NAS_OPTIMIZERS)}; lightning_nas.strategies."
                      f"available_optimizers() lists all {len(ng.optimizers.registry)}; an "
                      f"optimizer of your own is registered in nevergrad.optimizers.registry "
                      f"by a module the search imports, e.g. the model's)")


def check_optimizer_runs(name: str, space: SearchSpace, budget: int | None = 1,
                         num_workers: int = 1, warm: bool = False, objectives: int = 1,
                         retrain: int = 0, priors: int = 0) -> None:
    """Build ``name`` over ``space`` and ask and tell it on a throwaway copy, so that an
    optimizer that cannot run the search fails here, before a run folder is written, not
    at a later proposal: one whose optional package is missing (``SMAC3``: ConfigSpace,
    ``AX``: ax, ``PymooNSGA2``: pymoo, imported at the second ask), one that needs a
    ``budget`` the search does not give (``NGOpt`` with a ``time_limit`` alone) or takes no
    ``num_workers`` > 1 (``Cobyla``), and one that runs nevergrad's ``MetaModel`` (``NGOpt``
    picks it for spaces of floats), which numpy >= 2.4 makes fail at about the 14th
    proposal: it is asked ``budget`` plus the workers times (at most ``DRY_ASKS``). The
    search may ask more (a repeat, a FAILED or REJECTED trial is asked but not counted in
    the budget): an optimizer that fails later stops it with a ``SearchError``
    (``optimizer_failed``). With ``warm`` (a warm start) it is also told an architecture it
    did not propose, which some cannot take (``EDA``, the ``EMNA`` family, ``Pymoo*``), then
    dry-run again told ``priors`` results first (which make ``MetaModel`` fit at once), and
    with ``retrain`` (``retrain_top_k``) told it again, as a re-trained prior's trial is,
    which ``BO`` and ``BOSplit`` cannot take (bayes_opt's ``NotUniqueError``; was: the
    search stopped at the first re-trained trial's tell). It is
    told a loss per objective (``objectives``, the search's count): one that takes a single
    objective only (``PymooCMAES``, ``PymooBIPOP``) fails here for several (was: told one
    loss, it passed, and the search stopped at its third proposal, two trials trained). A
    NAS strategy whose subclass set a setting out of its range is refused as it says
    (``NASOptimizer.check_settings``).

    Args:
        name: the optimizer's nevergrad registry name.
        space: the search space it proposes from.
        budget: the search's trials (None: none given, a time limit alone).
        num_workers: trials proposed at once.
        warm: whether a warm start tells it architectures it did not propose.
        objectives: the search's count of objectives (losses told per trial).
        retrain: the warm start's ``retrain_top_k``: trials of architectures it was told.
        priors: the results a warm start tells it first (at most; its sources' completed
            trials): the dry run tells them first.

    Example:
        >>> check_optimizer_runs("RandomSearch", SearchSpace.from_dict({"k": {"choice": [1, 2]}}))

    Raises:
        ConfigError: naming the missing module, or the error and the budget and workers.
    """
    try:
        _dry_run(name, space, budget, num_workers, objectives)
    except ConfigError:  # said as it is: a NAS strategy's invalid setting (``Setting``)
        raise
    except Exception as err:  # noqa: BLE001 - said as a config error, before any trial
        # (its frames' objects go: MetaModel's inner recast optimizer, whose thread would
        # keep the process from exiting while the error is kept as the ConfigError's context)
        traceback.clear_frames(err.__traceback__)
        missing = err if isinstance(err, ImportError) else err.__cause__
        if not isinstance(missing, ImportError):
            missing = err if "No module named" in str(err) else None
        if missing is not None:
            raise ConfigError(_missing_said(name, missing)) from None
        if budget is None and _runs(name, space, 100, num_workers, objectives):
            raise ConfigError(f"optimizer {name!r} needs a `budget` (it failed without one: "
                              f"{typed(err)}); give a budget beside "
                              f"time_limit, or an optimizer that needs none, e.g. "
                              f"{others(name, 'RandomSearch', DEFAULT_OPTIMIZER)}") from None
        numpy = _numpy_note(err)
        several = f", {objectives} objectives" if objectives > 1 else ""
        raise ConfigError(f"optimizer {name!r} fails on this space with budget {budget}"
                          f"{several} and {counted(num_workers, 'worker')} before any trial "
                          f"({typed(err)}){numpy}; pick another optimizer (e.g. "
                          f"{others(name, DEFAULT_OPTIMIZER, 'RandomSearch', 'TwoPointsDE')})"
                          ) from None
    if warm:  # (after the dry run: a missing package is said as such) was: nevergrad's
        # bare TellNotAskedNotSupportedError, with the run folder written
        try:
            takes = tells_not_asked(name, space, budget, num_workers)
        except Exception as err:  # noqa: BLE001 - said as a config error, before any trial
            raise ConfigError(f"optimizer {name!r} fails when told an earlier result "
                              f"({typed(err)}); pick another optimizer (e.g. "
                              f"{others(name, DEFAULT_OPTIMIZER, 'NGOpt', 'TwoPointsDE')}) or drop "
                              f"warm_start") from None
        if not takes:
            raise ConfigError(f"optimizer {name!r} cannot be told results it did not propose, "
                              f"so it cannot take the warm_start runs' results; pick another "
                              f"optimizer (e.g. "
                              f"{others(name, DEFAULT_OPTIMIZER, 'NGOpt', 'TwoPointsDE')}) or drop "
                              f"warm_start")
        if priors:  # told the priors first: one that then fits nevergrad's MetaModel at
            # once (was: dry-run without them, and failed at the search's first proposal)
            _check_with_priors(name, space, budget, num_workers, objectives, priors)
        if retrain:
            _check_told_again(name, space, budget, num_workers, retrain)


def tells_not_asked(name: str, space: SearchSpace, budget: int | None = None,
                    num_workers: int = 1) -> bool:
    """Whether optimizer ``name`` can be told the result of an architecture it did not
    propose (a throwaway copy is told one); ``EDA``, the ``EMNA`` family, ``Pymoo*`` cannot.

    Example:
        >>> space = SearchSpace.from_dict({"k": {"choice": [1, 2]}})
        >>> tells_not_asked("RandomSearch", space), tells_not_asked("EDA", space)
        (True, False)

    Raises:
        Exception: another error the optimizer raises when built or told, as it is.
    """
    try:
        tell_priors(make_optimizer(name, space, budget=budget, num_workers=num_workers,
                                   seed=0), [(space.sample(seed=0), 0.0, "earlier")])
    except ng.errors.TellNotAskedNotSupportedError:
        return False
    return True


def _check_with_priors(name: str, space: SearchSpace, budget: int | None, num_workers: int,
                       objectives: int, priors: int) -> None:
    """Raise ``ConfigError`` where optimizer ``name`` fails its dry run once told
    ``priors`` earlier results first, as a warm start tells them."""
    try:
        _dry_run(name, space, budget, num_workers, objectives, priors)
    except Exception as err:  # noqa: BLE001 - said as a config error, before any trial
        traceback.clear_frames(err.__traceback__)
        several = f", {objectives} objectives" if objectives > 1 else ""
        raise ConfigError(f"optimizer {name!r} fails on this space with budget {budget}"
                          f"{several} and {counted(num_workers, 'worker')} once told the "
                          f"warm_start runs' {counted(priors, 'result')}, before any trial "
                          f"({typed(err)}){_numpy_note(err)}; pick another optimizer (e.g. "
                          f"{others(name, DEFAULT_OPTIMIZER, 'NGOpt', 'TwoPointsDE')}) or drop "
                          f"warm_start") from None


def told_again_error(name: str, space: SearchSpace, budget: int | None = None,
                     num_workers: int = 1) -> str | None:
    """Why optimizer ``name`` fails when told an earlier result and then the same
    architecture again (one line), or None where it takes it: a trial ``retrain_top_k``
    trains of a prior, or two warm-start sources' results of one architecture, are told so
    (``BO``: bayes_opt refuses a point it holds).

    Example:
        >>> told_again_error("RandomSearch", SearchSpace.from_dict({"k": {"choice": [1, 2]}}))
    """
    arch = space.sample(seed=0)
    try:
        optimizer = make_optimizer(name, space, budget=budget, num_workers=num_workers, seed=0)
        tell_priors(optimizer, [(arch, 0.0, "earlier")])
        optimizer.tell(candidate_of(optimizer.parametrization, arch), 0.0)
    except Exception as err:  # noqa: BLE001 - said as a config error, before any trial
        # (bayes_opt's advice, a setting of its own that no search takes, left out)
        return re.split(r"\.\s+(?=[A-Z])", one_line(err, 200))[0]
    return None


def _check_told_again(name: str, space: SearchSpace, budget: int | None, num_workers: int,
                      retrain: int) -> None:
    """Raise ``ConfigError`` where optimizer ``name`` cannot be told an architecture again,
    as the trial ``retrain_top_k`` (``retrain``) trains of a prior is told."""
    said = told_again_error(name, space, budget, num_workers)
    if said is not None:
        raise ConfigError(
            f"optimizer {name!r} cannot be told an architecture it was told before "
            f"({said}), and `retrain_top_k`={retrain} trains warm_start results "
            f"it is told first again; pick another optimizer (e.g. "
            f"{others(name, DEFAULT_OPTIMIZER, 'NGOpt', 'TwoPointsDE')}) or `retrain_top_k`: 0")


def replay_refused(name: str, ask: int, seeded: bool, run_dir: str) -> str:
    """The message of a resume refused because the replay of run ``run_dir``'s optimizer
    ``name`` (one that ``tells_not_asked`` says cannot be told what it did not propose)
    proposed another architecture than the run did at ``ask``; ``seeded``: the run has a
    seed. What to do.

    Example:
        >>> print(replay_refused("EDA", 0, False, "runs/a"))  # doctest: +ELLIPSIS
        cannot resume runs/a with optimizer 'EDA': the run has no seed (`seed: null`), so ...
    """
    why = ("the run has no seed (`seed: null`), so the replay of its optimizer proposed other "
           "architectures than the run did" if not seeded else
           "the replay of its optimizer proposed other architectures than the run did, though "
           "the run is seeded (an optimizer that is not deterministic under its seed, or "
           "another nevergrad version)")
    seed = ("; a search with a seed (`seed: 0`, `Search(..., seed=0)`, or `seed_everything: "
            "true`, whose drawn seed a resume takes) replays exactly and resumes" if not seeded
            else "")
    return (f"cannot resume {run_dir} with optimizer {name!r}: {why} (from ask {ask} of the "
            f"replay on), and {name!r} cannot be told the results of architectures it did not "
            f"propose{seed}; to go on from this run's results, search in a new run_dir with "
            f"another optimizer (e.g. {others(name, DEFAULT_OPTIMIZER, 'NGOpt', 'TwoPointsDE')}) "
            f"warm-started from it (`warm_start: "
            f"[{run_dir}]`); nothing was trained")


def others(name: str, *suggested: str) -> str:
    """The optimizers of ``suggested`` other than ``name``, said as a list: what a message
    that refuses ``name`` offers instead (was: "pick another optimizer (e.g.
    SurrogateEvolution, ...)" of SurrogateEvolution itself).

    Example:
        >>> others("RandomSearch", "SurrogateEvolution", "RandomSearch", "TwoPointsDE")
        'SurrogateEvolution, TwoPointsDE'
    """
    return ", ".join(option for option in suggested if option != name)


def optimizer_failed(name: str, call: str, err: Exception, budget: int | None,
                     completed: int) -> str:
    """The message of a search stopped by its optimizer's own error: ``call`` (``"ask 9"``,
    ``"tell 8"``) raised ``err`` after ``completed`` trials; what to do.

    Example:
        >>> print(optimizer_failed("LHSSearch", "ask 9", AssertionError("Over the budget"),
        ...                        8, 7))  # doctest: +ELLIPSIS
        optimizer 'LHSSearch' failed at its ask 9 (AssertionError: Over the budget) after 7 ...
    """
    said = f"optimizer {name!r} failed at its {call} ({one_line(err, 200)}) " + (
        f"after {counted(completed, 'completed trial')} (those running then were let finish), "
        f"the best exported" if completed else "before any trial completed")
    if isinstance(err, AssertionError) and "budget" in str(err).lower():
        return (f"{said}: nevergrad's sequence and budget-bound optimizers cannot propose more "
                f"than `budget` ({budget}) candidates, and this search asked for more (a repeat "
                f"of an evaluated architecture, a FAILED or REJECTED trial is asked but not "
                f"counted); search again in a new run_dir with the default optimizer "
                f"({DEFAULT_OPTIMIZER}) or one without a fixed sequence, e.g. RandomSearch "
                f"or NGOpt")
    return (f"{said}: an error of the optimizer itself, not of a trial{_numpy_note(err)}; "
            f"search again in a new run_dir with another optimizer (e.g. "
            f"{others(name, DEFAULT_OPTIMIZER, 'RandomSearch', 'NGOpt')})")


def _missing_said(name: str, missing: ImportError) -> str:
    """The message of optimizer ``name`` refused for ``missing``: a package not installed,
    or one installed in a version that lacks what the optimizer imports (nevergrad 1.0.12's
    ``Pymoo*`` import ``pymoo.factory``, which pymoo 0.6 removed; was: said "not installed"
    of the installed pymoo)."""
    said = f"{type(missing).__name__}: {missing}"
    package = (getattr(missing, "name", None) or "").partition(".")[0]
    pymoo = (f"nevergrad {ng.__version__}'s Pymoo* optimizers import pymoo.factory, which "
             f"pymoo 0.6 removed: install pymoo<0.6 (`pip install \"pymoo<0.6\"`)")
    if not package or not _installed(package):
        return (f"optimizer {name!r} needs a package that is not installed ({said}); "
                f"{pymoo if package == 'pymoo' else 'install it'}, or pick another optimizer "
                f"(e.g. {others(name, DEFAULT_OPTIMIZER, 'RandomSearch')})")
    fix = (pymoo if package == "pymoo" else
           f"install the version of {package} that nevergrad {ng.__version__} (or the module "
           f"of the optimizer) was written for")
    return (f"optimizer {name!r} cannot import what it needs from the installed {package} "
            f"{_version(package)}, a version it cannot use ({said}); {fix}, or pick another "
            f"optimizer (e.g. {others(name, DEFAULT_OPTIMIZER, 'RandomSearch')})")


def _installed(package: str) -> bool:
    """Whether top-level ``package`` can be found (without importing it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a module in sys.modules without a spec
        return False


def _version(package: str) -> str:
    """The installed version of ``package``'s distribution, or ``"(version unknown)"``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def _numpy_note(err: Exception) -> str:
    """Why nevergrad's MetaModel fails under numpy >= 2.4 (``err`` says so), or ``""``."""
    return (f"; nevergrad {ng.__version__}'s MetaModel calls float() on a one-element "
            f"array, which numpy {np.__version__} refuses: install numpy<2.4"
            if "0-dimensional" in str(err) else "")


#: proposals the check asks of an optimizer that runs nevergrad's MetaModel, at most
DRY_ASKS = 40


def _dry_run(name: str, space: SearchSpace, budget: int | None, num_workers: int,
             objectives: int = 1, priors: int = 0) -> None:
    """Ask and tell a throwaway optimizer a loss per objective (several: its
    ``num_objectives`` set first, as a ``Pymoo*`` optimizer spends its first ask on learning
    it): twice (recast optimizers start their thread and import their package at the second
    ask), ``budget`` plus the workers times (at most ``DRY_ASKS``) where it runs nevergrad's
    MetaModel; first told ``priors`` distinct earlier results (at most ``DRY_ASKS``), as a
    warm start tells them (``tell_priors``)."""
    optimizer = make_optimizer(name, space, budget=budget, num_workers=num_workers, seed=0)
    if objectives > 1:
        optimizer.num_objectives = objectives
    asks = (min(budget or DRY_ASKS, DRY_ASKS) + num_workers if _uses_metamodel(optimizer)
            else 2)
    losses = np.random.RandomState(0)
    if priors:
        earlier = [(arch, float(loss[0]) if objectives == 1 else loss.tolist(), "earlier")
                   for arch in _distinct(space, min(priors, DRY_ASKS))
                   for loss in [losses.uniform(size=objectives)]]
        tell_priors(optimizer, earlier)
    for _ in range(asks):
        loss = losses.uniform(size=objectives)
        optimizer.tell(optimizer.ask(), float(loss[0]) if objectives == 1 else loss.tolist())


def _distinct(space: SearchSpace, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` distinct architectures of ``space`` (fewer in a smaller space), as a
    warm start's priors are."""
    found: dict[str, dict[str, Any]] = {}
    for seed in range(4 * count):
        found.setdefault(arch_key(arch := space.sample(seed=seed)), arch)
        if len(found) == count:
            break
    return list(found.values())


def _runs(name: str, space: SearchSpace, budget: int, num_workers: int,
          objectives: int = 1) -> bool:
    """Whether the dry run passes with ``budget``."""
    try:
        _dry_run(name, space, budget, num_workers, objectives)
    except Exception:  # noqa: BLE001 - it does not
        return False
    return True


def _uses_metamodel(optimizer: ng.optimizers.base.Optimizer) -> bool:
    """Whether ``optimizer`` or one it delegates to (``NGOpt``'s choice, a chain's or a
    portfolio's parts) is nevergrad's surrogate-model ``MetaModel``."""
    if type(optimizer).__name__ == "_MetaModel":
        return True
    parts = [getattr(optimizer, "optim", None), *getattr(optimizer, "optims", []),
             *getattr(optimizer, "optimizers", [])]
    return any(_uses_metamodel(part) for part in parts
               if isinstance(part, ng.optimizers.base.Optimizer))


def make_optimizer(name: str, space: SearchSpace, budget: int | None = None,
                   num_workers: int = 1, seed: int | None = None) -> ng.optimizers.base.Optimizer:
    """Create nevergrad optimizer ``name`` over ``space``.

    Args:
        name: a key of ``nevergrad.optimizers.registry`` (e.g. ``"NGOpt"``, ``"RandomSearch"``).
        space: the search space; candidates' ``.value`` are plain architecture dicts.
        budget: number of evaluations the optimizer plans for (a hint for nevergrad).
        num_workers: number of evaluations run at once.
        seed: seeds the parametrization's random state: the same seed and the same told
            losses give the same sequence of proposals.
    """
    check_optimizer_name(name)
    parametrization = space.to_nevergrad()
    if seed is not None:
        parametrization.random_state = np.random.RandomState(seed)
    return ng.optimizers.registry[name](parametrization, budget=budget, num_workers=num_workers)
