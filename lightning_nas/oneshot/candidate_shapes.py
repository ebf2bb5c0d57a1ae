"""A ``LayerChoice`` candidate the rest of the network cannot take, said before any step
instead of torch's size error at whichever step first samples it: ``check_candidate_shapes``
for SPOS (``OneShotNAS``, before the sanity check and the first step; DARTS's sum refuses
any) and ``check_gdas_candidates`` for GDAS (each candidate run on the first training batch,
the other decisions at their argmax). Each refusal names the label, the candidate and the
candidates' output shapes.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> net = nn.Sequential(LayerChoice([nn.Linear(4, 3), nn.Linear(4, 5)], label="fc"),
    ...                     nn.Linear(3, 2))
    >>> x = torch.zeros(1, 4)
    >>> check_candidate_shapes(net, lambda: net(x), "SPOS")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: choice 'fc': SPOS trains and scores paths that pick any ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import torch
from torch import nn

from lightning_nas.errors import ConfigError, typed
from lightning_nas.oneshot.choices import LayerChoice, get_path, set_path
from lightning_nas.oneshot.mixed import mixed

__all__ = ["check_candidate_shapes", "check_gdas_candidates"]


def check_gdas_candidates(model: nn.Module, x: Any, weights: Mapping[str, torch.Tensor],
                          index: Mapping[str, int], preds: Any) -> None:
    """Raise ``ConfigError`` (``_refuse``) when a GDAS step that samples a ``LayerChoice``
    candidate (the other decisions at their argmax, as ``preds`` was made) would crash or
    predict another shape than ``preds``, before any step (was: torch's size error at the
    first step that sampled it)."""
    expected, layers = _signature(preds), {}
    for module in model.modules():
        if isinstance(module, LayerChoice) and module.label in index:
            layers.setdefault(module.label, module)  # (a label shared: its first module)
    for label, module in layers.items():
        said: dict[str, Any] = {}  # each candidate's output shape, as it ran
        running = [""]

        def record(_module: nn.Module, _args: Any, out: Any, said: dict = said,
                   running: list = running) -> None:
            said.setdefault(running[0], _signature(out))

        hook = module.register_forward_hook(record)
        try:
            for j, name in enumerate(module.candidates):
                running[0] = name
                one = torch.zeros_like(weights[label])
                one[j] = 1.0
                try:
                    with mixed(model, {**weights, label: one}, {**index, label: j}):
                        out = _signature(model(x))
                except ConfigError:
                    raise
                except Exception as err:  # noqa: BLE001 - said with the label and candidate
                    _refuse("GDAS", label, name, said, f"the forward of a path that picks "
                            f"it raised {typed(err)}", err)
                if out != expected:
                    _refuse("GDAS", label, name, said, f"a path that picks it predicts shape "
                            f"{out}, not {expected}")
        finally:
            hook.remove()


def _signature(out: Any) -> Any:
    """The shape of a module's output: a tensor's shape, those of a tuple or list of them."""
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (list, tuple)):
        return [_signature(item) for item in out]
    return type(out).__name__


def check_candidate_shapes(model: nn.Module, run: Callable[[], Any], who: str) -> Any:
    """Return what ``run`` (the forward of one batch through ``model``, in eval mode,
    without gradients) returns at the active path; raise ``ConfigError`` when a
    ``LayerChoice`` candidate would crash the forward of a path that picks it, naming the
    label and the candidates' output shapes.

    ``run`` runs once at the active path; every ``LayerChoice`` it calls then runs each of
    its candidates on the input it had. A candidate that raises there is refused; one whose
    output shape differs from the active one's runs the whole forward again with it picked
    (the rest of the path kept): refused if that raises or predicts another shape, kept if
    the layers after it take its shape (a width-following ``ChoiceLinear``). Where the
    active path itself raises, an active candidate is refused if another one runs. Said
    before training (was: torch's size error at whichever step first sampled it).
    """
    seen: dict[int, tuple[LayerChoice, tuple, dict, Any]] = {}  # (its first call)

    def record(module: LayerChoice, args: tuple, kwargs: dict, out: Any) -> None:
        seen.setdefault(id(module), (module, args, kwargs, _signature(out)))

    hooks = [m.register_forward_hook(record, with_kwargs=True)
             for m in model.modules() if isinstance(m, LayerChoice)]
    try:
        result, failed = run(), None
    except ConfigError:  # (said already)
        raise
    except Exception as err:  # noqa: BLE001 - an active candidate at fault is said below
        result, failed = None, err
    finally:
        for hook in hooks:
            hook.remove()
    preds = _signature(result)
    path = get_path(model)
    for module, args, kwargs, active in seen.values():
        label, shapes = module.label, {}
        for name, op in module.candidates.items():
            try:
                shapes[name] = active if name == module.chosen else _signature(op(*args,
                                                                                 **kwargs))
            except Exception as err:  # noqa: BLE001 - said with the label and candidate
                _refuse(who, label, name, shapes, f"on its input it raised "
                        f"{typed(err)}", err)
        for name in [n for n, shape in shapes.items() if shape != active]:
            set_path(model, {**path, label: name})
            try:
                out = _signature(run())
            except ConfigError:
                raise
            except Exception as err:  # noqa: BLE001 - said with the label and candidate
                if failed is None:
                    _refuse(who, label, name, shapes, f"the forward of a path that picks "
                            f"it raised {typed(err)}", err)
                continue
            finally:
                set_path(model, path)
            if failed is not None:  # another candidate runs: the active one is at fault
                _refuse(who, label, module.chosen, shapes, f"the forward of a path that "
                        f"picks it raised {typed(failed)}", failed)
            if out != preds:
                _refuse(who, label, name, shapes, f"a path that picks it predicts shape "
                        f"{out}, not {preds}")
    if failed is not None:
        raise failed
    return result


def _refuse(who: str, label: str, name: str, shapes: Mapping[str, Any], why: str,
            err: Exception | None = None) -> NoReturn:
    """Raise the ``ConfigError`` of ``check_candidate_shapes`` for candidate ``name``."""
    said = ", ".join(f"{n!r}: {shape}" for n, shape in shapes.items())
    raise ConfigError(f"choice {label!r}: {who} trains and scores paths that pick any "
                      f"candidate, and candidate {name!r} does not fit the network: "
                      f"{why[:300]} (the candidates' output shapes on the first batch: "
                      f"{said or 'none ran'}); make the candidates return one shape, "
                      f"or follow the choice with layers that take each (a ChoiceLinear "
                      f"follows its input width)") from err
