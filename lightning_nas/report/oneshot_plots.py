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
"""

from __future__ import annotations

import math
from typing import Any

from lightning_nas.report.plots import PLOT_HINT, pyplot, save_png

__all__ = ["alphas_figure", "plot_alphas", "plot_subnet_scores", "subnet_scores_figure"]


def plot_alphas(alphas: dict[str, Any], path: Any) -> None:
    """Architecture probabilities of a differentiable one-shot search per epoch: a panel per
    decision, a line per value (``alphas.json``: ``{"values", "history"}``), drawn once, at
    110 dpi, into ``path`` (every DARTS/GDAS export writes it; was: tight_layout's pass over
    every text, then savefig's two draws). A PNG whatever ``path``'s suffix (an export writes
    it to a partial file first, ``write_outputs``)."""
    alphas_figure(alphas).savefig(path, dpi=110, format="png")


def alphas_figure(alphas: dict[str, Any]) -> Any:
    """The figure ``plot_alphas`` writes (epochs in whole numbers): a panel per decision, in
    up to 3 columns of 4.2 x 3.2 inches, laid out by ``_grid_layout`` (was: by tight_layout,
    one more pass over every text; and an empty panel drawn for each free cell of the grid).
    A plain ``Figure`` on its own Agg canvas: no pyplot figure to close, no backend set for
    the process (was: ``matplotlib.use("Agg")`` in the user's training process)."""
    values, history = alphas["values"], alphas["history"]
    labels, epochs = list(values), [h["epoch"] for h in history]
    cols = min(3, max(1, len(labels)))
    rows = max(1, -(-len(labels) // cols))
    fig = _agg_figure((4.2 * cols, 3.2 * rows))
    for n, label in enumerate(labels):
        ax = fig.add_subplot(rows, cols, n + 1)
        for i, value in enumerate(values[label]):
            ax.plot(epochs, [h["probs"][label][i] for h in history], marker="o", ms=3,
                    label=str(value))
        ax.set_title(label, y=1.0)  # at its place: no search for tick labels above the panel
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)  # was: 1.5, 2.5, ...
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        if n == 0:
            ax.set_ylabel("softmax(alpha)")
    fig.suptitle(f"{alphas.get('algorithm', '')} architecture probabilities per epoch")
    fig.subplots_adjust(**_grid_layout(fig, rows, cols))
    return fig


def _agg_figure(size: tuple[float, float]) -> Any:
    """A ``matplotlib.figure.Figure`` of ``size`` inches on its own Agg canvas, outside
    pyplot's figure manager.

    Raises:
        ImportError: with the install hint (``PLOT_HINT``) when matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(PLOT_HINT) from err
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _grid_layout(fig: Any, rows: int, cols: int) -> dict[str, float]:
    """``subplots_adjust``'s settings for ``alphas_figure``'s grid, from fixed room in
    inches around its panels (scaled with ``font.size``): what tight_layout finds there,
    without measuring every text. Its texts are alike in any run: y ticks 0.0 to 1.0, the
    ``softmax(alpha)`` label, whole epochs, ``epoch`` below, a title of one line above.

    Example:
        >>> from matplotlib.figure import Figure
        >>> room = _grid_layout(Figure(figsize=(4.2, 3.2)), 1, 1)  # inches to the edges:
        >>> round(room["left"] * 4.2, 2), round((1 - room["top"]) * 3.2, 2)
        (0.65, 0.65)
    """
    from matplotlib import rcParams

    scale = rcParams["font.size"] / 10  # its texts' sizes are relative to it by default
    width, height = (float(x) for x in fig.get_size_inches())
    left, right, bottom, top, gap_w, gap_h = (x * scale for x in (0.65, 0.15, 0.5, 0.65,
                                                                   0.45, 0.8))
    panel_w = (width - left - right - (cols - 1) * gap_w) / cols
    panel_h = (height - bottom - top - (rows - 1) * gap_h) / rows
    return {"left": left / width, "right": 1 - right / width, "bottom": bottom / height,
            "top": 1 - top / height, "wspace": gap_w / panel_w, "hspace": gap_h / panel_h}


def plot_subnet_scores(history: list[dict[str, Any]], path: Any, mode: str = "max") -> None:
    """The subnets a single-path one-shot search scored with shared weights, one column of
    points per search (``history.json``: ``[{"epoch", "score", "arch"}]``), the best of
    each search marked, drawn by ``subnet_scores_figure``, into ``path``."""
    save_png(subnet_scores_figure(history, mode), path)


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
