"""The comment lines at the top of an exported ``best_config.yaml``: which trial it is, the
torch threads its fits ran with, whether it was paused and resumed (and whether a run in one
go replays it), whether the search was unseeded (then nothing replays it), the command that
trains it again, whether ``trainer.max_time`` (or a ``Timer`` callback's duration) ended its
training (``time_ended``: then a fit trained again stops at another batch, and no same score
is promised), a Trainer value of one batch that plain LightningCLI reads here as every
batch (``floated_counts``), a logger node without the ``save_dir`` plain LightningCLI requires
(``unplaced_loggers``), and the line that gives ``lightning-nas fit`` its monitor and mode
(``FIT_DIRECTIVE``). It names the run folder by its absolute path (the command works from any
folder), on one line: a folder whose path holds a control character (which a run no longer
takes: ``new_folder``) escaped, in Python's quotes, and in the command in bash's ``$'...'``.

Example:
    >>> from lightning_nas.results import TrialResult, TrialStatus
    >>> best = TrialResult(trial_id=3, arch={}, status=TrialStatus.COMPLETED, score=0.9, epoch=2)
    >>> config_header(Path("runs/x"), best, "val_acc", "max").splitlines()[-1]
    '# lightning-nas fit: monitor=val_acc mode=max'
"""

from __future__ import annotations

import inspect
import shlex
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import is_hydra, is_node, node_args, target_path
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult
from lightning_nas.run_folder import CONTROL
from lightning_nas.search.best_epoch import line_name, tie_break_text
from lightning_nas.store import RunStore
from lightning_nas.wording import counted

__all__ = ["FIT_DIRECTIVE", "TRAIN_AGAIN", "config_header", "floated_counts", "scored",
           "time_ended", "trial_fits", "unplaced_loggers"]

#: a comment line of ``best_config.yaml`` that gives ``lightning-nas fit`` its
#: ``monitor`` and ``mode`` (plain LightningCLI ignores comments)
FIT_DIRECTIVE = "# lightning-nas fit:"
#: the comment line of ``best_config.yaml`` that gives the command training it again, with
#: ``OMP_NUM_THREADS=N`` first where its trial had a count of its own (``fit`` reads it)
TRAIN_AGAIN = "# Train it again:"
#: Trainer arguments whose int (a count of batches) and float (a fraction) differ
_COUNT_OR_FRACTION = ("limit_train_batches", "limit_val_batches", "limit_test_batches",
                      "limit_predict_batches", "val_check_interval", "overfit_batches")


def trial_fits(store: RunStore, run_dir: Path, trial_id: int) -> tuple[list[int | None], bool]:
    """The torch threads of each fit of trial ``trial_id`` (``RunStore.fits``), and whether it
    was paused and resumed from its checkpoint (fits after its first); a trial an older
    version ran: the run's one count (its latest invocation's), and its resumed logs."""
    fits, trial_dir = store.fits(trial_id), run_dir / "trials" / f"trial_{trial_id:04d}"
    return fits, (len(fits) > 1 if store.fits_recorded(trial_id)
                  else any(trial_dir.glob("logs_resumed_*")))  # the default logger's only


def _one_line(path: Path) -> str:
    """``path`` on one line: as is, or in Python's quotes with its control characters
    escaped (``'/runs/a\\nb'``; was: written as is, and the comment went on to a line of
    YAML)."""
    return repr(str(path)) if CONTROL.search(str(path)) else str(path)


def _shell_quoted(path: Path) -> str:
    """``path`` shell-quoted on one line: ``shlex.quote``, or where it holds a control
    character bash's ``$'...'`` with it escaped (``shlex.quote`` keeps a newline as is).

    Example:
        >>> _shell_quoted(Path("/runs/my run")), _shell_quoted(Path("/runs/a\\nb's"))
        ("'/runs/my run'", "$'/runs/a\\\\nb\\\\'s'")
    """
    text = str(path)
    if not CONTROL.search(text):
        return shlex.quote(text)
    return "$'" + "".join(map(_bash_escaped, text)) + "'"


