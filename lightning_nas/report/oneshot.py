"""A one-shot run folder seen the way a search run is: ``lightning-nas show`` and
``lightning-nas report`` of the folder that ``lightning-nas oneshot`` (or ``OneShotNAS`` /
``DifferentiableNAS`` with ``export_dir``) writes.

The folder holds ``best_arch.yaml`` (the winner, its score, ``algorithm`` and ``mode``);
SPOS adds ``history.json`` (every subnet scored, with the epoch of its search), DARTS and
GDAS list their scored candidates in ``best_arch.yaml`` and add ``alphas.json``; a
fine-tune adds ``finetune.json``. ``best_arch.yaml``'s ``notes`` (a DDP validation split its
ranks do not divide) follow the best result and the fine-tune's. Reads files only: no
torch, no Lightning.

Example:
    >>> load_oneshot("runs/no_such_folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: run folder runs/no_such_folder does not exist
    >>> print(render_oneshot("runs/oneshot_digits", k=2))  # doctest: +SKIP
    spos one-shot: 50 subnets scored after 15 epochs (earlier searches after 5, 10 epochs); ...
    the best 2 of 50 (a higher --top shows more)
    rank  epoch  score   arch
    1     15     0.9421  conv1=32 conv1_kernel=5 ...
    2     15     ...
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from lightning_nas.config.yamlio import dump_yaml
from lightning_nas.errors import ConfigError
from lightning_nas.folder_lookup import check_run_folder, runs_within
from lightning_nas.report.tables import cut_line, format_csv, format_table, json_safe
from lightning_nas.results import format_score
from lightning_nas.run_folder import user_path
from lightning_nas.spos_scored import scored_text
from lightning_nas.wording import counted

__all__ = ["load_oneshot", "oneshot_rows", "render_oneshot", "write_oneshot_report"]


def load_oneshot(folder: str | Path) -> dict[str, Any]:
    """The folder's files as one dict: ``best_arch.yaml``'s keys (``arch``, ``score``,
    ``algorithm``, ``mode``, ``candidates``, ``notes``, ``limited_validation``,
    ``frozen`` and ``unreached`` where it has them) plus ``history`` (SPOS), ``alphas``
    (DARTS, GDAS) and ``finetune``, each None when its file is absent.

    Raises:
        FileNotFoundError: when ``folder`` is no one-shot run folder.
        ConfigError: when one of its files is not what a one-shot run writes (not YAML or
            JSON, or of another shape), naming it.
    """
    folder = user_path(folder)
    check_run_folder(folder)  # was: a missing folder said "(no search.db)"
    if not (folder / "best_arch.yaml").is_file() and (folder / "checkpoints" /
                                                      "last.ckpt").is_file():
        # was: "neither a run directory ... nor a one-shot run folder" of a killed one
        raise FileNotFoundError(f"{folder} holds checkpoints/last.ckpt but no best_arch.yaml "
                                f"yet: a one-shot run that did not finish? run the command "
                                f"that started it again with --ckpt_path last (lightning-nas "
                                f"oneshot CONFIG ... --ckpt_path last) to finish it, then "
                                f"show or report it")
    if not (folder / "best_arch.yaml").is_file():
        raise FileNotFoundError(f"{folder} is neither a run directory (no search.db) nor a "
                                f"one-shot run folder (no best_arch.yaml){runs_within(folder)}")
    info = {"history": None, "alphas": None, "finetune": None, "candidates": None,
            **_read(folder / "best_arch.yaml", dict)}
    for key, name, kind in (("history", "history.json", list), ("alphas", "alphas.json", dict),
                            ("finetune", "finetune.json", dict)):
        if (folder / name).is_file():
            info[key] = _read(folder / name, kind)
    # written before algorithm and mode were recorded: SPOS had no candidates, all maximised
    info.setdefault("algorithm", "spos" if info["candidates"] is None else "darts")
    info.setdefault("mode", "max")
    if info["algorithm"] != "spos":
        info["history"] = None  # an earlier SPOS run's file in the same folder
    return info


def _read(path: Path, kind: type) -> Any:
    """The content of a one-shot run folder's file (YAML or JSON by its suffix; an empty
    YAML file an empty mapping), a ``kind`` (``dict`` or ``list``; a list's items mappings
    with ``epoch``, ``arch`` and ``score``, as ``history.json``'s).

    Raises:
        ConfigError: naming the file and what is wrong (was: a traceback, exit status 1).
    """
    try:
        text = path.read_text()
        data = (yaml.safe_load(text) or {}) if path.suffix == ".yaml" else json.loads(text)
    except (yaml.YAMLError, ValueError) as err:  # a JSON or decoding error is a ValueError
        mark = getattr(err, "problem_mark", None)
        reason = f"{getattr(err, 'problem', None) or err}" + (
            f" at line {mark.line + 1}" if mark is not None else "")
        raise ConfigError(f"{path} cannot be read as {path.suffix[1:].upper()} ({reason}); "
                          f"restore it from a copy of the run folder, or run the one-shot "
                          f"search again") from None
    if not isinstance(data, kind) or kind is list and not all(
            isinstance(item, dict) and {"epoch", "arch", "score"} <= item.keys() for item in data):
        shape = "a mapping" if kind is dict else "a list of {epoch, arch, score} mappings"
        raise ConfigError(f"{path} is not what a one-shot run writes there ({shape}); "
                          f"restore it from a copy of the run folder, or run the one-shot "
                          f"search again")
    return data


def _order(score: float | None, mode: str) -> tuple[int, float]:
    """Sort key: best first, no score (or NaN) last."""
    if score is None or math.isnan(score):
        return (1, 0.0)
    return (0, -score if mode == "max" else score)


def oneshot_rows(info: dict[str, Any], k: int | None = 10) -> list[dict[str, Any]]:
    """The subnets of the search that chose the winner, best first: SPOS's last search
    (``epoch``, ``score``), or the DARTS/GDAS candidates (``score``, ``probability``; equal
    scores keep the more probable first, as the export does)."""
    mode = info["mode"]
    if info["history"] is not None:
        last = max(h["epoch"] for h in info["history"]) if info["history"] else None
        found = [{"epoch": h["epoch"], "score": h["score"], "arch": h["arch"]}
                 for h in info["history"] if h["epoch"] == last]
    else:
        found = [{"score": c.get("score"), "probability": c.get("probability"),
                  "arch": c["arch"]} for c in info["candidates"] or []]
    found.sort(key=lambda row: _order(row["score"], mode))
    return [{"rank": i + 1, **row} for i, row in enumerate(found[:k])]


def _head(info: dict[str, Any]) -> str:
    name = info["algorithm"]
    if info["history"] is not None:
        scored = scored_text(info["history"])
        head = f"{name} one-shot: {scored}" if scored else f"{name} one-shot"
    else:
        head = (f"{name} one-shot: {counted(len(info['candidates'] or []), 'derived candidate')}"
                f" scored")
    score = info.get("score")
    head += (f"; best {format_score(score)} ({info['mode']}) with shared weights"
             if score is not None else "; no validation score")
    tuned = info["finetune"]
    if tuned:
        values = ", ".join(f"{k}={format_score(v)}" for k, v in sorted(tuned["metrics"].items()))
        head += f"\nfine-tuned {counted(tuned['epochs'], 'epoch')}: {values}"
    # what its scores count beyond the data (was: in best_arch.yaml alone)
    return (head + "".join(f"\nnote: {text}" for text in _notes(info)) + _frozen_line(info)
            + _unreached_line(info))


def _unreached(info: dict[str, Any]) -> list[str]:
    """``best_arch.yaml``'s ``unreached`` labels (none: a list of none, as a run writes it)."""
    labels = info.get("unreached")
    return [str(label) for label in labels] if isinstance(labels, list) else []


def _unreached_line(info: dict[str, Any]) -> str:
    """The line, with its line start, naming the decisions of the best arch its subnet never
    reaches (``best_arch.yaml``'s ``unreached``); ``""`` for none.

    Example:
        >>> print(_unreached_line({"unreached": ["op2"]}).strip())
        unreached: op2 (decisions of the best arch its subnet never reaches: their values \
shape nothing in subnet.pt)
    """
    labels = _unreached(info)
    if not labels:
        return ""
    return (f"\nunreached: {', '.join(labels)} (decisions of the best arch its subnet never "
            f"reaches: their values shape nothing in subnet.pt)")


def _frozen_line(info: dict[str, Any]) -> str:
    """The line, with its line start, naming ``best_arch.yaml``'s ``frozen`` submodules and
    how a fine-tune of ``subnet.pt`` (saved all in eval mode) keeps them frozen; ``""`` for
    none (was: in best_arch.yaml alone).

    Example:
        >>> print(_frozen_line({"frozen": ["backbone"]}).strip())
        frozen: backbone (in eval mode while the supernet trained; a fine-tune of subnet.pt \
keeps them so with finetune_subnet(net, ..., frozen=['backbone']))
    """
    frozen = _frozen(info)
    if not frozen:
        return ""
    return (f"\nfrozen: {', '.join(frozen)} (in eval mode while the supernet trained; a "
            f"fine-tune of subnet.pt keeps them so with finetune_subnet(net, ..., "
            f"frozen={frozen!r}))")


def _frozen(info: dict[str, Any]) -> list[str]:
    """``best_arch.yaml``'s ``frozen`` names (none: a list of none, as a run writes it)."""
    frozen = info.get("frozen")
    return [str(name) for name in frozen] if isinstance(frozen, list) else []


def _notes(info: dict[str, Any]) -> list[str]:
    """``best_arch.yaml``'s ``notes`` (none: a run that met no uneven DDP split), then its
    ``limited_validation`` (a run whose Trainer validated part of each loader)."""
    notes = info.get("notes")
    held = [str(text) for text in notes] if isinstance(notes, list) else []
    limited = info.get("limited_validation")  # scored under a limit_val_batches (was: unsaid)
    return [*held, *([str(limited)] if limited else [])]


def render_oneshot(folder: str | Path, fmt: str = "table", k: int | None = 10) -> str:
    """The leaderboard of a one-shot run folder as ``table``, ``csv`` or ``json``; ``k``
    rows at most (None: all). Rows that ``k`` cut are said as a search run's are: a line
    above the table (``the best 3 of 8``) and the JSON's ``shown`` and ``of``."""
    info = load_oneshot(folder)
    every = oneshot_rows(info, None)
    rows = every[:k]
    if fmt == "json":
        return json.dumps(json_safe({
            "algorithm": info["algorithm"], "mode": info["mode"],
            "best": {"arch": info.get("arch"), "score": info.get("score")},
            "finetune": info["finetune"], "notes": _notes(info),
            "frozen": _frozen(info), "unreached": _unreached(info), "leaderboard": rows,
            "shown": len(rows), "of": len(every)}), indent=2)
    if fmt == "csv":  # the run's notes on each row, as the table says them (was: none)
        notes = "; ".join(_notes(info))
        return format_csv([{**row, "notes": notes} for row in rows], sort_keys=False,
                          columns=("rank", "notes"))
    cut = cut_line(len(rows), len(every))
    # --top 0: the cut line alone (was: "(no trial)" under it, as if the folder held none)
    table = "\n" + format_table(rows) if rows or not every else ""
    return _head(info) + ("\n" + cut if cut else "") + table


def write_oneshot_report(folder: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """The report of a one-shot run folder: a plot (``alphas.png``, the DARTS/GDAS
    architecture probabilities per epoch; ``subnets.png``, the SPOS subnets' scores per
    search) and a page with the leaderboard and the winner.

    Raises:
        FileNotFoundError: when ``folder`` is no one-shot run folder.
        ConfigError: when ``out_dir`` (or a folder above it) is a file.
        ImportError: with the install hint when matplotlib is missing.
    """
    import base64
    import html

    from lightning_nas.report.oneshot_plots import plot_alphas, plot_subnet_scores
    from lightning_nas.report.plots import check_out_dir, pyplot

    info = load_oneshot(folder)
    if info["algorithm"] != "spos" and info["alphas"] is None:
        raise FileNotFoundError(f"{folder}: a {info['algorithm']} run folder without "
                                f"alphas.json")
    out = check_out_dir(out_dir)
    pyplot()  # no matplotlib: said before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    if info["alphas"] is not None:
        plot, caption = out / "alphas.png", "architecture probabilities per epoch"
        plot_alphas(info["alphas"], plot)
    else:
        plot, caption = out / "subnets.png", "subnet scores with shared weights per search"
        plot_subnet_scores(info["history"] or [], plot, info["mode"])
    image = base64.b64encode(plot.read_bytes()).decode()
    every = oneshot_rows(info, None)
    rows = every[:20]
    shown = f" (the best {len(rows)} of {len(every)})" if len(every) > len(rows) else ""
    best = dump_yaml({"arch": info.get("arch"), "score": info.get("score")})
    head = "".join(f"<p>{html.escape(line)}</p>" for line in _head(info).splitlines())
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>lightning-nas '
            f'one-shot report</title></head><body><h1>{html.escape(info["algorithm"])} one-shot '
            f'search</h1>{head}<figure><img alt="{plot.stem}" '
            f'style="max-width:100%" src="data:image/png;base64,{image}"><figcaption>{caption}'
            f"</figcaption></figure><h2>Best architecture</h2><pre>{html.escape(best)}</pre>"
            f"<h2>Leaderboard{shown}</h2><pre>{html.escape(format_table(rows))}</pre>"
            f"</body></html>\n")
    (out / "report.html").write_text(page)
    return {"html": out / "report.html", "plots": [plot]}
