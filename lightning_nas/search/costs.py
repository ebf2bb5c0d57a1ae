"""Costs of a candidate counted without training: ``params`` (on the meta device: no memory,
no initialisation) and ``flops`` (one forward pass of the model's ``example_input_array``).

A count runs with no Trainer attached, before Lightning's ``setup`` hook: each trial of a
search that counts compares it, once its Trainer set the model up (``ParamsCheck``).

Example:
    >>> import torch
    >>> model_costs(lambda arch: torch.nn.Linear(4, arch["out"]), {"out": 2})
    {'params': 10.0}
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from math import prod
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from torch.nn.parameter import UninitializedParameter

from lightning_nas.errors import ConfigError, one_line, typed
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.meta_build import MetaCopies, parameters_on_meta
from lightning_nas.train_modes import kept_modes

if TYPE_CHECKING:
    from lightning_nas.search.objectives import Constraints, Objectives

__all__ = ["CountError", "CountMismatch", "Counts", "LoggedCost", "LoggedCostCheck",
           "ParamsCheck", "check_counting", "cost_uses", "model_costs"]


class CountError(ConfigError):
    """Counting a candidate's costs failed; ``costs``: those it failed for; ``own``: the
    candidate's own forward raised (another architecture's may work), where the other
    failures (no ``example_input_array``, a ``configure_model`` that needs a Trainer, a lazy
    module the forward leaves unmade) are the setup's, every candidate's."""

    def __init__(self, message: str, costs: Sequence[str] = ("params", "flops"),
                 own: bool = False) -> None:
        super().__init__(message)
        self.costs, self.own = tuple(costs), own


class CountMismatch(ConfigError):
    """A trial's model, set up by its Trainer, has other parameters than its search counted
    before training: every trial's count would be wrong (a fatal trial error)."""


class LoggedCost(CountMismatch):
    """A trial's model logs a metric under the name of a cost its search counts and stores
    (``params``, ``flops``): the logged value would replace the count (a fatal trial error)."""


def cost_uses(limits: Constraints, objectives: Objectives | None,
              costs: Sequence[str] = ("params", "flops")) -> str:
    """What a search counts ``costs`` for: ``max_params``, ``max_flops``, a cost objective
    ("" for nothing).

    Example:
        >>> from lightning_nas.search.objectives import Constraints, Objectives
        >>> cost_uses(Constraints(max_params=100), Objectives({"val_acc": "max", "flops": "min"}))
        "max_params and the 'flops' objective"
    """
    uses = [f"max_{name}" for name in limits.needs() if name in costs]
    uses += [f"the {name!r} objective" for name in
             (objectives.costs() if objectives is not None else []) if name in costs]
    return " and ".join([", ".join(uses[:-1]), *uses[-1:]] if len(uses) > 2 else uses)


def check_counting(count: Callable[[dict[str, Any]], dict[str, float]],
                   archs: Sequence[dict[str, Any]], limits: Constraints,
                   objectives: Objectives | None) -> None:
    """Count the costs (``count``: ``TrialTemplate.costs``) of the first of ``archs`` whose
    model builds and whose forward runs, before a search starts (one its model refuses, or
    whose own forward raises, is a failed trial; was: its error escaped when it came first,
    a forward's refusing the search though other architectures count). Where none of them
    counts, the first forward's error is the setup's.

    Raises:
        ConfigError: what the search counts for (``cost_uses``), why counting failed
            (``model_costs``) and what to do.
    """
    first: CountError | None = None
    try:
        for arch in archs:
            try:
                count(arch)
                return
            except CountError as err:
                if not err.own:
                    raise
                first = first or err
            except Exception:  # noqa: BLE001, S112 - the model refuses it: its trial fails
                continue
        if first is not None:
            raise first
    except CountError as err:
        needs = cost_uses(limits, objectives, err.costs) or cost_uses(limits, objectives)
        raise ConfigError(f"{needs} need{'' if ' and ' in needs else 's'} each candidate's "
                          f"costs counted before it trains: {err}, or leave {needs} "
                          f"out") from None


