"""Plots of a run (PNG) and one self-contained HTML page (``lightning-nas report``);
matplotlib is the ``plot`` extra. The knobs ``choices_figure`` reads of a stored space (their
keys, values, log scales and the order of a choice's axis) are ``report/knobs.py``'s; a
one-shot run's plots are ``report/oneshot_plots.py``'s.

Example:
    >>> files = write_report(store, "runs/digits/report")  # doctest: +SKIP
    >>> sorted(files)  # doctest: +SKIP
    ['html', 'plots']
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

from lightning_nas.arch import flatten_arch, format_arch
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_number
from lightning_nas.report.knobs import (
    arch_value,
    choice_options,
    choice_order,
    log_scaled,
    space_params,
)
from lightning_nas.report.run_summary import counts_line, note_lines, summary, warm_start_lines
from lightning_nas.report.tables import failure_rows, format_table, leaderboard_rows
from lightning_nas.results import TrialResult, TrialStatus, format_score
from lightning_nas.run_folder import file_in_place, user_path
from lightning_nas.search.objectives import Objectives, front_rows, pareto_front
from lightning_nas.store import RunStore
from lightning_nas.wording import counted

__all__ = ["PLOT_HINT", "check_out_dir", "choices_figure", "pareto_figure", "plain_log_ticks",
           "plot_choices", "plot_progress", "progress_figure", "pyplot", "save_png",
           "write_report"]

PLOT_HINT = "plots need matplotlib: pip install 'lightning-nas[plot]'"


def check_out_dir(out_dir: Any, name: str = "the report folder") -> Path:
    """``out_dir`` as a path, refused (naming it as ``name``) when it, or a folder above it,
    is a file (was: "[Errno 17] File exists").

    Example:
        >>> check_out_dir("runs/no_such_run/report")
        PosixPath('runs/no_such_run/report')
    """
    out = user_path(out_dir)
    found = file_in_place(out)
    if found is not None:
        under = "" if found == out else f" is under {found}, which"
        raise ConfigError(f"{name} {out}{under} is a file; give a folder")
    return out


def plain_log_ticks(ax: Any, low: float, high: float) -> None:
    """Label a log-scaled x axis from ``low`` to ``high`` with plain numbers (``0.005``,
    ``50``) at 1, 2 and 5 times the powers of ten (within a decade 3 times too, within half
    a decade every multiple; over more than two decades the powers alone), minor ticks
    unlabelled (was: matplotlib's minor labels, ``3x10^-3`` and ``4x10^-3``, overlapping).

    Example:
        >>> fig, ax = pyplot().subplots()
        >>> _ = ax.scatter([0.003, 0.015], [0, 1]); ax.set_xscale("log")
        >>> plain_log_ticks(ax, 0.003, 0.015); fig.canvas.draw()
        >>> [t.get_text() for t in ax.get_xticklabels() if 0.003 <= t.get_position()[0] <= 0.015]
        ['0.003', '0.005', '0.01']
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = math.log10(high / low) if 0 < low < high else 0.0
    subs = (1.0,) if decades > 2 else (1.0, 2.0, 5.0) if decades >= 1 else \
        (1.0, 2.0, 3.0, 5.0) if decades >= 0.5 else tuple(float(i) for i in range(1, 10))
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend.

    Raises:
        ImportError: with the install hint (``PLOT_HINT``) when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(PLOT_HINT) from err
    return plt


def save_png(fig: Any, path: Any) -> None:
    """Write ``fig``, laid out already (``tight_layout``), into ``path`` at 110 dpi, drawn
    once, and close it (was: drawn twice: ``tight_layout`` leaves a placeholder layout
    engine, for which ``savefig`` draws the figure once more before it renders it).

    Example:
        >>> fig, ax = pyplot().subplots(); fig.tight_layout()
        >>> save_png(fig, "runs/digits/report/progress.png")  # doctest: +SKIP
    """
    fig.set_layout_engine(None)  # (matplotlib's rc figure.autolayout: a tight engine again)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def _scored(trials: list[TrialResult]) -> list[TrialResult]:
    """The trials of ``trials`` with a score to plot: completed, pruned and paused ones."""
    return [t for t in trials if t.score is not None
            and t.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.PAUSED)]


