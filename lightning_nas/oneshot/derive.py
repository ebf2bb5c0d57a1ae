"""The end of a differentiable search: derive architectures from the logits, score them with
the shared weights and export the winner as single-path one-shot NAS does.

``top_archs`` ranks architectures by their probability under the per-decision softmax
(the first is the argmax of every decision); ``top_networks`` keeps those of distinct
networks (the decisions their path reaches), which the search scores. ``export_derived``
scores each with the shared weights after recalibrating BatchNorm on a fixed set of training batches
(``oneshot.scoring``), then exports the best in float32 (``oneshot.exported``), calibrated
again on the very same batches, so the exported subnet scores what the search reports; the
supernet's statistics, path, mode and torch's random state are left as they were.
``write_export`` writes ``best_arch.yaml``, ``subnet.pt`` (a whole ``torch.nn`` module),
``alphas.json`` (the logits and probabilities per epoch) and, with matplotlib,
``alphas.png`` (``lightning_nas.report.oneshot_plots.plot_alphas``).

Example:
    >>> ranked = top_archs({"act": ["relu", "tanh"], "width": [4, 8]},
    ...                    {"act": [0.3, 0.7], "width": [0.6, 0.4]}, k=2)
    >>> [(arch, round(p, 2)) for arch, p in ranked]
    [({'act': 'tanh', 'width': 4}, 0.42), ({'act': 'tanh', 'width': 8}, 0.28)]
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn

from lightning_nas.arch import arch_key
from lightning_nas.config.yamlio import dump_yaml
from lightning_nas.errors import check_number
from lightning_nas.oneshot.choices import get_path, set_path
from lightning_nas.oneshot.exported import export_checked, write_outputs
from lightning_nas.oneshot.random_state import preserved_rng
from lightning_nas.oneshot.reached import reached_arch
from lightning_nas.oneshot.records import record_text
from lightning_nas.oneshot.scoring import (
    Forward,
    calibrate_batchnorm,
    calibration_count,
    default_forward,
    loaders,
    preserved_batchnorm,
    score_subnet,
    step_batch,
    val_loaders,
)
from lightning_nas.run_folder import user_path
from lightning_nas.score_precision import precision_entry
from lightning_nas.train_modes import kept_modes
from lightning_nas.validation_limit import limited_entry

__all__ = ["RANK_LIMIT", "calibration_batches", "derived_text", "export_derived", "top_archs",
           "top_networks", "write_export"]


def top_archs(choices: Mapping[str, Sequence[Any]], probs: Mapping[str, Sequence[float]],
              k: int = 1) -> list[tuple[dict[str, Any], float]]:
    """The ``k`` most probable architectures, most probable first, with their probability
    (the product over decisions; ties keep the order of the values).

    Args:
        choices: ``{decision: values}``.
        probs: ``{decision: probability of each value}``.
        k: how many, an integer >= 1 (else a ``ConfigError`` naming it; was: ``k=-1`` gave
            all but the least probable, ``k=0`` none).
    """
    check_number(k, "k", 1, integer=True)
    beams: list[tuple[dict[str, Any], float]] = [({}, 0.0)]
    for label, values in choices.items():
        logs = [math.log(p) if p > 0 else -math.inf for p in probs[label]]
        grown = [({**arch, label: value}, score + lp) for arch, score in beams
                 for value, lp in zip(values, logs, strict=True)]
        beams = sorted(grown, key=lambda b: -b[1])[:k]
    return [(arch, math.exp(score)) for arch, score in beams]


#: the most architectures ``top_networks`` ranks to find ``k`` distinct networks
RANK_LIMIT = 4096


def top_networks(network: nn.Module, choices: Mapping[str, Sequence[Any]],
                 probs: Mapping[str, Sequence[float]], k: int = 1
                 ) -> list[tuple[dict[str, Any], float]]:
    """``top_archs`` of distinct networks: the ``k`` most probable architectures whose paths
    through ``network`` differ in a decision they reach (``reached.reached_arch``), each
    network by its most probable architecture, most probable first; fewer where the space
    holds fewer networks (or the first ``RANK_LIMIT`` architectures do). Architectures that
    differ only in decisions their path skips (a choice past a ``Repeat``'s depth, inside a
    ``LayerChoice`` candidate not taken) are one network (was: each scored and listed as a
    candidate of its own, ``top_k=6`` giving 6 candidates of 4 networks). ``network``'s
    active path is kept."""
    check_number(k, "k", 1, integer=True)
    previous = get_path(network)
    try:
        n = k
        while True:
            ranked = top_archs(choices, probs, n)
            kept: list[tuple[dict[str, Any], float]] = []
            seen: set[str] = set()
            for arch, probability in ranked:
                set_path(network, arch)
                key = arch_key(reached_arch(network))
                if key not in seen:
                    seen.add(key)
                    kept.append((arch, probability))
            if len(kept) >= k or len(ranked) < n or n >= RANK_LIMIT:
                return kept[:k]
            n = min(RANK_LIMIT, 2 * n)
    finally:
        set_path(network, previous)


def derived_text(arch: dict[str, Any], scored: Sequence[Mapping[str, Any]]) -> str:
    """The summary's words for the derived ``arch`` among the ``scored`` candidates (most
    probable first): its own probability, and which of them it was (was: the most
    probable's probability, also when another of the ``top_k`` scored best).

    Example:
        >>> derived_text({"a": 1}, [{"arch": {"a": 0}, "probability": 0.5},
        ...                         {"arch": {"a": 1}, "probability": 0.25}])[17:]
        '(probability 0.250: the 2nd most probable of 2, scored best; the most probable has 0.500)'
        >>> derived_text({"a": 0}, [{"arch": {"a": 0}, "probability": 0.5}])
        "derived {'a': 0} (probability 0.500, the most probable)"
    """
    rank = next(i for i, entry in enumerate(scored) if entry["arch"] == arch)
    said = f"derived {arch} (probability {scored[rank]['probability']:.3f}"
    if rank == 0:
        return f"{said}, the most probable)"
    place = rank + 1  # 2nd, 3rd, ..., 11th, ..., 21st (was: "21th")
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    nth = f"{place}{suffix}"
    return (f"{said}: the {nth} most probable of {len(scored)}, scored best; the most "
            f"probable has {scored[0]['probability']:.3f})")


def calibration_batches(trainer: pl.Trainer, batches: int) -> list[Any]:
    """The first ``calibration_count(trainer, batches)`` training batches on the device
    (of a ``BilevelData`` batch, the training part): no more than a training epoch runs."""
    source = trainer.train_dataloader
    if isinstance(source, Mapping):
        source = source.get("train")
    out: list[Any] = []
    batches = calibration_count(trainer, batches)
    for loader in loaders(source) if batches > 0 else []:
        for batch in loader:
            out.append(step_batch(trainer, batch))
            if len(out) >= batches:
                return out
    return out


def _best(scored: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    best = scored[0]
    for entry in scored[1:]:
        a, b = entry["score"], best["score"]
        if a is None or math.isnan(a):
            continue
        if b is None or math.isnan(b) or (a > b if mode == "max" else a < b):
            best = entry
    return best


def export_derived(trainer: pl.Trainer, pl_module: pl.LightningModule, network: nn.Module,
                   ranked: Sequence[tuple[dict[str, Any], float]],
                   metric: Callable[[torch.Tensor], torchmetrics.Metric], calibration: int,
                   mode: str = "max", forward: Forward = default_forward,
                   ) -> tuple[dict[str, Any], float | None, nn.Module, list[dict[str, Any]],
                              list[str]]:
    """Score each ranked architecture, export the best.

    Every candidate is calibrated on the same ``calibration`` training batches and scored on
    the validation data (synced over ranks; no score without validation data); the best
    (ties and missing scores: the more probable) is calibrated again on those batches and
    exported from ``network`` (inside ``pl_module``) in float32 by ``export_checked``.

    Returns:
        ``(arch, score, subnet, [{"arch", "probability", "score"} per candidate], frozen)``:
        ``frozen``, the subnet's submodules the user froze (``export_checked``).
    """
    has_val = bool(val_loaders(trainer))
    previous = get_path(pl_module)
    scored: list[dict[str, Any]] = []
    with kept_modes(pl_module), preserved_rng(pl_module.device), \
            preserved_batchnorm(pl_module):
        batches = calibration_batches(trainer, calibration)
        for arch, probability in ranked:
            set_path(pl_module, arch)
            score = score_subnet(trainer, pl_module, forward, metric, batches) if has_val \
                else None
            scored.append({"arch": arch, "probability": probability, "score": score})
        best = _best(scored, mode)
        set_path(pl_module, best["arch"])
        calibrate_batchnorm(pl_module, forward, batches, trainer.strategy)
        subnet, frozen = export_checked(trainer, pl_module, network, best["arch"], forward,
                                        batches)
    set_path(pl_module, previous)
    return best["arch"], best["score"], subnet, scored, frozen


def write_export(export_dir: str | Path, arch: Mapping[str, Any], score: float | None,
                 subnet: nn.Module, scored: Sequence[Mapping[str, Any]],
                 alphas: Mapping[str, Any], mode: str = "max",
                 notes: Sequence[str] = (), trainer: Any = None,
                 frozen: Sequence[str] = (), skipped: Sequence[str] = ()
                 ) -> dict[str, Path]:
    """Write ``alphas.json``, ``subnet.pt`` (a copy of ``subnet`` in eval mode), (with
    matplotlib) ``alphas.png`` and last ``best_arch.yaml`` (with the candidates' scores,
    ``mode``, ``unreached``: the decisions of ``arch`` its subnet never reaches
    (``skipped``, ``reached.unreached``; none: not written), any ``frozen`` submodules
    (``export_checked``), any ``notes``: what the
    scores count beyond the data, ``met_notes``, and the
    ``trainer``'s limit of validation batches where it validates part of them) into
    ``export_dir`` (``write_outputs``); return the paths written, by stem."""
    out = user_path(export_dir)
    files = {"best_arch": out / "best_arch.yaml", "subnet": out / "subnet.pt",
             "alphas": out / "alphas.json"}
    limited = {} if trainer is None else {**limited_entry(trainer), **precision_entry(trainer)}
    best = dump_yaml({"arch": dict(arch), "score": score, "algorithm": alphas.get("algorithm"),
                      "mode": mode, **({"unreached": list(skipped)} if skipped else {}),
                      "candidates": [dict(c) for c in scored],
                      **({"frozen": list(frozen)} if frozen else {}),
                      **({"notes": list(notes)} if notes else {}), **limited})
    write_outputs(out, {
        "alphas.json": lambda path: path.write_text(record_text(alphas)),
        "subnet.pt": functools.partial(torch.save, copy.deepcopy(subnet).cpu().eval())})
    try:
        from lightning_nas.report.oneshot_plots import plot_alphas

        # moved in whole, as the others (was: written in place, partial if killed)
        write_outputs(out, {"alphas.png": functools.partial(plot_alphas, alphas)})
        files["alphas_plot"] = out / "alphas.png"
    except ImportError:  # matplotlib is the optional ``plot`` extra
        pass
    write_outputs(out, {"best_arch.yaml": lambda path: path.write_text(best)})  # a finished run
    return files