class Counts:
    """The costs of each architecture a search proposes, counted once (``count``:
    ``TrialTemplate.costs``; None: the search counts none). An architecture whose model
    raises as it is built (its ``__init__`` refuses it), or whose costs cannot be counted
    (``CountError``: its forward raises, ``own``, or leaves a lazy layer unmade;
    ``check_counting`` found one that counts, so the error is this architecture's), is
    ``unbuilt``: the search stores it FAILED with that error, as a trial that raises while
    building or training (``failed``; was: the forward's error stopped the search).
    """

    def __init__(self, count: Callable[[dict[str, Any]], dict[str, float]] | None) -> None:
        self.count = count
        self.costs: dict[str, dict[str, float]] = {}  # arch key -> counted costs
        self.unbuilt: dict[str, str] = {}  # arch key -> its model's error

    def __call__(self, arch: dict[str, Any], key: str) -> dict[str, float]:
        """The costs of ``arch`` (``key``: its ``arch_key``); {} when the search counts
        none, or its model raised when built or its costs could not be counted."""
        if self.count is not None and key not in self.costs and key not in self.unbuilt:
            try:
                self.costs[key] = self.count(arch)
            except CountError as err:  # its forward, or a lazy layer it leaves unmade:
                self.unbuilt[key] = str(err)  # the trial's error (was: a lazy layer's
                # stopped the search, naming no architecture)
            except Exception as err:  # noqa: BLE001 - the user's model refuses the arch
                self.unbuilt[key] = (f"{typed(err)}\n"
                                     f"{traceback.format_exc(limit=-6)}")  # as fit_trial's
        return self.costs.get(key, {})

    def failed(self, trial_id: int, arch: dict[str, Any], key: str) -> TrialResult:
        """Trial ``trial_id`` of unbuilt ``arch``: FAILED with its model's error, as a trial
        that raised while building it (``build_failed``)."""
        now = time.time()
        return TrialResult(trial_id=trial_id, arch=arch, status=TrialStatus.FAILED,
                           error=self.unbuilt[key], build_failed=True, started=now,
                           finished=now)


def model_costs(build: Callable[[Mapping[str, Any]], torch.nn.Module], arch: Mapping[str, Any],
                flops: bool = False) -> dict[str, float]:
    """``params`` of the model built for ``arch`` (with the layers its Lightning
    ``configure_model`` hook makes), and ``flops`` of one forward pass of its
    ``example_input_array`` when asked. Parameters are counted on the meta device (nothing
    allocated); FLOPs, and lazy modules' parameters, need a real model and its
    ``example_input_array``.

    Raises:
        ConfigError: when FLOPs, or the parameters of lazy modules, are asked and the model
            has no ``example_input_array``; when its ``configure_model`` or that forward pass
            raises (with no Trainer attached), naming the model and the error.
        Exception: what building the model for ``arch`` (off the meta device) raised, as it
            is (``Counts``: a search's failed trial).
    """
    real, copies = None, MetaCopies()
    try:
        with parameters_on_meta() as copies:  # was: torch.device("meta"), all tensors on it
            model = _configured(build(arch))
    except Exception:  # noqa: BLE001 - some modules cannot be built on meta: count on CPU
        model = real = _configured(build(arch))
    lazy = any(isinstance(p, UninitializedParameter) for p in model.parameters())
    if lazy or flops:
        model = real if real is not None else _configured(build(arch))
        example = getattr(model, "example_input_array", None)
        need = "counting flops" if flops else "counting the parameters of lazy modules"
        failing = ("flops",) if flops and not lazy else ("params", "flops")
        if example is None:
            raise CountError(f"{need} needs the model's example_input_array"
                             f"{_how_to_give(model)}", failing)
        try:
            counted = _count_flops(model, example)  # lazy modules made too
        except Exception as err:  # noqa: BLE001 - the user's forward: name it
            raise CountError(f"{need} runs {type(model).__name__}'s forward on its "
                             f"example_input_array before training (no Trainer attached, "
                             f"Lightning's setup not run), which raised {_said(err)}; make "
                             f"forward work on example_input_array with the layers __init__ "
                             f"and configure_model build", failing, own=True) from err
        unmade = [name for name, p in model.named_parameters()
                  if isinstance(p, UninitializedParameter)]
        if unmade:  # (was: a raw ValueError counting them, each trial failed "building")
            raise CountError(f"counting the parameters of {type(model).__name__} runs its "
                             f"forward on example_input_array, which leaves lazy parameters "
                             f"unmade: {', '.join(unmade[:5])}{' ...' * (len(unmade) > 5)} "
                             f"(a lazy module forward does not reach, e.g. one only "
                             f"training_step uses); give that module its input size "
                             f"(nn.Linear, not nn.LazyLinear), or reach it in forward",
                             ("params",))
    out = {"params": float(copies.numel(model))}  # a tied weight once
    if flops:
        out["flops"] = float(counted)
    return out


