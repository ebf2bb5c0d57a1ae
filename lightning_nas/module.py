"""``NASModule``: a ready LightningModule for users who only have a network builder.

The builder turns an architecture into an ``nn.Module``; the module adds the loss, the
torchmetrics metrics (logged as ``val_<name>``, and ``test_<name>`` by ``trainer.test``) and
the optimizer, and saves its hyperparameters so that a checkpoint reloads with
``NASModule.load_from_checkpoint``; ``trainer.predict`` returns the network's outputs.

Example:
    >>> import torch
    >>> def build(arch):
    ...     return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, arch["width"]),
    ...                                torch.nn.ReLU(), torch.nn.Linear(arch["width"], 10))
    >>> module = NASModule(build, num_classes=10, width=32)
    >>> module(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn
from torch.nn import functional as F

from lightning_nas.config.instantiate import import_object, object_path
from lightning_nas.errors import ConfigError, unknown
from lightning_nas.module_metrics import METRICS, TASK_METRICS, build_metric, metric_names
from lightning_nas.train_modes import kept_modes
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted

__all__ = ["LOSSES", "NASModule", "loader_metric"]

#: loss names accepted by ``NASModule(loss=...)``
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
    "nll": F.nll_loss,
}

def _lookup(kind: str, name: str, table: Mapping[str, Any], listing: str) -> Any:
    """``table[name]``, else the error naming ``name`` and the valid ``listing``."""
    if name not in table:  # was: "valid: ...", where the other names say what is listed
        raise unknown(kind, name, table, listing=listing)
    return table[name]


def _optimizer_class(optimizer: str | type[torch.optim.Optimizer]) -> type[torch.optim.Optimizer]:
    """The optimizer class of a ``torch.optim`` name (case-insensitive), an import path, or
    the class itself (``torch.optim.SGD``)."""
    if isinstance(optimizer, str) and "." in optimizer:
        try:
            optimizer = import_object(optimizer)
        except ConfigError as err:
            raise ConfigError(f"optimizer {optimizer!r}: {err}") from None
    if inspect.isclass(optimizer) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    if not isinstance(optimizer, str):  # (was: an AttributeError, 'lower')
        raise ConfigError(f"optimizer must be a torch.optim class name (adam, sgd, ...), an "
                          f"import path or a torch.optim.Optimizer subclass, got {optimizer!r}")
    table = {n.lower(): getattr(torch.optim, n) for n in dir(torch.optim)
             if inspect.isclass(getattr(torch.optim, n))
             and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
             and n != "Optimizer"}
    return _lookup("optimizer", optimizer.lower(), table, "optimizers")


#: arguments without an import path that ``NASModule`` has warned about in this process
_UNSAVED: set[tuple[str, str]] = set()


def _warn_unsaved(arg: str, what: str, why: str, again: str, fix: str,
                  default: str | None = None, it: str = "it") -> None:
    """Warn once per process (not every trial) that checkpoints do not hold ``arg``, and how
    ``load_from_checkpoint`` takes it again (without it, ``default`` is used).

    The search's dry build lets these warnings through (``NASModule's ... so checkpoints do
    not hold``): it makes the first module.
    """
    if (arg, what) not in _UNSAVED:
        _UNSAVED.add((arg, what))
        warn_user(f"NASModule's {arg} {what} {why}, so checkpoints do not hold {it}: "
                  f"NASModule.load_from_checkpoint(path, {arg}={again}) takes {it} again"
                  f"{f' (else {default})' if default else ''}; {fix}")


def _mapping(name: str, value: Any, example: str) -> dict[str, Any]:
    """``value`` (a mapping, or None: empty) as a dict; anything else is refused, naming
    ``name`` (was: a ``TypeError`` or ``ValueError`` of ``dict()``)."""
    if value is not None and not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a mapping ({example}) or None, got {value!r}")
    return dict(value or {})


def _number(name: str, value: Any) -> float:
    """``value`` as a float; anything ``float()`` cannot take is refused, naming ``name``
    (was: ``could not convert string to float``, which named no argument)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def _loss_fn(loss: str | Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """The loss function of a ``LOSSES`` name, an import path or a callable."""
    if isinstance(loss, str) and loss not in LOSSES and "." in loss:
        try:
            fn = import_object(loss)
        except ConfigError as err:
            raise ConfigError(f"loss {loss!r}: {err}") from None
    elif isinstance(loss, str):
        fn = _lookup("loss", loss, LOSSES, "losses")
    else:
        fn = loss
    if inspect.isclass(fn) or not callable(fn):
        what = f"class {fn.__name__}" if inspect.isclass(fn) else repr(fn)
        raise ConfigError(f"loss must be a name ({', '.join(LOSSES)}), an import path or a "
                          f"callable (output, target) -> loss (a function, or an instance such "
                          f"as CrossEntropyLoss()), got {what}")
    return fn


def _described(batch: Any) -> str:
    """What ``batch`` is, for an error that refuses it: ``a tuple of 3 items``, ``a dict with
    keys ['x', 'y']``."""
    if isinstance(batch, Mapping):
        return f"a dict with keys {sorted(map(str, batch))}"
    if isinstance(batch, (tuple, list)):
        return f"a {type(batch).__name__} of {counted(len(batch), 'item')}"
    return f"a {type(batch).__name__}"


def _pair(batch: Any, step: str) -> tuple[Any, Any]:
    """``batch`` as ``NASModule``'s ``(input, target)``; any other batch is refused, naming
    it (was: "too many values to unpack (expected 2)" for ``(x, y, w)``, a dict's keys
    taken for tensors)."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    steps = "test_step" if step == "test_step" else "training_step and validation_step"
    raise ConfigError(f"NASModule.{step} takes batches of (input, target), got "
                      f"{_described(batch)}: give loaders whose batches are such pairs (a "
                      f"TensorDataset(x, y)), or subclass NASModule and override {steps}")


def _input(batch: Any) -> Any:
    """The input of a prediction ``batch``: an ``(input, target)`` pair's, an ``(input,)``
    one's (a ``TensorDataset(x)``'s) or the batch itself, a tensor; any other batch is
    refused, naming it (was: the whole batch given to the network, Lightning's default)."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and len(batch) in (1, 2):
        return batch[0]
    raise ConfigError(f"NASModule.predict_step takes batches of (input, target), (input,) "
                      f"or input tensors, got {_described(batch)}: give a loader of such "
                      f"batches (a TensorDataset(x) or TensorDataset(x, y)), or subclass "
                      f"NASModule and override predict_step")


def loader_metric(owner: pl.LightningModule, name: str, dataloader_idx: int,
                  stage: str = "val") -> Any:
    """``owner.<name>`` (a torchmetrics metric, a module of them, or None) for loader
    ``dataloader_idx`` of ``stage`` (``val``, ``test``): itself for the first validation
    loader, a fresh copy for each further one and for each test loader (made at its first
    batch; not a submodule, so checkpoints do not change). Lightning logs each loader's value
    as ``<key>/dataloader_idx_<i>``; one metric updated by every loader would give each of
    those keys the value of all loaders together, and one updated by validation and test
    would mix what a stopped validation left into the test's."""
    metric = getattr(owner, name)
    if metric is None or (stage == "val" and not dataloader_idx):
        return metric
    copies = owner.__dict__.setdefault("_loader_metrics", {})
    if (name, stage, dataloader_idx) not in copies:
        fresh = copy.deepcopy(metric)
        for part in fresh.modules():
            if isinstance(part, torchmetrics.Metric):
                part.reset()  # the updates of the metric copied stay out
        copies[name, stage, dataloader_idx] = fresh
    return copies[name, stage, dataloader_idx].to(owner.device)


class NASModule(pl.LightningModule):
    """A LightningModule around ``builder(arch) -> nn.Module``.

    Args:
        builder: a callable ``arch -> nn.Module`` or its import path (an import path, or a
            module-level function, lets checkpoints reload without passing it again), or a
            ready ``nn.Module`` (e.g. an exported one-shot subnet) trained as it is.
        loss: a name from ``LOSSES``, or a callable ``(output, target) -> loss`` or its
            import path (an import path, or a module-level function, is saved like the
            builder; another callable, such as a lambda, is not: ``NASModule`` warns, and
            ``load_from_checkpoint(path, loss=...)`` takes it again).
        metrics: ``{name: metric}`` with metric a name from ``module_metrics.METRICS`` or a
            torchmetrics ``Metric``; a list of names (or one name) uses the names as keys,
            which hold no ``.``. Logged as ``val_<name>``, and as ``test_<name>`` by
            ``trainer.test`` (with several loaders ``val_<name>/dataloader_idx_<i>``, as
            Lightning names a loader's keys: each loader, and the test, has its own metric
            objects).
            Default ``{"acc": "accuracy"}`` (logs ``val_acc``). Names are saved; metric
            objects are not (``NASModule`` warns: ``load_from_checkpoint(path,
            metrics=...)`` takes them again). ``f1``, ``recall`` and
            ``precision`` of a multiclass task are macro-averaged (the mean over classes;
            micro-averaged they equal accuracy).
        num_classes: classes of a classification task, labels of a ``multilabel`` one
            (needed by named class metrics but for ``binary``), the width of the network's
            output they take (an output of another width is a ``ConfigError`` at the
            first validation batch).
        task: torchmetrics task of named class metrics (``multiclass``, ``binary``,
            ``multilabel``).
        optimizer: a ``torch.optim`` class name (case-insensitive), e.g. ``adam``, ``sgd``,
            an import path, or a ``torch.optim.Optimizer`` subclass (``torch.optim.SGD``;
            saved by its import path).
        lr: learning rate; an ``lr`` key of the architecture wins.
        weight_decay: weight decay; a ``weight_decay`` key of the architecture wins.
        optimizer_kwargs: more optimizer arguments (e.g. ``momentum``).
        arch: the architecture as one dict.
        example_input_array: an input batch for ``forward`` (a tensor; a tuple or dict as
            Lightning passes it), run by Lightning's model summary and by a search's count
            of ``flops`` (and of lazy modules' ``params``). Default: the built network's own
            ``example_input_array`` if it has one. Not an architecture key, and not saved
            in the hyperparameters.
        **arch_kwargs: architecture keys too (over ``arch``'s), so a search can fill them
            like any LightningModule's ``__init__`` arguments.
    """

    def __init__(self, builder: Callable[[dict[str, Any]], nn.Module] | str,
                 loss: str | Callable[..., torch.Tensor] = "cross_entropy",
                 metrics: Mapping[str, Any] | Sequence[str] | str | None = None,
                 num_classes: int | None = None, task: str = "multiclass",
                 optimizer: str | type[torch.optim.Optimizer] = "adam", lr: float = 1e-3,
                 weight_decay: float = 0.0,
                 optimizer_kwargs: Mapping[str, Any] | None = None,
                 arch: Mapping[str, Any] | None = None, example_input_array: Any = None,
                 **arch_kwargs: Any) -> None:
        super().__init__()
        ready = isinstance(builder, nn.Module)  # an exported subnet: trained as it is
        try:
            builder_fn = import_object(builder) if isinstance(builder, str) else builder
        except ConfigError as err:  # (was: the import's message alone, naming no builder)
            raise ConfigError(f"builder {builder!r}: {err}") from None
        builder_path = None if ready else (
            builder if isinstance(builder, str) else object_path(builder))
        if not callable(builder_fn):  # (was: 'math.pi' said to be no import path)
            names = f" names {builder_fn!r}, which" if isinstance(builder, str) else ""
            raise ConfigError(f"builder {builder!r}{names} is not callable: give a function "
                              f"arch -> nn.Module, its import path or a ready nn.Module")
        self.arch = {**_mapping("arch", arch, "{'width': 64}"), **arch_kwargs}
        metrics = metric_names({"acc": "accuracy"} if metrics is None else metrics)
        opt_cls = _optimizer_class(optimizer)
        ignore = ["example_input_array"]  # an input batch, not a hyperparameter
        opt_path = optimizer if isinstance(optimizer, str) else object_path(optimizer)
        if opt_path is None:
            ignore.append("optimizer")
            _warn_unsaved("optimizer", opt_cls.__qualname__, "has no import path (defined in "
                          "the script that runs, or inside a function)", opt_cls.__name__,
                          "define it in a module to have it saved", default="adam")
        if not all(isinstance(m, str) for m in metrics.values()):  # a torchmetrics object
            ignore.append("metrics")
            objects = ", ".join(f"{k}={type(m).__name__}" for k, m in metrics.items()
                                if not isinstance(m, str))
            _warn_unsaved("metrics", f"({objects})", "are torchmetrics objects", "{...}",
                          f"metric names ({', '.join(METRICS)}) are saved",
                          default="the default {'acc': 'accuracy'}", it="them")
        if builder_path is None:
            ignore.append("builder")
            name = getattr(builder_fn, "__qualname__", repr(builder_fn))
            if not ready:
                _warn_unsaved("builder", name, "has no import path (defined in the script "
                              "that runs, or inside a function)", name.rsplit(".", 1)[-1],
                              "define it in a module to have it saved")
        self.loss_fn = _loss_fn(loss)
        loss_path = loss if isinstance(loss, str) else object_path(loss)
        if loss_path is None:
            ignore.append("loss")
            name = getattr(loss, "__qualname__", f"{type(loss).__name__}()")
            short_name = name.rsplit(".", 1)[-1]
            _warn_unsaved("loss", name, "has no import path (a lambda, an object, a "
                          "functools.partial, or defined in the script that runs or inside "
                          "a function)", short_name if short_name.isidentifier() else "...",
                          "define it as a function in a module to have it saved",
                          default="the default, cross_entropy")
        self.save_hyperparameters(ignore=ignore)
        if builder_path is not None:  # store the importable path, not the function object
            self.hparams["builder"] = builder_path
        if loss_path is not None:  # a name of LOSSES, or the loss function's import path
            self.hparams["loss"] = loss_path
        if opt_path is not None:  # a torch.optim name, or the class's import path
            self.hparams["optimizer"] = opt_path
        self.net = builder if ready else builder_fn(dict(self.arch))
        if not isinstance(self.net, nn.Module):
            raise ConfigError(f"builder {getattr(builder_fn, '__qualname__', builder)!r} "
                              f"returned {type(self.net).__name__} for {self.arch}, expected an "
                              f"nn.Module")  # (was: a TypeError)
        if example_input_array is None:  # the network's own, as its builder set it
            example_input_array = getattr(self.net, "example_input_array", None)
        if example_input_array is not None:
            self.example_input_array = example_input_array
        self.val_metrics = nn.ModuleDict({
            name: build_metric(spec, num_classes, task) for name, spec in metrics.items()})
        #: the named class metrics, which take an output num_classes wide (none for binary)
        self._class_metrics = [k for k, m in metrics.items() if task != "binary"
                               and isinstance(m, str) and m in TASK_METRICS]
        self._classes, self._task = num_classes, task
        self.opt_cls = opt_cls
        self.lr = _number("lr", self.arch.get("lr", lr))
        self.weight_decay = _number("weight_decay", self.arch.get("weight_decay", weight_decay))
        self.optimizer_kwargs = _mapping("optimizer_kwargs", optimizer_kwargs,
                                         "{'momentum': 0.9}")
        if type(self).configure_optimizers is NASModule.configure_optimizers:
            self._check_optimizer()

    def _check_optimizer(self) -> None:
        """Build the optimizer once, so that an argument it refuses (an unknown
        ``optimizer_kwargs`` key, a negative ``lr``) is a ``ConfigError`` when the module is
        made, before any training (was: a ``TypeError`` or ``ValueError`` when each trial's
        fit started, after the run folder was written)."""
        try:
            self.configure_optimizers()
        except RuntimeError:  # a check of the device (older torch: fused=True on CPU
            return  # parameters): the parameters are not yet where the fit puts them
        except (TypeError, ValueError) as err:
            takes = [n for n in inspect.signature(self.opt_cls).parameters if n != "params"]
            raise ConfigError(
                f"optimizer {self.opt_cls.__name__} refuses lr={self.lr!r}, weight_decay="
                f"{self.weight_decay!r}, optimizer_kwargs={self.optimizer_kwargs!r}: {err}; it "
                f"takes {', '.join(takes)} (lr and weight_decay as NASModule's own arguments, "
                f"the others in optimizer_kwargs)") from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = _pair(batch, "training_step")
        loss = self.loss_fn(self(x), y)
        # synced: a DDP trial's stored loss is the whole data's, and as a monitor the same on
        # every rank (was: each rank's shard, so `monitor: val_loss` stopped a DDP search)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Log ``val_loss`` and ``val_<name>``; with several validation loaders Lightning
        adds ``/dataloader_idx_<i>`` to each key, and each loader has its own metrics."""
        self._score(batch, "val", dataloader_idx)

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Log ``test_loss`` and ``test_<name>`` as ``validation_step`` logs ``val_``'s, with
        metric objects of their own (each test loader its own)."""
        self._score(batch, "test", dataloader_idx)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        """The network's output for the input of ``batch``: an ``(input, target)`` pair, an
        ``(input,)`` one or an input tensor (a prediction loader may hold no targets)."""
        return self(_input(batch))

    def _score(self, batch: Any, stage: str, dataloader_idx: int) -> None:
        """Log ``<stage>_loss`` and ``<stage>_<name>`` of ``batch`` (``stage``: ``val``,
        ``test``), each metric ``dataloader_idx``'s own (``loader_metric``)."""
        x, y = _pair(batch, "validation_step" if stage == "val" else "test_step")
        out = self(x)
        self._check_width(out, y)
        self.log(f"{stage}_loss", self.loss_fn(out, y), prog_bar=True, sync_dist=True)
        for name, metric in loader_metric(self, "val_metrics", dataloader_idx, stage).items():
            metric(out, y)  # (a copy's attribute: the metric it copies)
            self.log(f"{stage}_{name}", metric, prog_bar=True,
                     metric_attribute=f"val_metrics.{name}")

    def check_output_width(self) -> None:
        """Refuse, as the first validation batch would (``ConfigError``), a network whose
        output for ``example_input_array`` is not ``num_classes`` wide for the class
        metrics: run ``forward`` on the meta device (shapes only: nothing computed or
        allocated, the module's tensors and mode left as they were). A search's and a fit's
        dry build call it before anything is written (was: said at each trial's first
        validation batch, after the run folder was made). A module without an example or
        class metrics, with lazy layers, or whose ``forward`` the meta device cannot run
        (it reads its input's values) is left to that batch's check.

        Example:
            >>> from torch import nn
            >>> NASModule(lambda arch: nn.Linear(8, 3), num_classes=3,
            ...           example_input_array=torch.zeros(2, 8)).check_output_width()
        """
        example = getattr(self, "example_input_array", None)
        if example is None or not self._class_metrics or any(
                isinstance(t, nn.parameter.UninitializedTensorMixin)
                for t in (*self.parameters(), *self.buffers())):
            return
        tensors = {name: t.to("meta") for name, t in (*self.named_parameters(),
                                                      *self.named_buffers())}
        args, kwargs = ((), example) if isinstance(example, Mapping) else (
            tuple(example) if isinstance(example, (list, tuple)) else (example,), {})
        to_meta = lambda x: x.to("meta") if isinstance(x, torch.Tensor) else x  # noqa: E731
        try:
            with kept_modes(self), torch.no_grad():
                self.eval()  # as validation runs it
                out = torch.func.functional_call(
                    self, tensors, tuple(map(to_meta, args)),
                    {key: to_meta(value) for key, value in kwargs.items()})
        except Exception:  # noqa: BLE001 - a forward meta cannot run: validation checks it
            return
        self._check_width(out, None)

    def _check_width(self, out: Any, y: Any) -> None:
        """Refuse an output of another width than ``num_classes`` for the class metrics (was:
        torchmetrics' "preds.shape[1] should be equal to number of classes", naming no
        argument); a multiclass output of class labels (no class dimension, as the target:
        ``y``; where ``y`` is None, an output that is not floating point) passes."""
        n = self._classes
        if (not self._class_metrics or not isinstance(out, torch.Tensor) or out.ndim < 2
                or out.shape[1] == n):
            return
        if self._task == "multiclass" and (not out.is_floating_point() if y is None
                                           else out.ndim != getattr(y, "ndim", -1) + 1):
            return
        raise ConfigError(f"NASModule's network outputs {counted(out.shape[1], 'value')} per "
                          f"sample (output shape {tuple(out.shape)}), but num_classes={n}: the "
                          f"metrics {self._class_metrics} of task {self._task!r} take one "
                          f"score per class; give num_classes={out.shape[1]}, or a network "
                          f"that ends in {counted(n, 'output')}")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.opt_cls(self.parameters(), lr=self.lr, weight_decay=self.weight_decay,
                            **self.optimizer_kwargs)
