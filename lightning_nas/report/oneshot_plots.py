"""The plots of a one-shot run (PNG, matplotlib: the ``plot`` extra): a differentiable
search's architecture probabilities per epoch (``alphas.png``, ``alphas_figure``) and a
single-path search's subnet scores per search (``subnets.png``, ``subnet_scores_figure``);
``report/oneshot.py`` puts them on its page, ``oneshot/derive.py`` writes ``alphas.png``.

Example:
    >>> alphas = {"algorithm": "darts", "values": {"op": ["conv", "pool"]},
    ...           "history": [{"epoch": 1, "probs": {"op": [0.6, 0.4]}}]}
    >>> fig = alphas_figure(alphas)
    >>> [ax.get_title() for ax in fig.axes]
    ['op']
    >>> pyplot().close(fig)
"""

from __future__ import annotations

import math
from typing import Any

from lightning_nas.report.plots import pyplot

__all__ = ["alphas_figure", "plot_alphas", "plot_subnet_scores", "subnet_scores_figure"]


def plot_alphas(alphas: dict[str, Any], path: Any) -> None:
    """Architecture probabilities of a differentiable one-shot search per epoch: a panel per
    decision, a line per value (``alphas.json``: ``{"values", "history"}``)."""
    fig = alphas_figure(alphas)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def alphas_figure(alphas: dict[str, Any]) -> Any:
    """The figure ``plot_alphas`` writes (epochs in whole numbers)."""
    plt = pyplot()
    values, history = alphas["values"], alphas["history"]
    labels, epochs = list(values), [h["epoch"] for h in history]
    cols = min(3, max(1, len(labels)))
    rows = max(1, -(-len(labels) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, label in zip(axes.flat, labels, strict=False):
        for i, value in enumerate(values[label]):
            ax.plot(epochs, [h["probs"][label][i] for h in history], marker="o", ms=3,
                    label=str(value))
        ax.set_title(label)
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)  # was: 1.5, 2.5, ...
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(labels):]:
        ax.axis("off")
    axes[0][0].set_ylabel("softmax(alpha)")
    fig.suptitle(f"{alphas.get('algorithm', '')} architecture probabilities per epoch")
    fig.tight_layout()
    return fig


def plot_subnet_scores(history: list[dict[str, Any]], path: Any, mode: str = "max") -> None:
    """The subnets a single-path one-shot search scored with shared weights, one column of
    points per search (``history.json``: ``[{"epoch", "score", "arch"}]``), the best of
    each search marked, drawn by ``subnet_scores_figure``, into ``path``."""
    fig = subnet_scores_figure(history, mode)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def subnet_scores_figure(history: list[dict[str, Any]], mode: str = "max") -> Any:
    """``plot_subnet_scores``' figure (open: the caller closes it): each search's best is
    the best of its scores that are numbers, as the search picks its winner (a diverged
    subnet's NaN, or a null, is no best: was, scored first, it left its search unmarked);
    a search of no such score has none marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = sorted({h["epoch"] for h in history})
    pick = max if mode == "max" else min
    for epoch in epochs:
        scores = [math.nan if h["score"] is None else h["score"] for h in history
                  if h["epoch"] == epoch]
        ax.scatter([epoch] * len(scores), scores, s=14, color="0.6")
        if numbers := [score for score in scores if not math.isnan(score)]:
            ax.scatter([epoch], [pick(numbers)], s=40, color="C3")
    ax.set_xlabel("search after epoch")
    ax.set_ylabel(f"score with shared weights ({mode})")
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