def _how_to_give(model: torch.nn.Module) -> str:
    """How ``model``'s class takes an ``example_input_array`` (the error's end)."""
    from lightning_nas.module import NASModule

    if isinstance(model, NASModule):  # the library's class: its argument, or the network's
        return (" (as for Lightning's model summary): pass example_input_array=<an input "
                "batch> to NASModule (in model_init_args), or set example_input_array on the "
                "network the builder returns")
    return f" (set it in {type(model).__name__}.__init__, as for Lightning's model summary)"


def _count_flops(model: torch.nn.Module, example: Any) -> int:
    """FLOPs of ``model``'s forward on ``example`` (eval mode, no autograd), as the layers
    compute them when they train: PyTorch's fused inference path of attention layers off
    (``FlopCounterMode`` counts none of its kernels; the plain path runs the same matmuls),
    and the CPU kernels it does not count (``_MISSED``) counted by their matmuls. Each
    submodule's train/eval mode is restored afterwards (a ready module may be the user's).
    """
    from torch.utils import flop_counter

    counted = getattr(flop_counter, "flop_registry", {})  # its formulas; older torch: none
    mapping = {getattr(_aten, name): formula for name, formula in _MISSED
               if hasattr(_aten, name) and getattr(_aten, name) not in counted}
    mha = getattr(torch.backends, "mha", None)  # its switch: torch >= 2.3
    with _FASTPATH_LOCK, kept_modes(model):
        fast = mha.get_fastpath_enabled() if mha is not None else None
        try:
            model.eval()
            if mha is not None:
                mha.set_fastpath_enabled(False)
            else:  # older torch: attention layers take the fused path in eval mode only
                for module in model.modules():
                    if isinstance(module, _FUSED):
                        module.train()
            with torch.no_grad(), flop_counter.FlopCounterMode(
                    display=False, custom_mapping=mapping) as counter:
                if isinstance(example, (tuple, list)):  # as it is: no batch-transfer hooks
                    model(*example)
                elif isinstance(example, dict):
                    model(**example)
                else:
                    model(example)
        finally:
            if mha is not None:
                mha.set_fastpath_enabled(fast)
    return counter.get_total_flops()


def _shape(value: Any) -> tuple[int, ...]:
    """A tensor's shape (a formula is given tensors or shapes, by torch version)."""
    return tuple(value.shape) if isinstance(value, torch.Tensor) else tuple(value)


def _rnn_layer_flops(inputs: Any, w_ih: Any, w_hh: Any, *_: Any, **__: Any) -> int:
    """``mkldnn_rnn_layer`` (an LSTM layer's CPU kernel, one direction): per step and batch
    row, the input and hidden matmuls with the layer's gate weights (a multiply-add each),
    as ``FlopCounterMode`` counts the GRU and RNN cells' matmuls."""
    steps = _shape(inputs)
    return 2 * prod(steps[:-1]) * (prod(_shape(w_ih)) + prod(_shape(w_hh)))


def _cpu_attention_flops(query: Any, key: Any, value: Any, *_: Any, **__: Any) -> int:
    """``scaled_dot_product_attention``'s CPU kernel: ``q @ k^T`` and ``weights @ v`` (a
    causal mask counted whole, as ``FlopCounterMode`` counts the CUDA kernels)."""
    q, k, v = _shape(query), _shape(key), _shape(value)
    return 2 * prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


_aten = torch.ops.aten
#: CPU kernels ``FlopCounterMode`` does not count (torch 2.13), by aten name: their formulas
_MISSED: tuple[tuple[str, Callable[..., int]], ...] = (
    ("mkldnn_rnn_layer", _rnn_layer_flops),
    ("_scaled_dot_product_flash_attention_for_cpu", _cpu_attention_flops))
# given tensors, not shapes (``_get_raw``; torch < 2.2 always gives a custom formula tensors)
_rnn_layer_flops._get_raw = True  # type: ignore[attr-defined]
_cpu_attention_flops._get_raw = True  # type: ignore[attr-defined]
#: layers with a fused inference path, before torch.backends.mha could turn it off
_FUSED = (torch.nn.MultiheadAttention, torch.nn.TransformerEncoderLayer,
          torch.nn.TransformerEncoder)
#: the MHA fast-path switch is global: one count at a time sets and restores it
_FASTPATH_LOCK = threading.Lock()


