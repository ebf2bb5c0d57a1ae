"""The Trainer settings a scheduler rule cannot judge trials under: refused before a search
trains (``Search``) and when a judged ``fit`` starts (``PruningCallback``).

A rule judges each trial by its monitored value after the epochs it validates, and a trial
that reached ``max_epochs`` is complete: validation must run once per epoch or every ``k``
epochs where ``k`` divides each epoch the rule judges at (ASHA's and Hyperband's rungs;
median compares trials at any validated epoch), nothing else may end a trial
at another epoch (``max_time``, ``max_steps``, an ``EarlyStopping`` callback of the Trainer's
or of the module's ``configure_callbacks()``) or train on past a stop (``min_epochs``,
``min_steps``), and a rule that pauses trials needs the ``last.ckpt`` it promotes them from
and a resumed fit that trains as one in one go (no ``reload_dataloaders_every_n_epochs``).
A rule's ``mode`` must be its monitor's (``check_rule_mode``): the other way round it stops
the best runs. (An ``EarlyStopping`` on another metric than the search's, or on it the other
way round, is warned of by ``stopping_checks``.)

Example:
    >>> check_validates_each_epoch({"max_epochs": 9}, "asha")
    >>> from lightning_nas.search.schedulers import ASHARule
    >>> check_validates_each_epoch({"check_val_every_n_epoch": 2}, ASHARule(2, 4, eta=2))
    >>> check_validates_each_epoch({"max_steps": 5}, "median")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: scheduler 'median' stops trials at epochs up to ...
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int
from lightning_nas.search.objectives import mode_for
from lightning_nas.search.rule_epochs import check_record_epochs, rungs_missed, rungs_unknown
from lightning_nas.search.rule_traits import lists_its_rungs
from lightning_nas.search.schedulers import (
    ASHARule,
    MedianRule,
    Rule,
)
from lightning_nas.search.setting_checks import in_words
from lightning_nas.user_warnings import warn_user

__all__ = ["callbacks_of", "check_epoch_interval", "check_rule_mode", "check_validates_each_epoch",
           "configured_callbacks", "duration_timers", "endless_text", "module_callbacks",
           "split_callbacks", "warn_endless"]


def module_callbacks(model: Any) -> list[Any]:
    """The callbacks ``model.configure_callbacks()`` returns, as a list; ``[]`` when it
    raises (e.g. on a module not attached to a Trainer yet: a trial's ``fit`` asks again)."""
    found = configured_callbacks(model)
    return [] if found is None else found


def configured_callbacks(model: Any) -> list[Any] | None:
    """The callbacks ``model.configure_callbacks()`` returns, as a list; None when it raises
    (e.g. it reads ``self.trainer`` and no Trainer is attached: ``trial_callbacks`` asks it
    attached to a trial's)."""
    try:
        found = model.configure_callbacks()
    except Exception:  # noqa: BLE001 - the module's own code: a trial's fit says its error
        return None
    return list(found) if isinstance(found, Sequence) else [] if found is None else [found]


def split_callbacks(callbacks: Sequence[Any], model: Any) -> tuple[list[Any], list[Any]]:
    """A fitting Trainer's ``callbacks``: its own, and those of ``model``'s
    ``configure_callbacks()`` (Lightning put them among its own, in place of those of their
    types); the module is asked again only when an ``EarlyStopping`` or a ``Timer`` with a
    duration is among them."""
    if not _early_stopping(list(callbacks)) and not duration_timers(list(callbacks)):
        return list(callbacks), []
    module = module_callbacks(model)
    kinds = {type(callback) for callback in module}
    return [c for c in callbacks if type(c) not in kinds], module


def _early_stopping(callbacks: object, source: str = "trainer.callbacks") -> list[str]:
    """The ``EarlyStopping`` callbacks (objects, or config nodes of its class or a subclass)
    among ``callbacks``, as ``trainer.callbacks[i] (EarlyStopping)`` for a Trainer's, else
    as ``<source> (EarlyStopping)``."""
    from lightning.pytorch.callbacks import EarlyStopping

    return [where for where, _ in callbacks_of(callbacks, EarlyStopping, source)]


def duration_timers(callbacks: object, source: str = "trainer.callbacks") -> list[str]:
    """The ``Timer`` callbacks with a ``duration`` (objects, or config nodes of its class or
    a subclass) among ``callbacks``, named as ``_early_stopping`` names its: such a Timer
    ends a fit, as ``max_time`` (Lightning's own Timer) does; one without only measures.

    Example:
        >>> from lightning.pytorch.callbacks import Timer
        >>> duration_timers([Timer({"minutes": 5}), Timer(None)])
        ['trainer.callbacks[0] (Timer)']
    """
    from lightning.pytorch.callbacks import Timer

    from lightning_nas.config.nodes import is_node, node_args

    return [where for where, item in callbacks_of(callbacks, Timer, source)
            if (node_args(item).get("duration") if is_node(item)
                else item.time_remaining()) is not None]


def callbacks_of(callbacks: object, kind: type | tuple[type, ...],
                 source: str = "trainer.callbacks") -> list[tuple[str, Any]]:
    """The callbacks of class ``kind`` (or of one of a tuple of classes) or a subclass among
    ``callbacks`` (objects or config nodes; one alone or a list), each with where it is:
    ``trainer.callbacks[i] (Class)`` for a Trainer's list (``trainer.callbacks.NAME (Class)``
    within ``config.node_labels.names_said`` naming it), else ``<source> (Class)``. A
    node whose class does not import is left to the checks of the callbacks' own arguments.

    Example:
        >>> from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
        >>> callbacks_of([ModelCheckpoint(), EarlyStopping("val_loss")], EarlyStopping)[0][0]
        'trainer.callbacks[1] (EarlyStopping)'
    """
    from lightning_nas.config.instantiate import import_object
    from lightning_nas.config.node_labels import node_label
    from lightning_nas.config.nodes import is_node, target_path

    items = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    found = []
    for i, item in enumerate(items):
        try:
            cls = import_object(target_path(item)) if is_node(item) else type(item)
        except ConfigError:  # said by the checks of the callbacks' own arguments
            continue
        if inspect.isclass(cls) and issubclass(cls, kind):
            indexed = isinstance(callbacks, (list, tuple)) and source == "trainer.callbacks"
            where = node_label(source, i) if indexed else source
            found.append((f"{where} ({cls.__name__})", item))
    return found


def check_rule_mode(rule: Rule, monitor: str, mode: str | None = None) -> None:
    """Refuse a ``rule`` whose ``mode`` is not ``monitor``'s: ``mode`` when given, else the
    one its name says (``objectives.mode_for``; a name that says neither is not checked).

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> check_rule_mode(MedianRule(mode="min"), "val_loss")
        >>> check_rule_mode(MedianRule(), "val_score")
        >>> check_rule_mode(MedianRule(), "val_loss")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: rule MedianRule has mode='max', but monitor ...

    Raises:
        ConfigError: naming the rule's mode, the monitor's, and how to build the rule.
    """
    said, name, ruled = "is given as", type(rule).__name__, getattr(rule, "mode", None)
    if ruled is None:  # a duck-typed rule that keeps no mode: nothing to compare
        return
    if mode is None:
        try:
            mode, said = mode_for(monitor), "says by its name"
        except ConfigError:  # the name says neither: the rule's mode is taken as meant
            return
    if mode != ruled:  # (a search refuses such a rule too)
        raise ConfigError(
            f"rule {name} has mode={ruled!r}, but monitor {monitor!r} {said} mode "
            f"{mode!r}: the rule would stop the best runs; build it with mode={mode!r}, e.g. "
            f"{name}(..., mode={mode!r}), or give PruningCallback(..., mode={ruled!r}) if "
            f"{'higher' if mode == 'min' else 'lower'} {monitor!r} is better")


def check_validates_each_epoch(trainer: Mapping[str, object], scheduler: object,
                               module_callbacks: object = None, *, alone: bool = False,
                               instead: str | None = None) -> None:
    """Refuse Trainer settings under which validation does not run exactly once per epoch (a
    rule judges each trial by its monitored value after the epochs it validates), but for
    ``check_val_every_n_epoch`` above 1 where ``scheduler``, a rule object, judges at validated
    epochs alone (``Rule.missed_by``: a multiple of it at each ASHA or Hyperband rung, any
    under ``MedianRule``; a rule's name, or a rule of another kind: refused; one that misses a
    rung is refused naming the rungs, ``ASHARule.all_rungs``, and the values that work, an ASHA
    subclass that overrides ``rungs_of`` but not ``all_rungs`` saying so: its rungs are not
    known), that end a trial before ``max_epochs`` (``max_time``, ``max_steps``, an
    ``EarlyStopping`` callback or, in a search, a ``Timer`` with a ``duration``, also among
    ``module_callbacks``: what the module's
    ``configure_callbacks()`` returned), or that make Lightning ignore a rule's stop
    (``min_epochs``, ``min_steps`` above 1), or, for a rule that pauses trials, that write no
    ``last.ckpt`` to promote them from (``enable_checkpointing: false``) or that resume them
    otherwise than a fit in one go trains (``reload_dataloaders_every_n_epochs`` above 0), or,
    in a search, a rule whose ``record`` override takes no ``epochs`` under a ``k`` above 1
    (``rule_epochs.check_record_epochs``). ``alone``: for a ``PruningCallback`` in a plain
    ``fit`` (which records no curve), whose messages say to leave it out, not to search without
    a scheduler; ``instead``: another way out to say than those.

    Example:
        >>> check_validates_each_epoch({"max_epochs": 9, "val_check_interval": 1.0}, "asha")
        >>> check_validates_each_epoch({"check_val_every_n_epoch": 2}, "asha")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: scheduler 'asha' judges each trial by its ...

    Raises:
        ConfigError: naming the setting and its value, and what works instead.
    """
    every = trainer.get("check_val_every_n_epoch", 1)
    interval = trainer.get("val_check_interval")
    # every that many batches across epochs: once per epoch where it is an epoch's batches,
    # known when the fit has set up its loaders (check_epoch_interval; was: refused here)
    across = every is None and is_int(interval)
    # every k epochs: taken where each epoch the rule judges at validates (a rule records
    # each value at its epoch, Rule.record; was: refused for any k above 1)
    missed = scheduler.missed_by(every) if isinstance(scheduler, Rule) and is_int(
        every) and every > 1 else None
    bad = [f"trainer.check_val_every_n_epoch={every!r}"] if every != 1 and not across and \
        missed is None else []
    if interval is not None and not across and (
            isinstance(interval, (bool, int)) or interval != 1.0):
        bad.append(f"trainer.val_check_interval={interval!r}")
    if missed and bad:  # named together
        bad.insert(0, f"trainer.check_val_every_n_epoch={every!r}")
    # a trial's rule (an object) by the search.scheduler name it was made from, if any
    name = scheduler if isinstance(scheduler, str) else getattr(
        scheduler, "setting", None) or type(scheduler).__name__
    ends = [f"trainer.{key}={trainer[key]!r}" for key in ("max_time", "max_steps")
            if trainer.get(key) not in (None, -1)]
    ends += _early_stopping(trainer.get("callbacks"))
    ends += _early_stopping(module_callbacks, "the module's configure_callbacks()")
    if not alone:  # a Timer with a duration (max_time's own, in a plain fit, is taken there)
        ends += duration_timers(trainer.get("callbacks"))
        ends += duration_timers(module_callbacks, "the module's configure_callbacks()")
    instead = instead or ("leave the PruningCallback out" if alone else
                          "search without a scheduler")
    median = scheduler == "median" or isinstance(scheduler, MedianRule)  # never promotes
    if ends:  # a trial cut off by them would count as complete, at any epoch
        limit = "" if alone else " (search.time_limit bounds the search's time)"
        raise ConfigError(
            f"scheduler {name!r} stops {'' if median else 'and promotes '}trials at epochs up "
            f"to max_epochs, but "
            f"{' and '.join(ends)} would end a trial at another epoch and count it as "
            f"complete; leave {'them' if len(ends) > 1 else 'it'} out{limit} or {instead}")
    held = [f"trainer.{key}={trainer[key]!r}" for key in ("min_epochs", "min_steps")
            if is_int(trainer.get(key))
            and trainer[key] > 1]
    if held:  # Lightning trains on until then: the rule's pauses and stops are cancelled
        raise ConfigError(
            f"scheduler {name!r} stops (or pauses) a trial at the epoch it judges it, but "
            f"{' and '.join(held)} makes Lightning ignore a stop until "
            f"{'they are' if len(held) > 1 else 'it is'} reached; leave "
            f"{'them' if len(held) > 1 else 'it'} out (the "
            f"{'rule' if alone else 'scheduler'}'s own {'' if alone else 'search.'}min_epochs "
            f"sets the epochs a trial trains before it is judged) or {instead}")
    pauses = scheduler.pauses if isinstance(scheduler, Rule) else scheduler in (
        "asha", "hyperband")
    if pauses and trainer.get("enable_checkpointing") is False:
        raise ConfigError(
            f"scheduler {name!r} pauses trials and continues a promoted one from its "
            f"last.ckpt, but trainer.enable_checkpointing=False writes none; leave it out "
            f"(or {in_words('true', 'True')}), or use scheduler 'median' (it stops trials, "
            f"never pauses them) or none")
    reload = trainer.get("reload_dataloaders_every_n_epochs")
    if pauses and is_int(reload) and reload > 0:
        # Lightning makes a reload epoch's training iterator twice in a fit, once in the
        # epoch a fit resumes at, and counts reloads from that epoch: a promoted trial
        # would draw other shuffles (and reload at other epochs) than a fit in one go
        raise ConfigError(
            f"scheduler {name!r} pauses trials and continues a promoted one from its "
            f"last.ckpt, but trainer.reload_dataloaders_every_n_epochs={reload} makes "
            f"Lightning draw other shuffles{'' if reload == 1 else ' and reload at other epochs'}"
            f" in a fit resumed from a checkpoint than in one that trains in one go: the "
            f"promoted trial would not train what its uninterrupted fit does; leave it out "
            f"(or 0), or use scheduler 'median' (it stops trials, never pauses them) or none")
    if missed and not bad:
        raise rungs_missed(name, scheduler, every, missed, instead, alone)
    if bad == [f"trainer.check_val_every_n_epoch={every!r}"] and isinstance(
            scheduler, ASHARule) and not lists_its_rungs(scheduler):  # judged at epochs
        raise rungs_unknown(name, scheduler, every, instead, alone)  # not known to us
    if bad:
        raise ConfigError(
            f"scheduler {name!r} judges each trial by its validation after every epoch, but "
            f"{' and '.join(bad)} does not validate once per epoch; leave "
            f"{'them' if len(bad) > 1 else 'it'} out (check_val_every_n_epoch=1, "
            f"val_check_interval=1.0) or {instead}"
            + ("" if alone else in_words(" (search.scheduler: none)", " (scheduler='none')")))
    if not alone:  # a search records each trial's curve into the rule at its epochs
        check_record_epochs(scheduler, every, instead)


def check_epoch_interval(every: object, interval: object, batches: float, scheduler: object,
                         *, alone: bool = False) -> None:
    """Refuse an integer ``val_check_interval`` with ``check_val_every_n_epoch=None`` (a
    validation every that many training batches, across epochs) that is not ``batches``,
    the training batches of an epoch as the fit set up its loaders: a rule judges each
    trial at the end of every epoch, so its rungs line up with the validations only where
    they come at each epoch's end (``check_validates_each_epoch`` lets such an interval
    through: the batches are not known before the fit). Other settings pass.

    Example:
        >>> check_epoch_interval(None, 3, 3, "asha")
        >>> check_epoch_interval(None, 2, 3, "asha")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.BatchSettingError: trainer.val_check_interval=2 with ...

    Raises:
        BatchSettingError: naming the interval and the epoch's batches, and what works.
    """
    from lightning_nas.errors import BatchSettingError

    if every is not None or not is_int(interval) or interval == batches:
        return
    name = scheduler if isinstance(scheduler, str) else getattr(
        scheduler, "setting", None) or type(scheduler).__name__
    instead = "leave the PruningCallback out" if alone else "search without a scheduler"
    if not math.isfinite(batches):  # an IterableDataset's: no count to give
        epoch, give = "has no length (an iterable dataset)", ""
    else:
        epoch, give = (f"is {int(batches)} batches",
                       f"give val_check_interval={int(batches)} (an epoch's batches), or ")
    raise BatchSettingError(
        f"trainer.val_check_interval={interval} with check_val_every_n_epoch=None validates "
        f"every {interval} training batches, across epochs, but an epoch here {epoch}: "
        f"scheduler {name!r} judges each trial by its validation at the end of every epoch; "
        f"{give}leave both out (check_val_every_n_epoch=1, val_check_interval=1.0), or "
        f"{instead}")


def warn_endless(trainer: Mapping[str, Any], module_callbacks: object = None,
                 what: str = "search") -> bool:
    """Warn (and return True) when ``trainer`` sets ``max_epochs: -1`` (Lightning's "no
    limit") with no ``max_steps`` or ``max_time`` that limits a fit and no ``EarlyStopping``
    or ``Timer`` with a duration among its callbacks or ``module_callbacks``: each trial
    would train until another callback stops it, the first one for ever where none does
    (was: said nothing; a callback of the user's own may stop a fit, so it is no error);
    ``what``: ``"search"``, ``"sweep"`` (a Hydra sweep's jobs), or what else trains with
    them (``"fit"``: its words).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     warn_endless({"max_epochs": -1}), warn_endless({"max_epochs": -1, "max_steps": 9})
        (True, False)
    """
    said = endless_text(trainer, module_callbacks, what)
    if said is not None:
        warn_user(said)
    return said is not None


def endless_text(trainer: Mapping[str, Any], module_callbacks: object = None,
                 what: str = "search") -> str | None:
    """The text ``warn_endless`` warns (None: a fit that something ends).

    Example:
        >>> endless_text({"max_epochs": -1}, what="sweep")[-69:]
        'for ever where none does; give max_epochs a number or add one of them'
    """
    if trainer.get("max_epochs") != -1 or any(
            trainer.get(key) not in (None, -1) for key in ("max_steps", "max_time")):
        return None
    if _early_stopping(trainer.get("callbacks")) or _early_stopping(module_callbacks) or \
            duration_timers(trainer.get("callbacks")) or \
            duration_timers(module_callbacks):  # (max_time's kind;
        return None  # was: not counted, and such a fit was said to have no end)
    one, each = {"search": ("a trial", "each"), "sweep": ("a job", "each")}.get(
        what, (f"the {what}", "it"))
    return (f"trainer.max_epochs=-1 is Lightning's 'no limit', and no max_steps, max_time, "
            f"EarlyStopping callback or Timer with a duration ends {one}: {each} trains "
            f"until a callback of "
            f"yours stops it, for ever where none does; give max_epochs a number or "
            f"add one of them")