def _statuses(trials: list[TrialResult]) -> str:
    """The trials of each status among ``trials``, those there are, in ``show``'s order
    (``2 failed, 1 running``), or ``no trial yet``.

    Example:
        >>> _statuses([TrialResult(1, {}, TrialStatus.FAILED)]), _statuses([])
        ('1 failed', 'no trial yet')
    """
    order = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.REJECTED,
             TrialStatus.PRUNED, TrialStatus.PAUSED, TrialStatus.RUNNING)
    counts = [(sum(t.status is s for t in trials), s.value.lower()) for s in order]
    return ", ".join(f"{n} {name}" for n, name in counts if n) or "no trial yet"


def _nothing(fig: Any, title: str, why: str) -> Any:
    """``fig`` under ``title``, its axes hidden, saying in words why it draws nothing
    (``nothing to plot: ...``; was: empty axes, a progress axis of -0.04 to 0.04 trials)."""
    for ax in fig.axes:
        ax.axis("off")
    fig.suptitle(title)
    fig.text(0.5, 0.5, textwrap.fill(f"nothing to plot: {why}", width=70), ha="center",
             va="center", fontsize=11, color="0.35")
    return fig


def plot_progress(store: RunStore, path: Any, trials: list[TrialResult] | None = None) -> None:
    """Best so far against trials and against time (completed trials; pruned and paused
    ones grey), drawn by ``progress_figure``, into ``path`` (``trials``: as there)."""
    save_png(progress_figure(store, trials), path)


def progress_figure(store: RunStore, trials: list[TrialResult] | None = None) -> Any:
    """``plot_progress``'s figure (open: the caller closes it): best so far against trials
    and against wall-clock minutes, each axis label within the figure (was: the minutes'
    label in one line, cut off at the right edge).

    Args:
        store: the run.
        trials: every trial of the run (``store.known_trials()``), when the caller read them
            already (``write_report`` reads them once for all its plots); None: read here.
    """
    plt = pyplot()
    mode, monitor = store.get_meta("mode", "max"), store.get_meta("monitor")
    every = store.known_trials() if trials is None else trials
    trials = sorted(_scored(every), key=lambda t: t.finished or 0)
    if not trials:  # all failed, or none ended yet (was: two empty panels)
        return _nothing(plt.figure(figsize=(11, 4)), f"{monitor} ({mode}) over the search",
                        f"no trial has a score yet ({_statuses(every)})")
    start = min((t.started for t in every if t.started), default=0.0)  # any trial
    best, curve = None, []
    for t in trials:
        if t.status is TrialStatus.COMPLETED and (
                best is None or (t.score > best if mode == "max" else t.score < best)):
            best = t.score
        curve.append(best)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, xs, label in ((axes[0], range(1, len(trials) + 1), "scored trials finished"),
                          (axes[1], [((t.finished or start) - start) / 60 for t in trials],
                           "minutes since the first trial started\n(wall clock, pauses "
                           "between resumes included)")):
        xs = list(xs)
        done = [(x, t.score) for x, t in zip(xs, trials, strict=True)
                if t.status is TrialStatus.COMPLETED]
        pruned = [(x, t.score) for x, t in zip(xs, trials, strict=True)
                  if t.status is not TrialStatus.COMPLETED]
        if pruned:
            ax.scatter(*zip(*pruned, strict=True), s=14, color="0.7",
                       label="pruned or paused (best until its stop)")  # its score
        if done:
            ax.scatter(*zip(*done, strict=True), s=18, color="C0", label="trial")
        ax.step(xs, curve, where="post", color="C3", lw=2, label="best so far")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(monitor)
    axes[0].xaxis.get_major_locator().set_params(integer=True)
    # below the panels, over no point (was: inside the left one, "best" place, which hid a
    # paused trial's point at the top of a min search's panel)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3,
               frameon=False)
    fig.suptitle(f"{monitor} ({mode}) over the search")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_choices(store: RunStore, path: Any,
                 trials: list[TrialResult] | None = None) -> dict[str, str]:
    """Score per value of each architecture knob: which values win, drawn by
    ``choices_figure``, into ``path``. Returns each plotted knob's x axis: a range's (an
    ``int``/``float`` of the space, or numbers of more than 8 values) scale, ``log`` for
    one declared ``log: true``, else ``linear``; ``choice`` for one column of points per
    value (``trials``: as ``progress_figure``'s)."""
    fig, scales = choices_figure(store, trials)
    save_png(fig, path)
    return scales