def _configured(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` after its Lightning ``configure_model`` hook (layers made there count)."""
    hook = getattr(model, "configure_model", None)
    if callable(hook):
        try:
            hook()
        except Exception as err:  # noqa: BLE001 - the user's hook: name it
            raise CountError(f"counting the costs of {type(model).__name__} before training "
                             f"runs its configure_model with no Trainer attached, which "
                             f"raised {_said(err)}; make configure_model build the layers "
                             f"without the Trainer (sizes from __init__ arguments, not "
                             f"self.trainer)") from err
    return model


def _said(err: BaseException) -> str:
    """``err`` as one line, without a closing full stop (a clause of a longer message)."""
    return one_line(err).rstrip(".")


class ParamsCheck(pl.Callback):
    """Stops a trial (``CountMismatch``) whose model, once its Trainer set it up (its
    ``setup`` and ``configure_model`` hooks ran), has other parameters than the search
    counted before training: layers made in ``setup`` are not counted. Lazy modules are
    compared after the first training batch (its forward made them; a difference there is
    said as an ``example_input_array`` of another shape than a batch's); models a strategy
    shards (FSDP, DeepSpeed) or a precision plugin packs (bitsandbytes) are not compared.

    Args:
        counted: the parameters the search counted.
        uses: what the search counts costs for (``cost_uses``), named in the error.
    """

    def __init__(self, counted: float, uses: str = "") -> None:
        self.counted, self.uses = counted, uses
        self._pending = False  # compared when the model's parameters are all made
        self._lazy = False  # lazy ones were made by a training batch, not at fit start

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pending = _counts_whole(trainer)
        self._compare(pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        self._compare(pl_module)

    def _compare(self, model: pl.LightningModule) -> None:
        if not self._pending:
            return
        if any(isinstance(p, UninitializedParameter) for p in model.parameters()):
            self._lazy = True
            return
        self._pending = False
        real = sum(p.numel() for p in model.parameters())
        if real != self.counted and self._lazy:  # (was: said as layers made in setup())
            raise CountMismatch(
                f"{type(model).__name__} has {real} parameters once its first training batch "
                f"made its lazy modules, but the search counted {self.counted:.0f} before "
                f"training (for {self.uses or 'its costs'}), its lazy modules made by a "
                f"forward of its example_input_array: give example_input_array the shape of "
                f"a training batch's input (lazy layers take their sizes from it)")
        if real != self.counted:
            raise CountMismatch(
                f"{type(model).__name__} has {real} parameters once the Trainer set it up, "
                f"but the search counted {self.counted:.0f} before training (for "
                f"{self.uses or 'its costs'}): layers made in setup() are made after the "
                f"count, or the model is built otherwise in a trial; build the layers in "
                f"__init__ or configure_model")


class LoggedCostCheck(pl.Callback):
    """Stops a trial (``LoggedCost``) whose model logs a metric named as a cost the search
    counts (``params``, ``flops``), at the first validation (its sanity check) or training
    epoch end that holds it: the search stores its count under that name in the trial's
    metrics, and one value would replace the other (was: the logged one, told to the
    optimizer while ``max_params`` judged the count, and its NaN at an epoch other than the
    best went unseen).

    Args:
        costs: the names of the costs the search counted (``Counts``'s keys).
        uses: what the search counts costs for (``cost_uses``), named in the error.

    Example:
        >>> LoggedCostCheck(("params",), "max_params").costs
        ('params',)
    """

    def __init__(self, costs: Sequence[str], uses: str = "") -> None:
        self.costs, self.uses = tuple(costs), uses

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check(trainer, pl_module)

    def _check(self, trainer: pl.Trainer, model: pl.LightningModule) -> None:
        logged = [name for name in self.costs if name in trainer.callback_metrics]
        if logged:
            name = logged[0]
            raise LoggedCost(
                f"{type(model).__name__} logs {name!r}, a cost the search counts itself (for "
                f"{self.uses or 'its costs'}) and stores under that name in each trial's "
                f"metrics, so the logged value would replace the count; log the model's own "
                f"value under another name (e.g. 'model_{name}', an objective then like any "
                f"logged metric)")


def _counts_whole(trainer: pl.Trainer) -> bool:
    """Whether the module's parameters are whole under ``trainer``: not sharded by its
    strategy, not packed by its precision plugin."""
    from lightning.pytorch.plugins.precision import BitsandbytesPrecision
    from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, SingleDeviceStrategy

    strategy = trainer.strategy
    return (isinstance(strategy, (SingleDeviceStrategy, DDPStrategy))
            and not isinstance(strategy, DeepSpeedStrategy)
            and not isinstance(trainer.precision_plugin, BitsandbytesPrecision))
