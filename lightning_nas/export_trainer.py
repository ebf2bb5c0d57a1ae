"""The trial defaults ``best_config.yaml`` writes into its ``trainer`` section: those that
change a trial's scores, not those that only change what is shown.

A trial runs without a progress bar or a model summary (``TRIAL_TRAINER_DEFAULTS``). The
progress bar never changes what trains. Lightning's model summary does only where it runs
the model's ``forward`` before training: on its ``example_input_array``, which makes lazy
layers (``LazyLinear``) and may draw random numbers, so the fit trains another model. Only
there is ``enable_model_summary: false`` written (and where it cannot be told: a model that
does not build here, or one whose ``setup`` / ``configure_model`` may set an
``example_input_array``), so a user's own ``python main.py fit --config best_config.yaml``
keeps Lightning's model summary wherever it changes no score.

Example:
    >>> boring = {"class_path": "lightning.pytorch.demos.boring_classes.BoringModel"}
    >>> result_defaults({"max_epochs": 2}, boring)
    {}
    >>> result_defaults({"enable_model_summary": True}, boring)
    {'enable_model_summary': True}
    >>> result_defaults({"max_epochs": 2}, {"class_path": "no.such.Net"})  # cannot be told
    {'enable_model_summary': False}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.model_helpers import is_overridden

from lightning_nas.config.factories import ModelFactory
from lightning_nas.config.load import section_target
from lightning_nas.search.dry_builds import global_state_kept
from lightning_nas.search.meta_build import parameters_on_meta
from lightning_nas.search.trial_defaults import with_trial_defaults

__all__ = ["result_defaults", "summary_runs_forward"]

#: the hooks that may set an ``example_input_array`` after ``__init__``, before Lightning's
#: model summary runs (at the start of ``fit``)
_LATER_HOOKS = ("setup", "configure_model")


def summary_runs_forward(model: Any) -> bool:
    """Whether Lightning's model summary may run the ``forward`` of ``model`` (a config's
    ``model`` section, its architecture filled in) before training: it has an
    ``example_input_array`` once built (on the meta device), or may set one in ``setup``
    or ``configure_model``, or it does not build here (it cannot be told: True)."""
    try:
        target, init_args = section_target(model, "model")
        if target is None:
            return True
        with global_state_kept(), parameters_on_meta():
            built = ModelFactory(target, init_args).build({})
    except Exception:  # noqa: BLE001 - not built here: kept off, as the trial ran
        return True
    if not isinstance(built, pl.LightningModule):
        return True
    return getattr(built, "example_input_array", None) is not None or any(
        is_overridden(hook, built, pl.LightningModule) for hook in _LATER_HOOKS)


def result_defaults(trainer: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """The trial defaults ``best_config.yaml`` writes beside the config's ``trainer``
    settings (the config's own value of one, where it sets it, as written): the model
    summary's setting where the summary would change the scores (``summary_runs_forward``),
    nothing else; a ``null`` there is Lightning's default, as if left out."""
    ran = with_trial_defaults(dict(trainer))  # what a trial ran with
    if trainer.get("enable_model_summary") is not None or summary_runs_forward(model):
        return {"enable_model_summary": ran["enable_model_summary"]}
    return {}