def choices_figure(store: RunStore, trials: list[TrialResult] | None = None
                   ) -> tuple[Any, dict[str, str]]:
    """``plot_choices``' figure (open: the caller closes it) and each knob's x axis."""
    plt = pyplot()
    monitor = store.get_meta("monitor")
    every = store.known_trials() if trials is None else trials
    trials = [t for t in _scored(every) if t.status is TrialStatus.COMPLETED]
    # one knob per parameter of the stored space: a dict-valued choice is one value, and
    # every trial has every knob (was: the first trial's dict keys, a KeyError on another)
    keys = [key for key, _ in space_params(store.get_meta("space") or {})]
    flat = [({k: arch_value(t.arch, k) for k in keys} if keys else flatten_arch(t.arch), t.score)
            for t in trials]
    knobs = [k for k in dict.fromkeys(k for a, _ in flat for k in a)
             if len({json.dumps(a.get(k)) for a, _ in flat}) > 1]
    title = f"{monitor} per architecture choice (completed trials)"
    if not trials:  # (was: a blank figure under the title)
        return _nothing(plt.figure(figsize=(6.4, 3.2)), title,
                        f"no trial completed yet ({_statuses(every)})"), {}
    if not knobs:  # one trial, or trials of one architecture: no knob to compare
        return _nothing(plt.figure(figsize=(6.4, 3.2)), title,
                        f"each knob took one value in the "
                        f"{counted(len(trials), 'completed trial')} ({format_arch(flat[0][0])})"
                        ), {}
    log_knobs = log_scaled(store.get_meta("space") or {})
    ranges = {key for key, spec in space_params(store.get_meta("space") or {})
              if "int" in spec or "float" in spec}  # was: a range of <= 8 values a choice
    declared = choice_options(store.get_meta("space") or {})
    scales: dict[str, str] = {}
    cols = min(3, max(1, len(knobs)))
    rows = max(1, -(-len(knobs) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, knob in zip(axes.flat, knobs, strict=False):
        values = [a.get(knob) for a, _ in flat]
        scores = [s for _, s in flat]
        numeric = all(is_number(v) for v in values)
        if numeric and (len(set(values)) > 8 or knob in ranges):  # a range: scatter
            ax.scatter(values, scores, s=16)
            if knob in log_knobs or (min(values) > 0 and max(values) / min(values) > 20):
                ax.set_xscale("log")
                plain_log_ticks(ax, min(values), max(values))
        else:  # a choice: one column of points per value, with the mean
            labels = [json.dumps(v) for v in choice_order(values, declared.get(knob))]
            for i, label in enumerate(labels):
                ys = [s for v, s in zip(values, scores, strict=True) if json.dumps(v) == label]
                ax.scatter([i] * len(ys), ys, s=16, alpha=0.7)
                ax.plot([i - 0.3, i + 0.3], [sum(ys) / len(ys)] * 2, color="C3", lw=2)
            ax.set_xticks(range(len(labels)), [_tick(json.loads(x)) for x in labels])
            scales[knob] = "choice"
        ax.set_title(knob)
        ax.grid(alpha=0.3)
        scales.setdefault(knob, ax.get_xscale())
    for ax in list(axes.flat)[len(knobs):]:
        ax.axis("off")
    axes[0][0].set_ylabel(monitor)
    # wrapped to the figure's width (was: one knob's cut off at both sides), the mean named
    # where a choice's panel draws one (was: of a range's too, which draws none)
    mean = "; red: mean" if "choice" in scales.values() else ""
    fig.suptitle(textwrap.fill(f"{monitor} per architecture choice (completed trials{mean})",
                               width=40 * cols))
    fig.tight_layout()
    return fig, scales


def _tick(value: Any) -> str:
    """A choice's value as a tick label, as ``show`` prints it in an architecture (was: a
    None option's column unlabelled, and 1 and '1' both labelled 1).

    Example:
        >>> [_tick(v) for v in (None, 1, "1", 0.5, [16, 16], {"name": "sgd"})]
        ['None', '1', "'1'", '0.5', '[16, 16]', 'name=sgd']
    """
    return format_arch(value) if isinstance(value, dict) else format_arch({"v": value})[2:]


def write_report(store: RunStore, out_dir: Any) -> dict[str, Any]:
    """Write the plots (PNG) and one self-contained HTML page into ``out_dir``.

    Returns:
        ``{"html": path, "plots": [paths]}``.

    Raises:
        ConfigError: when ``out_dir`` (or a folder above it) is a file.
        ImportError: with the install hint when matplotlib is missing.
    """
    with store.snapshot():  # a live search's store as of one moment, as ``show`` reads it
        return _write_report(store, out_dir)  # (was: each figure read at its own moment)


def _write_report(store: RunStore, out_dir: Any) -> dict[str, Any]:
    """``write_report``'s files, of ``store`` as it stands."""
    import base64
    import html

    out = check_out_dir(out_dir)
    pyplot()  # no matplotlib: said before the folder is made
    # the store read (its meta, every trial) before the folder is made: one that cannot be
    # read is said with no folder left (was: an empty report/ beside the error)
    s = summary(store)
    rows = leaderboard_rows(store, k=20, digits=None)  # the table rounds time_s once
    failures = failure_rows(store)
    # once for every plot (was: read four times over); of the statuses this version knows
    trials = store.known_trials()  # (was: ValueError for one a newer version wrote)
    out.mkdir(parents=True, exist_ok=True)
    plots = [out / "progress.png", out / "choices.png"]
    plot_progress(store, plots[0], trials)
    plot_choices(store, plots[1], trials)
    extra = _extra_plots(store, out, trials)
    plots += extra
    shown = f" (the best 20 of {s['completed']})" if s["completed"] > len(rows) else ""
    table = format_table(rows)
    failed = (f"<h2>Failed and rejected trials</h2><pre>{html.escape(format_table(failures))}"
              f"</pre>" if failures else "")
    front = front_rows(store)  # as show lists it, any number of objectives (was: only a
    # 2-objective run's plot, its points by trial number; a 3-objective run's, none)
    spec = ", ".join(f"{n} {m}" for n, m in (store.objectives() or {}).items())
    pareto = (f"<h2>Pareto front ({html.escape(spec)}): {counted(len(front), 'trial')}</h2>"
              f"<pre>{html.escape(format_table(front))}</pre>" if front else "")
    images = "\n".join(
        f'<figure><a href="{p.name}"><img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></a><figcaption>{p.name}</figcaption>'
        f"</figure>" for p in plots)
    warm = "".join(f"<p>{html.escape(line)}</p>"  # the notes below the best result
                   for line in note_lines(s) + warm_start_lines(s))
    best = (f"best {html.escape(str(s['monitor']))} = {format_score(s['best_score'])} "
            f"(trial {s['best_trial']})" if s["best_trial"] is not None else "no completed trial")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lightning-nas report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
img{{max-width:100%}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head>
<body><h1>Search report</h1>
<p>{html.escape(counts_line(s))}; {best}</p>
{warm}
{images}
<h2>Leaderboard{shown}</h2><pre>{html.escape(table)}</pre>
{pareto}
{failed}
</body></html>
"""
    (out / "report.html").write_text(page)
    return {"html": out / "report.html", "plots": plots}


def _extra_plots(store: RunStore, out: Any, trials: list[TrialResult]) -> list[Any]:
    """Plots that only some runs have: the Pareto front of a 2-objective run
    (``pareto_figure``; ``trials``: every trial of the run)."""
    fig = pareto_figure(store, trials)
    if fig is None:
        return []
    path = out / "pareto.png"
    save_png(fig, path)
    return [path]


def pareto_figure(store: RunStore, trials: list[TrialResult] | None = None) -> Any:
    """The figure of ``pareto.png`` (open: the caller closes it): every completed trial of
    a 2-objective run, one objective against the other, and its Pareto front; None for a
    run of another number of objectives (``trials``: as ``progress_figure``'s)."""
    spec = store.objectives()
    if not spec or len(spec) != 2:
        return None
    plt = pyplot()
    objectives = Objectives(spec)
    x_name, y_name = objectives.names
    trials = store.known_trials() if trials is None else trials
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    points = [t for t in done if x_name in t.metrics and y_name in t.metrics]
    if not points:  # (was: an empty panel, its legend naming a front)
        why = (f"no completed trial holds both {x_name} and {y_name}" if done else
               f"no trial completed yet ({_statuses(trials)})")
        return _nothing(plt.figure(figsize=(6, 4.5)), f"{x_name} against {y_name}", why)
    front = sorted(pareto_front(points, objectives), key=lambda t: t.metrics[x_name])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter([t.metrics[x_name] for t in points], [t.metrics[y_name] for t in points],
               s=18, color="0.6", label="trials")
    ax.plot([t.metrics[x_name] for t in front], [t.metrics[y_name] for t in front], "o-",
            color="C3", label="Pareto front")
    for t in front:
        ax.annotate(f"#{t.trial_id}", (t.metrics[x_name], t.metrics[y_name]), fontsize=8,
                    xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{x_name} ({spec[x_name]})")
    ax.set_ylabel(f"{y_name} ({spec[y_name]})")
    ax.grid(alpha=0.3)
    # below the panel, over no point (was: inside it, "best" place, over a trial's point)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
