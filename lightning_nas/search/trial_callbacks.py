"""What a module's ``configure_callbacks()`` returns as a trial's ``fit`` asks it, for the
checks before training: Lightning asks it with the module attached to the trial's Trainer,
so a module that reads ``self.trainer`` there (its ``max_epochs``, its
``accumulate_grad_batches``) raises when asked without one, and may return other callbacks
for each value a searched Trainer argument takes. ``TrialCallbacks`` asks it as each trial
will: alone where that works (its answer is every trial's), else attached to a Trainer
built from a trial's settings, nothing trained; ``check_module_stops`` refuses, under a
scheduler, an ``EarlyStopping`` it returns for some or all trials (was: the module asked
without a Trainer said none, and every trial drawing such a value failed as its fit set
up); ``check_fit_callbacks`` asks a fit's or a fine-tune's built module the same way.

Example:
    >>> import lightning.pytorch as pl
    >>> TrialCallbacks(pl.LightningModule(), None)({"max_epochs": 3})
    []
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.trainer_checks import check_validation_runs
from lightning_nas.errors import ConfigError
from lightning_nas.search.dry_builds import attempt_build, dry_spec, global_state_kept
from lightning_nas.search.rule_checks import check_validates_each_epoch, configured_callbacks
from lightning_nas.search.trial import TrialSpec, build_trainer

__all__ = ["ASKED", "TrialCallbacks", "check_fit_callbacks", "check_module_stops"]

#: the most Trainer settings a module that reads its Trainer is asked under; past them its
#: callbacks are not known (None: a check that counts them leaves them out, no guess)
ASKED = 64


class TrialCallbacks:
    """A built module's ``configure_callbacks()``, as a trial's fit asks it: call it with
    Trainer settings a trial may run with (over ``spec``'s) for that trial's callbacks.

    Args:
        model: the module a dry build made (None: an objective's search, no module).
        spec: a dry ``TrialSpec`` whose Trainer builds here (None where a trial's Trainer
            is not built here, e.g. one of a Ray cluster's: a module that reads its
            Trainer is not known then).
    """

    def __init__(self, model: Any, spec: TrialSpec | None) -> None:
        self.model, self.spec = model, spec
        #: its answer without a Trainer (None: it raised, e.g. reading self.trainer)
        self.alone = [] if model is None else configured_callbacks(model)
        self._asked: dict[tuple[Any, ...], list[Any] | None] = {}

    def __call__(self, settings: Mapping[str, Any] | None = None) -> list[Any] | None:
        """The callbacks of a trial whose Trainer takes ``settings`` over ``spec``'s; None
        where they cannot be known before training (no Trainer built here, its Trainer
        does not build, the module raises attached too, or past ``ASKED`` settings)."""
        if self.alone is not None:
            return self.alone
        if self.spec is None:
            return None
        key = tuple((name, type(value), repr(value)) for name, value in
                    sorted((settings or {}).items()))
        if key not in self._asked and len(self._asked) < ASKED:
            self._asked[key] = self._attached(settings or {})
        return self._asked.get(key)

    def _attached(self, settings: Mapping[str, Any]) -> list[Any] | None:
        """Ask the module attached to a Trainer built (in a temporary folder, global state
        kept) from ``spec``'s settings with ``settings`` over them, then detach it."""
        assert self.spec is not None
        with global_state_kept(), tempfile.TemporaryDirectory(prefix="lnas-dry-") as tmp:
            spec = dry_spec(dataclasses.replace(
                self.spec, trainer={**self.spec.trainer, **settings}), tmp)
            built: list[Any] = []
            if attempt_build(lambda: built.append(build_trainer(spec, [])), meta=False):
                return None  # the Trainer's own checks say why
            self.model.trainer = built[0]  # as Trainer.fit attaches it before asking
            try:
                return configured_callbacks(self.model)
            finally:
                self.model.trainer = None


def check_module_stops(callbacks: TrialCallbacks, scheduler: Any,
                       searched: Mapping[str, list[Any]]) -> None:
    """Refuse an ``EarlyStopping`` the module's ``configure_callbacks()`` returns under a
    ``scheduler`` (it would end trials between rungs, counted as complete:
    ``check_validates_each_epoch``), asked as each trial will (``callbacks``): a value of a
    searched Trainer argument (``searched``: the space's ``trainer.*`` keys' values) under
    which it returns one, where another value of that argument returns none, is named.

    Example:
        >>> import lightning.pytorch as pl
        >>> check_module_stops(TrialCallbacks(pl.LightningModule(), None), "asha", {})

    Raises:
        ConfigError: naming the space key and its value, else as
            ``check_validates_each_epoch`` does.
    """
    if callbacks.alone is None:  # it reads its Trainer: each searched value's trial's
        for name, values in searched.items():
            said: list[tuple[Any, str]] = []
            for value in values:
                try:
                    check_validates_each_epoch({}, scheduler, callbacks({name: value}))
                except ConfigError as err:
                    said.append((value, str(err)))
            if said and len(said) < len(values):  # this argument's value decides it
                value, error = said[0]
                raise ConfigError(f"space key 'trainer.{name}' may take {value!r}: {error}")
    check_validates_each_epoch({}, scheduler, callbacks())


def check_fit_callbacks(spec: TrialSpec, model: Any) -> list[Any] | None:
    """Refuse the Trainer settings of ``spec`` (a fit's or a fine-tune's) under which it
    never validates, counting the callbacks its built module's ``configure_callbacks()``
    returns (an accumulation scheduler there replaces the Trainer's), asked as its fit asks
    it (``TrialCallbacks``: alone, else attached to a Trainer built from ``spec``'s
    settings); checked before the module was built, its callbacks were not known (was:
    taken, and the fit failed after training, "no validation ran").

    Returns:
        The module's callbacks (None: no model, or not known: it raised when asked).

    Example:
        >>> import lightning.pytorch as pl
        >>> spec = TrialSpec(trial_id=0, arch={}, trial_dir="fit", model=None,
        ...                  trainer={"max_epochs": 1})
        >>> check_fit_callbacks(spec, pl.LightningModule())
        []

    Raises:
        ConfigError: as ``check_validation_runs`` does.
    """
    own = TrialCallbacks(model, spec)() if model is not None else None
    if own is not None:
        check_validation_runs(spec.trainer, spec.monitor, own)
    return own
