"""Checks of a differentiable search (``DifferentiableNAS``: DARTS, GDAS) that need what the
Trainer knows only once training starts or ends, so that a setting which cannot work is
said instead of an architecture derived from logits that never took a step (their random
start); ``check_choices_called`` serves SPOS (``OneShotNAS``) too (a ``LayerChoice``
candidate the rest of the network cannot take: ``candidate_shapes``).

- ``check_training_start`` (``on_train_start``, before the first step): a ``max_epochs`` or
  ``max_steps`` that ends training within ``warmup_epochs`` (the steps per epoch are the
  Trainer's ``num_training_batches``), and a ``num_classes`` that does not fit the first
  training batch (the sanity check, which runs a validation batch, may be off:
  ``num_sanity_val_steps: 0``), and a choice module that the forward of that batch never
  calls (``check_choices_called``: a decision the network never uses); GDAS: each
  ``LayerChoice`` candidate run on that batch (the other decisions at their argmax) must
  predict the argmax path's shape (``candidate_shapes.check_gdas_candidates``), and each
  ``LayerChoice``/``Repeat`` decision that GDAS cannot learn (a BatchNorm after it) is
  warned of (``gdas_reach.check_gdas_reach``).
- ``check_logits_trained`` (``on_train_end``, before anything is derived or exported):
  logits that never moved from their start: training stopped within the warmup by
  ``max_time`` or a callback, or an ``arch_lr`` too small to change them.
- ``check_tau_epochs`` (``lightning-nas oneshot``'s config before anything is built; a
  fit's ``on_fit_start``): GDAS with no number of epochs to decay its temperature over.
- ``check_manual_trainer`` (as a fit attaches the module's callbacks, before Lightning's own
  checks): the Trainer's ``gradient_clip_val`` and ``accumulate_grad_batches``, which
  manual optimization refuses, said with what does work.
- ``check_rates`` (when ``DifferentiableNAS`` is built): learning rates > 0, weight decays
  >= 0, in the words of ``lightning-nas oneshot``'s settings check.

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> from lightning_nas.oneshot.differentiable import DifferentiableNAS
    >>> logits_stepped(DifferentiableNAS(LayerChoice([nn.ReLU(), nn.Tanh()], label="act")))
    False
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torchmetrics
from lightning.pytorch.callbacks import Timer
from torch import nn

from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import is_node, target_path
from lightning_nas.errors import PYTHON_NULL, ConfigError, check_number
from lightning_nas.oneshot.base import ChoiceModule, one_width_each
from lightning_nas.oneshot.candidate_shapes import check_gdas_candidates
from lightning_nas.oneshot.gdas_reach import check_gdas_reach
from lightning_nas.oneshot.mixed import mixed
from lightning_nas.oneshot.random_state import preserved_rng
from lightning_nas.oneshot.scoring import check_num_classes, step_batch
from lightning_nas.oneshot.value_checks import check_decision_values
from lightning_nas.train_modes import kept_modes
from lightning_nas.wording import counted

if TYPE_CHECKING:
    from lightning_nas.oneshot.differentiable import DifferentiableNAS

__all__ = ["CLIP_ALGORITHMS", "DARTS_HINT", "DEFAULT_LAYOUT", "SPOS_HINT",
           "check_choices_called", "check_clip_val", "check_manual_trainer",
           "check_logits_trained", "check_pair", "check_rates", "check_targets",
           "check_tau_epochs", "check_training_start", "check_warmup_epochs",
           "checked_preds", "logits_stepped"]

#: the gradient clipping algorithms (``gradient_clip_algorithm``)
CLIP_ALGORITHMS = ("norm", "value")

#: the default forward's reading of a batch, as ``check_targets`` says it
DEFAULT_LAYOUT = ("the default forward read the batch as (x, y): predictions "
                  "module(batch[0]), targets batch[1] (of a batch (input_ids, attention_mask, "
                  "labels), the mask)")

#: how to give batches of another layout to a search whose forward reads ``(x, y)``
SPOS_HINT = ("give OneShotNAS(forward=lambda module, batch: (module(<inputs>), <targets>)) "
             "from Python; `lightning-nas oneshot` has no forward key (its oneshot: block "
             "takes none): there its data must yield (x, y) batches")
DARTS_HINT = ("DifferentiableNAS has no forward option (from Python as from `lightning-nas "
              "oneshot`): give it data that yields (x, y) batches (the datamodule's "
              "collate_fn or on_after_batch_transfer can make them)")


def check_clip_val(value: Any, key: str) -> None:
    """Raise ``ConfigError`` naming ``key`` unless the clipping bound ``value`` is None or a
    number >= 0 (0 and None: no clipping). torch clips by a negative bound (or NaN) without
    a word, and flips the gradients' sign doing it (``clip_grad_norm_`` scales them by
    ``bound / norm``, ``clip_grad_value_`` sets each to ``bound``): the weights would step
    uphill (was: taken, by ``DifferentiableNAS`` and, through Lightning, by SPOS).

    Example:
        >>> check_clip_val(-1, "gradient_clip_val")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: gradient_clip_val=-1: must be a number >= 0 or None ...
    """
    if value is None:
        return
    try:
        check_number(value, key, 0)
    except ConfigError:
        # None from Python (was: "0 or null", YAML's word; the config says trainer_checks')
        raise ConfigError(f"{key}={value!r}: must be a number >= 0 or {PYTHON_NULL}; 0 and "
                          f"None: no clipping; torch clips by a negative bound by flipping "
                          f"the gradients' sign, so the weights would step uphill") from None


def check_pair(batch: Any, who: str, hint: str) -> None:
    """Raise ``ConfigError`` when ``batch`` is no ``(x, y)`` pair (a list or tuple of two or
    more), which the default forward reads: predictions ``module(batch[0])``, targets
    ``batch[1]`` (was: a bare ``KeyError: 0`` on a dict batch).

    Example:
        >>> check_pair({"ids": 0}, "OneShotNAS", "give forward=")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: OneShotNAS reads each batch as (x, y): ...
    """
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return
    kind = (f"a dict with keys {sorted(map(str, batch))}" if isinstance(batch, Mapping)
            else f"a {type(batch).__name__}" + (f" of {len(batch)}"
                                                 if isinstance(batch, (list, tuple)) else ""))
    raise ConfigError(f"{who} reads each batch as (x, y): predictions module(batch[0]), "
                      f"targets batch[1]; its first batch is {kind}; {hint}")


def check_targets(preds: Any, target: Any, metric: torchmetrics.Metric, who: str,
                  layout: str, hint: str) -> None:
    """Raise ``ConfigError`` when ``metric`` (the search's, fresh) refuses a first batch's
    ``(preds, target)``: a target of another shape (the mask of ``(input_ids,
    attention_mask, labels)`` read as ``(x, y)``) is said before training, not by the
    search after it. ``layout`` says how the batch was read, ``hint`` how to read it."""
    try:
        metric.to(preds.device).update(preds, target)
    except (ValueError, RuntimeError, TypeError, AttributeError) as err:
        def shape(t: Any) -> Any:
            return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ConfigError(f"{who} scores subnets with {type(metric).__name__} on (predictions, "
                          f"targets), and the first training batch's do not fit it: "
                          f"predictions of shape {shape(preds)}, targets of shape "
                          f"{shape(target)} ({err}); {layout}; class scores of shape (N, C) "
                          f"need targets of class indices, of shape (N,); {hint}") from err


def checked_preds(nas: DifferentiableNAS, batch: Any) -> torch.Tensor:
    """``nas.supernet(batch[0])``, the predictions of a first batch, with the batch checked:
    an ``(x, y)`` pair (``check_pair``) whose targets fit ``num_classes`` and the metric."""
    check_pair(batch, "DifferentiableNAS", DARTS_HINT)
    preds = nas.supernet(batch[0])
    _check_fit(nas, preds, batch[1])
    return preds


def _check_fit(nas: DifferentiableNAS, preds: torch.Tensor, target: Any) -> None:
    """A first batch's targets against ``num_classes`` (with the default metric) and the
    search's metric (``check_targets``)."""
    if nas.val_metric is not None:
        check_num_classes(preds, target, nas.hparams.num_classes, f"{nas.key_prefix}num_classes")
    check_targets(preds, target, nas._metric(preds), "DifferentiableNAS", DEFAULT_LAYOUT,
                  DARTS_HINT)


def check_rates(**rates: float) -> None:
    """Raise ``ConfigError`` naming a learning rate (``*lr``) that is not above 0 or a
    weight decay below 0, in the words of ``lightning-nas oneshot``'s checks.

    Example:
        >>> check_rates(arch_lr=0)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: arch_lr must be a number > 0, got 0
    """
    for key, value in rates.items():
        check_number(value, key, 0, strict=key.endswith("lr"))


def logits_stepped(nas: DifferentiableNAS) -> bool:
    """Whether the logits moved from their start (``start_logits``, drawn from ``seed``: the
    same in a resumed search, whose checkpoint holds the moved ones). Was: whether their
    Adam had a state, which it fills at its first step whatever it changed."""
    return any(not torch.equal(p.detach().cpu(), nas.start_logits[key])
               for key, p in nas.alphas.items())


def check_warmup_epochs(warmup: int, epochs: Any) -> None:
    """Raise ``ConfigError`` when ``max_epochs`` (``epochs``, an int > 0) ends training
    within ``warmup_epochs``: the logits would keep their random start, and so would the
    architecture derived from them. ``lightning-nas oneshot`` checks a config's plain
    ``trainer.max_epochs`` so before anything is built, ``--print_config`` too (was: at the
    fit's ``on_train_start``, and ``--print_config`` passed it).

    Example:
        >>> check_warmup_epochs(5, 5)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: warmup_epochs=5 trains only the weights in all 5 ...
    """
    if type(epochs) is int and 0 < epochs <= warmup:
        raise ConfigError(f"warmup_epochs={warmup} trains only the weights in "
                          f"{'its' if epochs == 1 else 'all'} {counted(epochs, 'epoch')} "
                          f"(max_epochs): the architecture would never be "
                          f"learnt and the derived one is random; give warmup_epochs "
                          f"below max_epochs")


#: what GDAS's temperature needs, as Python names it and as ``lightning-nas oneshot`` does
#: (``key_prefix`` ``"oneshot."``)
_TAU_KEYS = {"": ("the Trainer's max_epochs", "DifferentiableNAS(tau_epochs=...)"),
             "oneshot.": ("trainer.max_epochs", "oneshot.tau_epochs")}


def check_tau_epochs(tau_epochs: int | None, trainer: Mapping[str, Any],
                     key_prefix: str = "oneshot.") -> None:
    """Raise ``ConfigError`` when GDAS has no number of epochs to decay its temperature
    over: no ``tau_epochs``, and a ``max_epochs`` of -1 (endless), or none beside a
    ``max_steps``, a ``Timer`` among ``callbacks`` or a ``max_time`` (Lightning's -1
    then). ``trainer``: the Trainer's settings as a config writes them (``lightning-nas
    oneshot`` checks them before anything is built, ``--print_config`` too; was: at the
    fit's start, naming neither key as written), or, from Python, as the fit resolved them
    (``DifferentiableNAS``'s ``on_fit_start``, ``key_prefix`` ``""``: a ``Timer`` among the
    callbacks also sets -1).

    Example:
        >>> check_tau_epochs(None, {"max_steps": 100})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: GDAS needs trainer.max_epochs above 0 or ...
        >>> check_tau_epochs(20, {"max_epochs": -1})  # tau_epochs sets it
    """
    epochs = trainer.get("max_epochs")
    if tau_epochs is not None or (isinstance(epochs, int) and epochs > 0):
        return
    if not key_prefix:  # a fit's: Lightning has resolved a max_epochs left out to -1
        why = (f"max_epochs={epochs} (Lightning's where max_steps or max_time is given "
               f"without max_epochs) sets no number of epochs to decay it over")
    elif isinstance(epochs, int):
        why = f"trainer.max_epochs={epochs} sets no number of epochs to decay it over"
    else:
        steps, time = trainer.get("max_steps"), trainer.get("max_time")
        # a Timer callback: -1 as well (was: seen only at the fit's start, after the build)
        given = (f"trainer.max_steps={steps}" if steps not in (None, -1)
                 else f"the {timer} in trainer.callbacks" if (timer := _timer(trainer))
                 else f"trainer.max_time={time!r}" if time is not None else None)
        if given is None:  # Lightning's default then: 1000 epochs
            return
        why = (f"{given} without trainer.max_epochs leaves the epochs unlimited (Lightning's "
               f"max_epochs=-1)")
    epochs_key, tau_key = _TAU_KEYS[key_prefix]
    raise ConfigError(f"GDAS needs {epochs_key} above 0 or {tau_key} for its temperature "
                      f"schedule: {why}; give {epochs_key} (the epochs the supernet trains at "
                      f"most) or {tau_key} (the epochs the temperature decays over)")


def _timer(trainer: Mapping[str, Any]) -> str | None:
    """The class name of a ``Timer`` among ``trainer``'s ``callbacks`` as a config writes
    them (a ``class_path`` or ``_target_`` node, a bare class path, or a built one), which
    has Lightning leave ``max_epochs`` out as -1; None for none (one that cannot be
    imported is the Trainer's checks' to name)."""
    callbacks = trainer.get("callbacks")
    for entry in callbacks if isinstance(callbacks, list) else [callbacks]:
        if isinstance(entry, Timer):
            return type(entry).__name__
        path = entry if isinstance(entry, str) else target_path(entry) if is_node(entry) \
            else None
        try:
            target = import_object(path) if isinstance(path, str) else None
        except ConfigError:
            continue
        if isinstance(target, type) and issubclass(target, Timer):
            return target.__name__
    return None


def check_manual_trainer(trainer: Any) -> None:
    """Raise ``ConfigError`` for a fit's Trainer that clips (``gradient_clip_val``) or
    accumulates (``accumulate_grad_batches``): ``DifferentiableNAS`` steps its optimizers by
    hand, which Lightning neither clips nor accumulates, so its error says to remove the
    setting or switch to automatic optimization (which the search cannot: was that error);
    this one says what works, the search's own ``gradient_clip_val``.

    Example:
        >>> import lightning.pytorch as pl
        >>> check_manual_trainer(pl.Trainer(logger=False))  # neither: nothing to say
    """
    clip, algorithm = trainer.gradient_clip_val, trainer.gradient_clip_algorithm or "norm"
    algorithm = str(getattr(algorithm, "value", algorithm)).lower()  # (Lightning's enum)
    if clip:
        raise ConfigError(
            f"Trainer(gradient_clip_val={clip!r}): DifferentiableNAS steps the logits and the "
            f"weights by hand (manual optimization), which Lightning does not clip; pass "
            f"DifferentiableNAS(gradient_clip_val={clip!r}, gradient_clip_algorithm="
            f"{algorithm!r}) instead (it clips the weights' gradients) and leave "
            f"the Trainer's unset")
    if trainer.accumulate_grad_batches != 1:
        raise ConfigError(
            f"Trainer(accumulate_grad_batches={trainer.accumulate_grad_batches!r}): "
            f"DifferentiableNAS steps the logits and the weights by hand (manual "
            f"optimization), which Lightning does not accumulate; leave it at 1 (a larger "
            f"data batch_size gives larger steps)")

def check_training_start(nas: DifferentiableNAS) -> None:
    """Raise ``ConfigError`` when training ends within ``warmup_epochs`` (which train only
    the weights: one step per batch) by ``max_epochs`` or ``max_steps``, unless the logits
    have stepped already (a resumed search), or when ``num_classes`` does not fit the first
    training batch."""
    trainer, warmup = nas.trainer, nas.hparams.warmup_epochs
    if warmup and not logits_stepped(nas):
        epochs, steps = trainer.max_epochs or 0, trainer.max_steps
        check_warmup_epochs(warmup, epochs)
        warmup_steps = warmup * trainer.num_training_batches  # inf: a loader without length
        batches = counted(trainer.num_training_batches, "training batch", "training batches")
        if 0 <= steps <= warmup_steps and math.isfinite(warmup_steps):
            raise ConfigError(f"the Trainer's max_steps={steps} ends training within "
                              f"warmup_epochs={warmup}, which take "
                              f"{counted(int(warmup_steps), 'step')} ({warmup} x {batches}, "
                              f"one step each: the weights'): the architecture would never be "
                              f"learnt and the derived one is random; give max_steps above "
                              f"{int(warmup_steps)} (after the warmup each batch takes two: "
                              f"the logits' and the weights') or lower warmup_epochs")
    _check_first_batch(nas)


def _check_first_batch(nas: DifferentiableNAS) -> None:
    """The first batch of the ``"train"`` loader, run as validation runs the supernet (in
    eval mode: no BatchNorm statistics change; torch's random state, which the loader's
    shuffle draws from, is kept): every choice module called (``check_choices_called``),
    and ``num_classes`` (with the default metric) against it."""
    trainer = nas.trainer
    data = trainer.train_dataloader
    loader = data.get("train") if isinstance(data, Mapping) else None
    if loader is None:  # training_step says what the batches lack
        return
    with kept_modes(nas), preserved_rng(nas.device), torch.no_grad():
        batch = next(iter(loader), None)
        if batch is None:
            return
        batch = step_batch(trainer, batch)
        check_pair(batch, "DifferentiableNAS", DARTS_HINT)
        nas.eval()
        weights, index = nas.mixing_weights(sample=False)
        with trainer.precision_plugin.val_step_context():
            with mixed(nas.supernet, weights, index):
                preds = check_choices_called(nas.supernet, lambda: nas.supernet(batch[0]),
                                             nas.hparams.algorithm.upper())
            if index:  # GDAS: one candidate of each decision per step
                check_gdas_candidates(nas.supernet, batch[0], weights, index, preds)
            check_decision_values(nas.supernet, lambda: nas.supernet(batch[0]),
                                  nas.hparams.algorithm.upper())  # the export's paths
    _check_fit(nas, preds, batch[1])
    if index:  # a warning: said after what refuses the fit
        with torch.no_grad():
            check_gdas_reach(nas.supernet, batch[0], weights, index,  # the command's key
                             f"--{nas.key_prefix}algorithm=darts" if nas.key_prefix
                             else "algorithm='darts'")


def check_choices_called(model: nn.Module, run: Callable[[], Any], who: str) -> Any:
    """Run ``run`` (a forward pass of one batch through ``model``) and return its result;
    raise ``ConfigError`` naming the labels of the choice modules it never called.

    Such a module's decisions would be searched (trained, sampled, scored, written to
    ``best_arch``) though the network never uses them, and one that follows its input width
    could not be exported after training; nor could one called at two input widths
    (``one_width_each``). A choice module inside another (a candidate of a
    ``LayerChoice``, a block of a ``Repeat``) runs only on some paths and is not asked for.
    Said before training; under DDP every rank runs the same check.
    """
    names = {name: module for name, module in model.named_modules()
             if isinstance(module, ChoiceModule)}
    outer = {name: module for name, module in names.items()
             if not any(other != name and (other == "" or name.startswith(f"{other}."))
                        for other in names)}
    called: set[int] = set()
    hooks = [module.register_forward_pre_hook(lambda m, args: called.add(id(m)))
             for module in outer.values()]
    try:
        with one_width_each(model, who):
            out = run()
    finally:
        for hook in hooks:
            hook.remove()
    unused = [f"{getattr(m, 'label', type(m).__name__)!r} ({name or 'the network'}: "
              f"{type(m).__name__})" for name, m in outer.items() if id(m) not in called]
    if unused:
        raise ConfigError(f"{who} searches the choice modules of the network, and its forward "
                          f"never called {', '.join(unused)}: the search would search a "
                          f"decision the network never uses (and could not export the "
                          f"module after training); call the module in forward, or remove "
                          f"it from the network")
    return out


def check_logits_trained(nas: DifferentiableNAS) -> None:
    """Raise ``ConfigError`` at the end of training when the logits never moved from their
    start (training stopped within ``warmup_epochs`` by ``max_time`` or a callback, an
    ``arch_lr`` too small to change them), so no architecture is derived from it."""
    if logits_stepped(nas):
        return
    hp = nas.hparams
    why = (f"warmup_epochs={hp.warmup_epochs} trains only the weights; stopped by max_time, "
           f"max_steps or a callback such as EarlyStopping; or " if hp.warmup_epochs else "")
    raise ConfigError(f"training stopped after {counted(nas.trainer.global_step, 'step')}, "
                      f"before the architecture logits took a step ({why}arch_lr={hp.arch_lr} "
                      f"too small to move them): the derived architecture would be their random "
                      f"start, so none is derived or exported; train longer, lower warmup_epochs "
                      f"or raise arch_lr")
