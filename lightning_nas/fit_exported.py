"""What a fit reads of a search's exported files: the ``# lightning-nas fit: monitor=...
mode=...`` comment of a ``best_config.yaml`` (``fit_defaults``), the torch threads its trial
trained with, a fit on another count warned of (``warn_trial_threads``), and a search's
``best.yaml`` or run folder given where a config is read, refused naming what trains it
(``check_not_best_yaml``, ``check_not_run_folder``).

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "best_config.yaml"
    >>> _ = path.write_text("# lightning-nas fit: monitor=loss mode=min tie_break=acc:max\\n")
    >>> fit_defaults(path)
    {'monitor': 'loss', 'mode': 'min', 'tie_break': 'acc:max'}
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError
from lightning_nas.export import FIT_DIRECTIVE
from lightning_nas.export_header import TRAIN_AGAIN
from lightning_nas.export_hydra import rerun_said
from lightning_nas.run_folder import user_path
from lightning_nas.search.best_epoch import read_name
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted

__all__ = ["check_not_best_yaml", "check_not_run_folder", "fit_defaults",
           "warn_trial_threads"]

_DIRECTIVE_VALUE = re.compile(r"(monitor|mode|tie_break|cli)=(\S+)")
_TRIAL_THREADS = re.compile(rf"^{re.escape(TRAIN_AGAIN)} OMP_NUM_THREADS=(\d+) ", re.M)


def fit_defaults(path: str | os.PathLike) -> dict[str, str]:
    """``monitor`` and ``mode`` from a ``# lightning-nas fit: monitor=... mode=...`` comment
    line of a config (``lightning-nas export`` writes one into ``best_config.yaml``), and
    the search's ``tie_break`` where it wrote one (``tie_break=val_loss:min``), and its
    ``search.cli`` (``cli=my_pkg.MyCLI``), whose ``link_arguments`` the fit applies.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "best_config.yaml"
        >>> _ = path.write_text("# lightning-nas fit: monitor=val_loss mode=min\\nmodel: m.M\\n")
        >>> fit_defaults(path)
        {'monitor': 'val_loss', 'mode': 'min'}
    """
    found: dict[str, str] = {}
    path = user_path(path)
    if not path.is_file():
        return found
    for line in path.read_text().splitlines():
        if line.startswith(FIT_DIRECTIVE):
            found.update(_DIRECTIVE_VALUE.findall(line[len(FIT_DIRECTIVE):]))
    if "monitor" in found:  # written escaped (``line_name``); tie_break's names are read
        found["monitor"] = read_name(found["monitor"])  # by parse_tie_break
    return found


def warn_trial_threads(paths: Sequence[str | os.PathLike], threads: int | None,
                 given: bool = False) -> None:
    """Warn where the last config with a ``# Train it again: OMP_NUM_THREADS=N`` line (an
    exported ``best_config.yaml``) names another count than the fit's ``threads`` (None: a
    DDP fit's ranks, which Lightning shares the cores out among: nothing said; ``given``:
    by ``threads=``, said as the fine-tune says its count's source); on CPU its sums then
    run in another order (was: said to the command line only, in that comment)."""
    for path in map(user_path, reversed(paths)):
        found = _TRIAL_THREADS.search(path.read_text()) if path.is_file() else None
        if found:
            ran = int(found.group(1))
            if threads and threads != ran:
                warn_user(
                    f"the trial of {path} trained with {counted(ran, 'torch thread')}, this "
                    f"fit with {threads} (as {'threads= gives' if given else 'this process runs'}"
                    f"): on CPU another count sums in another order, so its "
                    f"scores may differ from the trial's; give it {ran}: from Python "
                    f"fit_config(..., threads={ran}), on the command line "
                    f"OMP_NUM_THREADS={ran} lightning-nas fit {shlex.quote(str(path))}")
            return


def check_not_best_yaml(cfg: Mapping[str, Any], paths: Sequence[str | os.PathLike]) -> None:
    """Refuse a search's ``best.yaml`` (its best trial's record: ``trial``, ``arch``, ...),
    naming the config that trains it (was: "unknown config section 'trial'" alone)."""
    if not {"trial", "arch"} <= set(cfg):
        return
    record = next((Path(p) for p in reversed(paths) if Path(p).name == "best.yaml"),
                  Path(paths[-1]))
    raise ConfigError(f"unknown config section 'trial': {record} is a search's best.yaml (the "
                      f"best trial's record: arch, score, checkpoint), not a config; "
                      f"{_what_trains(record, cfg)}")


def check_not_run_folder(paths: Sequence[str | os.PathLike]) -> None:
    """Refuse a search's run folder (its ``search.db``) given as a config, as ``finetune``
    takes it, naming the config that trains its best trial (was: "config file ... is a
    folder", naming none).

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> _ = (run / "search.db").write_bytes(b"")
        >>> check_not_run_folder([run])
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: ... is a search's run folder, not a config; ...
    """
    for folder in map(user_path, paths):
        if folder.is_dir() and (folder / "search.db").is_file():
            record = folder / "best.yaml"
            try:
                cfg = load_yaml(record.read_text()) if record.is_file() else {}
            except (OSError, ConfigError):
                cfg = {}
            run = shlex.quote(str(folder))
            fix = (_what_trains(record, cfg if isinstance(cfg, Mapping) else {}, True)
                   if record.is_file() else f"it holds no best.yaml yet (a search exports its "
                   f"best trial when it ends; lightning-nas export {run} writes it)")
            raise ConfigError(f"{folder} is a search's run folder, not a config; {fix} "
                              f"(another trial: lightning-nas export {run} --trial N first)")


def _what_trains(record: Path, cfg: Mapping[str, Any], folder: bool = False) -> str:
    """What trains the best trial of ``record``, a search's ``best.yaml`` (``cfg``, as read;
    ``folder``: said of its run folder): the ``best_config.yaml`` beside it, a Hydra sweep's
    lines, else ``finetune``."""
    config = record.with_name("best_config.yaml")
    hydra = cfg.get("hydra")
    if user_path(config).is_file():
        said = ("its best trial ran, written in it" if folder else
                "that trial ran, written beside it")
        return f"train the config {said}: lightning-nas fit {shlex.quote(str(config))}"
    if isinstance(hydra, Mapping) and hydra.get("rerun"):  # its project's task trains it
        # its lines (rerun_alone: an export's since it was written) as finetune says them
        said = rerun_said(f"trial {cfg['trial']}", hydra, chosen=True)
        return f"it is a Hydra sweep's: {said}"
    return (f"its run has no best_config.yaml: a search from Python (lightning-nas "
            f"finetune {shlex.quote(str(record.parent))} trains that trial on)")