def _bash_escaped(char: str) -> str:
    """One character as bash's ``$'...'`` writes it: a control character, a backslash and a
    quote escaped (``\\n``, ``\\x1b``, ``\\u2028``), others as they are."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", "'": "\\'"}
    if char in named or not CONTROL.match(char):
        return named.get(char, char)
    return f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}"


def floated_counts(trainer: Mapping[str, Any]) -> list[str]:
    """The ``trainer`` values of one batch (the int 1) that plain LightningCLI reads here as
    1.0, every batch: jsonargparse tries a ``Union``'s types in order, and where this
    process's Trainer type hint lists ``float`` before ``int`` (``typing`` keeps the
    first-made of two equal unions, Lightning-AI/pytorch-lightning#21259) an int becomes a
    float; Lightning takes any other whole float (3.0) as the count it is.

    Example:
        >>> floated_counts({"max_epochs": 1, "limit_val_batches": 0.5, "limit_test_batches": 3})
        []
    """
    counts = {key: value for key, value in trainer.items() if key in _COUNT_OR_FRACTION
              and value == 1 and type(value) is int}
    if not counts:
        return []
    from lightning_nas.config.trainer_checks import trainer_hints  # Lightning: when needed

    hints, out = trainer_hints(), []
    for key, value in counts.items():
        kinds = typing.get_args(hints.get(key))
        if float in kinds and int in kinds and kinds.index(float) < kinds.index(int):
            out.append(f"trainer.{key}: {value}")
    return out


def unplaced_loggers(trainer: Mapping[str, Any]) -> list[str]:
    """The ``trainer.logger`` nodes whose class requires a ``save_dir`` that the node leaves
    out: the search gave each trial one of its own, ``lightning-nas fit`` gives its output
    folder, but plain LightningCLI refuses the node ("the following arguments are required:
    save_dir"). A Hydra node, or a class that does not import here, is let be.

    Example:
        >>> unplaced_loggers({"logger": [
        ...     {"class_path": "lightning.pytorch.loggers.CSVLogger"},
        ...     {"class_path": "CSVLogger", "init_args": {"save_dir": "logs"}}]})
        ['trainer.logger[0] (CSVLogger)']
    """
    loggers = trainer.get("logger")
    listed = isinstance(loggers, list)
    out = []
    for i, node in enumerate(loggers if listed else [loggers]):
        if not is_node(node) or is_hydra(node) or node_args(node).get("save_dir") is not None:
            continue
        try:
            cls = import_object(target_path(node))
            save_dir = inspect.signature(cls.__init__).parameters.get("save_dir")
        except (ConfigError, ImportError, TypeError, ValueError):
            continue
        if save_dir is not None and save_dir.default is inspect.Parameter.empty:
            out.append(f"trainer.logger{f'[{i}]' if listed else ''} ({cls.__name__})")
    return out


def time_ended(trainer: Mapping[str, Any], best: TrialResult) -> str:
    """What bounded the training time of trial ``best`` (``trainer.max_time=...``, or the
    ``Timer`` callback's duration, which Lightning takes over it), where its fit took that
    long (``best.fit_time``, its setup too, so a trial that ended at ``max_epochs`` just
    before its time ran out is named as well: the header says "where that time ended its
    training"); "" otherwise. Such a fit stopped where its clock ran out, and one trained
    again stops at another batch.

    Example:
        >>> from lightning_nas.results import TrialStatus
        >>> best = TrialResult(trial_id=1, arch={}, status=TrialStatus.COMPLETED, fit_time=2.2)
        >>> time_ended({"max_time": "00:00:00:02"}, best), time_ended({"max_time": None}, best)
        ('trainer.max_time=00:00:00:02', '')
    """
    if best.fit_time is None or not (trainer.get("max_time") or trainer.get("callbacks")):
        return ""
    from lightning_nas.oneshot.fit_end import time_bound, time_spent  # Lightning: when needed

    bound = time_bound(trainer)
    if bound is None or not time_spent(bound[0], best.fit_time):
        return ""
    return f"trainer.{bound[2]}" if bound[1] == "max_time" else bound[2]


def scored(best: TrialResult, monitor: str, mode: str,
           objectives: Mapping[str, str] | None = None) -> str:
    """What trial ``best`` scored, as the header's first line says it: its ``monitor``'s
    stored value and ``mode``, and with several ``objectives`` (``{name: mode}``, the
    monitor first) each one's stored value and mode (was: the first alone, where an export
    of a point of the Pareto front claims all of them); one not stored is said so.

    Example:
        >>> from lightning_nas.results import TrialStatus
        >>> best = TrialResult(trial_id=2, arch={}, status=TrialStatus.COMPLETED, score=0.5,
        ...                    metrics={"val_acc": 0.5, "params": 99.0})
        >>> scored(best, "val_acc", "max", {"val_acc": "max", "params": "min"})
        'val_acc=0.5 (max), params=99 (min)'
    """
    if not objectives or len(objectives) < 2:
        return f"{monitor}={best.score:.6g} ({mode})"
    values = {name: best.score if name == monitor else best.metrics.get(name)
              for name in objectives}
    return ", ".join(f"{name}={values[name]:.6g} ({its})" if isinstance(values[name], float | int)
                     else f"{name} not stored ({its})" for name, its in objectives.items())


def config_header(run_dir: Path, best: TrialResult, monitor: str, mode: str,
                   hydra: bool = False, fits: Sequence[int | None] = (),
                   resumed: str | bool = False, seeded: bool = True,
                   trainer: Mapping[str, Any] | None = None,
                   tie_break: Sequence[tuple[str, str]] = (),
                   objectives: Mapping[str, str] | None = None, cli: str | None = None,
                   data_first: bool = False) -> str:
    """Comment lines of ``best_config.yaml``: which trial it is and how to train it again
    (with the torch threads its fits ran with, ``trial_fits``, when they had a count of their
    own, set or shared out among workers: on CPU another count sums in another order; those
    of its latest fit on the command line; ``resumed``: a fit resumed from its checkpoint,
    ``"replayed"`` where the checkpoint kept the random state: a run in one go trains the
    same; ``"gone"``: its checkpoint is gone, so that is not known; not ``seeded``: the
    search seeded nothing, ``seed_everything: false``, so training it again is another run
    whose score differs, and none of these is said to replay it); the last one gives
    ``lightning-nas fit`` its monitor and mode, and the search's ``tie_break`` (its later
    objectives: ``tie_break=val_loss:min``, where it has some); ``trainer``'s values of one
    batch that plain LightningCLI reads as every batch here (``floated_counts``) are named,
    and so are its logger nodes that plain LightningCLI refuses for their missing
    ``save_dir`` (``unplaced_loggers``); with several ``objectives`` (``{name: mode}``, the
    monitor first) its first line names each one's stored value (``scored``); ``cli``: the
    search's ``search.cli``, whose ``link_arguments`` ``lightning-nas fit`` applies
    (``cli=my_pkg.MyCLI`` on the last line; ``data_first``: its links at instantiation
    made the trial build the data first, as that CLI does).
    ``run_dir`` is named absolute, on one line."""
    run_dir = Path(run_dir).absolute()  # was: as given, and a relative one ran from its folder
    other = ("its model and data are Hydra nodes, as in your project's config groups" if hydra
             else "or your own LightningCLI script: python YOUR_CLI.py fit --config "
                  "best_config.yaml")  # (was: "plain LightningCLI: fit", read as `python -m
    # lightning.pytorch.cli fit`, which has no model; the search does not know the script)
    order = "" if hydra or not seeded else (  # jsonargparse builds a link's source first
        "# A trial builds the model, then the data, as plain LightningCLI does; a CLI of yours\n"
        "# with link_arguments(apply_on='instantiate') builds the data first: random numbers\n"
        "# drawn in __init__ (a random split) come in another order, and the score differs.\n"
        if not data_first else
        f"# A trial built the data, then the model, as {cli} does (its link_arguments\n"
        f"# at instantiation); plain LightningCLI builds the model first.\n")
    floated = [] if hydra else floated_counts(trainer or {})
    if floated:  # (was: said to train the same under plain LightningCLI, on every batch)
        order += (f"# Plain LightningCLI here reads {' and '.join(floated)} as 1.0, all the "
                  f"batches,\n# not the one batch the trial ran with "
                  f"(Lightning-AI/pytorch-lightning#21259);\n# lightning-nas fit reads "
                  f"{'it' if len(floated) == 1 else 'them'} as the trial did.\n")
    unplaced = [] if hydra else unplaced_loggers(trainer or {})
    if unplaced:  # (was: said to train under plain LightningCLI, which refuses the node)
        order += (f"# Plain LightningCLI requires a save_dir of {' and '.join(unplaced)}, "
                  f"which the search\n# gave each trial: add one (save_dir: lightning_logs) "
                  f"to train it with your own CLI;\n# lightning-nas fit logs into its output "
                  f"folder.\n")
    resumed = resumed if seeded else False  # unseeded: nothing replays it, resumed or not
    threads = fits[-1] if fits else None
    timed = time_ended(trainer or {}, best) if seeded else ""
    unreplayed = not seeded or bool(resumed) and resumed != "replayed" or bool(timed)
    env = f"OMP_NUM_THREADS={threads} " if threads else ""
    if len(set(fits)) > 1:  # a resume from its checkpoint ran with another count
        said = " then ".join(str(t) if t else "its process's own" for t in fits)
        same = (f"# Its fits ran with {said} torch threads (the first, then each resume from "
                f"its checkpoint).\n")
    else:
        same = (f"# It ran with {counted(threads, 'torch thread')}"
                f"{'.' if unreplayed else ': on CPU the same count gives the same score.'}\n"
                if threads else "")
    if not seeded:  # was: "the same count gives the same score" (a fit gave 0.1, not 0.182)
        same += ("# The search was unseeded (seed_everything: false): trained again it is "
                 "another run,\n# with other random numbers, and its score will differ (give "
                 "seed_everything an\n# integer for runs of your own that repeat).\n")
    if timed:  # (was: "the same count gives the same score"; a fit gave val_loss 0.5696
        # at epoch 5 where the trial's was 0.5253, its time running out at another batch)
        same += (f"# Its fit took {best.fit_time:.1f} s of {timed}: where that time ended "
                 f"its training, a fit trained again stops where its own time runs out, at "
                 f"another batch, so its score may differ (bound trials by max_epochs or "
                 f"max_steps for runs that repeat).\n")
    if resumed == "replayed":  # promoted by a scheduler (or crash-resumed)
        same += ("# It was paused and resumed from its checkpoint, which kept its random state:"
                 " trained in one go it trains the same epochs (not under DDP, whose ranks "
                 "resumed with rank 0's random state, nor with persistent_workers DataLoader "
                 "workers, which may shuffle otherwise).\n")
    elif resumed == "gone":  # its checkpoint removed (keep_top_k): which version wrote it?
        same += ("# It was paused and resumed from its checkpoint, which is gone: a search of "
                 "this version keeps the random state there, so trained in one go it trains "
                 "the same epochs; one an older version ran did not, and may differ widely.\n")
    elif resumed:  # a checkpoint an older version wrote
        same += ("# It was paused and resumed from its checkpoint, which kept no random state"
                 " (an older version wrote it): trained in one go it is another run, not a "
                 "replay of this one, and its score may differ widely.\n")
    return (f"# Trial {best.trial_id} of {_one_line(run_dir)}: "
            f"{scored(best, monitor, mode, objectives)} at epoch {best.epoch}.\n{same}"
            f"{TRAIN_AGAIN} {env}lightning-nas fit "
            f"{_shell_quoted(run_dir / 'best_config.yaml')} "
            f"({other})\n{order}"
            f"{FIT_DIRECTIVE} monitor={line_name(monitor)} mode={mode}"
            f"{f' tie_break={tie_break_text(tie_break)}' if tie_break else ''}"
            f"{f' cli={cli}' if cli else ''}\n")
