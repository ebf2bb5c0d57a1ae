"""Resume of ``lightning-nas oneshot`` from the checkpoint the command writes at each
training epoch's end (``RUN_DIR/checkpoints/last.ckpt``, after the epoch's search:
``oneshot/run_checkpoint.py``): the check of a checkpoint named by ``--ckpt_path`` against
the config, before anything is built, trained or removed.

A resumed run goes on as the uninterrupted one: the search's state (SPOS: its history,
sampler and random state; DARTS/GDAS: the logits' history and random state) is in the
checkpoint, and the algorithm, seed and (SPOS) optimizer, (DARTS/GDAS) ``arch_lr`` and
``arch_weight_decay`` it was written with must be the config's, or the resumed fit would
train the weights on with another search (``check_resumed_rates``: the weight optimizer's
learning rate and weight decay too, once the module built it, for SPOS as for DARTS/GDAS). With
``seed_everything: true`` or ``false`` (a new seed each run) and no ``oneshot.seed`` the
checkpoint's seed is taken. A checkpoint of the run's last epoch resumes a run killed in its
final search, export or fine-tune: the fit trains nothing and runs its final search and
export (``oneshot/fit_end.py``), then the fine-tune (was: refused, "nothing is left to
train"); ``resume_hint`` says so of a run interrupted there.

Example:
    >>> resolve_ckpt_path(None, Path("runs/x")) is None  # no resume: a fresh run
    True
    >>> resolve_ckpt_path("last", Path("runs/no_such_run"))
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: --ckpt_path last: runs/no_such_run/checkpoints/last.ckpt ...
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only

from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int
from lightning_nas.oneshot.fit_end import time_bound, time_spent
from lightning_nas.oneshot.resume_read import Shapes, read_checkpoint, supernet_shapes
from lightning_nas.oneshot.run_checkpoint import stopped_in
from lightning_nas.run_folder import user_path
from lightning_nas.user_warnings import warn_rank_zero
from lightning_nas.wording import counted

__all__ = ["LAST", "built_rates", "checkpoint_settings", "check_resume",
           "check_resumed_algorithm", "check_resumed_rates",
           "epochs_held", "held_text", "recount_repeated_epoch", "resolve_ckpt_path",
           "resume_hint", "training_end"]

#: ``--ckpt_path last``: the newest epoch-end checkpoint of the run folder
LAST = "last"
_SPOS_KEY = "OneShotNAS"


def recount_repeated_epoch(trainer: Any) -> None:
    """Take back the second count of an epoch Lightning (2.6) makes when it restarts a fit
    with a ``max_steps`` (iteration-based training) from a checkpoint saved at an epoch's
    end: it runs that epoch's end again and counts the epoch as processed twice, and the
    processed epochs are what ``max_epochs`` stops at and what the samplers' ``set_epoch``
    gets (was: such a fit bounded by ``max_epochs`` too stopped one epoch early, without a
    word, its search stored as of the epochs it lacks, and a ``DistributedSampler`` shuffled
    each later epoch as the next one). Called in ``on_train_epoch_end``, where a repeated
    end has processed two epochs more than completed (any other end one); a Lightning that
    counts it once is left as it is. Lightning-AI/pytorch-lightning#19617 (open) is this
    restart; the counters are ``fit_loop``'s public progress, changed here alone.

    Args:
        trainer: the fit's Trainer (its ``fit_loop.epoch_progress``).
    """
    progress = trainer.fit_loop.epoch_progress
    if progress.current.processed - progress.current.completed == 2:
        progress.current.processed -= 1
        progress.total.processed -= 1


def resolve_ckpt_path(ckpt_path: str | Path | None, run_dir: Path) -> Path | None:
    """The checkpoint file ``ckpt_path`` names (``last``: the run folder's ``last.ckpt``),
    None when there is none to resume from.

    Raises:
        ConfigError: when the file does not exist.
    """
    if ckpt_path is None:
        return None
    path = run_dir / "checkpoints" / "last.ckpt" if str(ckpt_path) == LAST else user_path(ckpt_path)
    if not path.is_file():
        where = (f"{path} does not exist (a run writes it at each training epoch's end unless "
                 f"trainer.enable_checkpointing is false)" if str(ckpt_path) == LAST
                 else f"no checkpoint file {path}")
        raise ConfigError(f"--ckpt_path {ckpt_path}: {where}; without --ckpt_path the run "
                          f"starts afresh")
    return path


def _batches(ckpt: Mapping[str, Any]) -> int:
    """The training batches a checkpoint holds of an epoch it was saved in before its end (a
    ``ModelCheckpoint`` every ``n`` steps; the fit loop's progress says so), 0 for one saved
    at an epoch's end (or one that does not say)."""
    loops = ckpt.get("loops")
    fit = loops.get("fit_loop") if isinstance(loops, Mapping) else None
    progress = fit.get("epoch_loop.batch_progress") if isinstance(fit, Mapping) else None
    if not isinstance(progress, Mapping) or progress.get("is_last_batch", True):
        return 0
    current = progress.get("current") or {}  # (saved in on_train_batch_end: "completed"
    return int(current.get("processed") or current.get("completed") or 0)  # lags a batch)


def epochs_held(settings: Mapping[str, Any]) -> int | None:
    """The training epochs a checkpoint (its ``checkpoint_settings``) holds whole: its
    ``epoch`` + 1 when saved at that epoch's end, its ``epoch`` when saved before (was:
    + 1 for either, so a checkpoint of the last epoch's first steps read as of a finished
    run).

    Example:
        >>> epochs_held({"epoch": 1, "batches": 0}), epochs_held({"epoch": 1, "batches": 2})
        (2, 1)
    """
    epoch = settings.get("epoch")
    return None if epoch is None else epoch + (not settings.get("batches"))


def checkpoint_settings(path: Path, ckpt: Any = None) -> dict[str, Any]:
    """``{"algorithm", "seed", "epoch", "batches", "steps", "trained", "stopped"}`` (SPOS also
    ``"optimizer"``,
    DARTS/GDAS ``"arch_lr"`` and ``"arch_weight_decay"``) of a one-shot run's checkpoint,
    read without loading its tensors; ``batches``: those of its ``epoch`` done when it was
    saved before that epoch's end, else 0 (``epochs_held``); ``steps``: its ``global_step``
    (the optimizer steps ``max_steps`` counts; None where it does not say); ``trained``: the
    seconds of training the Trainer's ``Timer`` counted (``max_time`` counts them; None for
    a run without one); ``stopped``: saved by the run's own epoch-end checkpoint after a
    callback had stopped the fit (``run_checkpoint.RunCheckpoint``). ``ckpt``: the file's
    contents where they were read
    (``resume_read.read_checkpoint``), else read here.

    Raises:
        ConfigError: when the file is not a checkpoint of a one-shot search.
    """
    ckpt = read_checkpoint(path) if ckpt is None else ckpt
    epoch = ckpt.get("epoch") if isinstance(ckpt, Mapping) else None
    steps = ckpt.get("global_step") if isinstance(ckpt, Mapping) else None
    states = (ckpt.get("callbacks") or {}) if isinstance(ckpt, Mapping) else {}
    timer = states.get("Timer") or next(  # the Timer of max_time or the user's (a subclass's
        (state for state in states.values() if isinstance(state, Mapping)  # key is its name):
         and isinstance(state.get("time_elapsed"), Mapping)), {})  # the training time so far
    counts = {"steps": steps, "trained": (timer.get("time_elapsed") or {}).get("train"),
              "stopped": stopped_in(states)}
    for key in (ckpt.get("callbacks") or {}) if isinstance(ckpt, Mapping) else ():
        if isinstance(key, str) and key.startswith(_SPOS_KEY + "{"):
            settings = ast.literal_eval(key[len(_SPOS_KEY):])  # the callback's state_key
            return {"algorithm": "spos", **settings, "epoch": epoch, "batches": _batches(ckpt),
                    **counts}
    if isinstance(ckpt, Mapping) and "differentiable_nas" in ckpt:
        hparams = ckpt.get("hyper_parameters") or {}
        return {"algorithm": hparams.get("algorithm"), "seed": hparams.get("seed"),
                "arch_lr": hparams.get("arch_lr"),
                "arch_weight_decay": hparams.get("arch_weight_decay"), "epoch": epoch,
                "batches": _batches(ckpt), **counts}
    raise ConfigError(f"--ckpt_path {path}: not a checkpoint of a one-shot search (it holds "
                      f"no OneShotNAS callback state and no DifferentiableNAS module)")


def _bound(trainer_cfg: Mapping[str, Any], key: str) -> int | None:
    """The Trainer setting ``key`` (``max_epochs``, ``max_steps``) as a bound: None for -1,
    null or unset (no bound)."""
    value = trainer_cfg.get(key)
    return value if is_int(value) and value >= 0 else None


def training_end(settings: Mapping[str, Any], trainer_cfg: Mapping[str, Any]
                 ) -> tuple[str, str] | None:
    """The bound of its run's training (``trainer_cfg``: the Trainer settings) a checkpoint
    (its ``checkpoint_settings``) reached: ``max_epochs`` epochs held whole
    (``epochs_held``), ``max_steps`` optimizer steps taken (its ``steps``; training
    bounded by steps alone, ``max_epochs: -1``, may end mid-epoch), or ``max_time`` spent
    (its ``trained``, the Timer's seconds, ``fit_end.time_spent``: Lightning's Timer stops
    a fit resumed from it before any step; ``"Timer"``: the duration of the user's own
    ``Timer`` of ``callbacks``, which Lightning takes over ``max_time``,
    ``fit_end.time_bound``), or a callback's stop after an epoch's end (its ``stopped``:
    ``"stopped"``; Lightning does not keep ``should_stop``, so the resume trained an epoch
    more than the uninterrupted run), as the key and how a resume says it; None when
    training is left (-1 or null bounds nothing; was: ``max_steps``, then ``max_time``, not
    read, so the checkpoint of such a run's end was taken for one with training left).

    Example:
        >>> training_end({"epoch": 2, "batches": 0, "steps": 6}, {"max_epochs": 3})
        ('max_epochs', '3 of max_epochs=3')
        >>> training_end({"epoch": 2, "batches": 1, "steps": 5},
        ...              {"max_epochs": -1, "max_steps": 5})
        ('max_steps', 'step 5 of max_steps=5')
        >>> training_end({"epoch": 1, "batches": 1, "steps": 3, "trained": 61.5},
        ...              {"max_epochs": -1, "max_time": "00:00:01:00"})
        ('max_time', '0:01:01 trained of max_time=00:00:01:00')
        >>> training_end({"epoch": 1, "batches": 0, "steps": 4}, {"max_epochs": 3}) is None
        True
        >>> training_end({"epoch": 1, "batches": 0, "stopped": True}, {"max_epochs": 3})
        ('stopped', 'a callback stopped it after 2 epochs')
    """
    epochs, held = _bound(trainer_cfg, "max_epochs"), epochs_held(settings)
    if epochs is not None and held is not None and held >= epochs:
        return "max_epochs", f"{held} of max_epochs={epochs}"
    steps, taken = _bound(trainer_cfg, "max_steps"), settings.get("steps")
    if steps is not None and isinstance(taken, int) and taken >= steps:
        return "max_steps", f"step {taken} of max_steps={steps}"
    bound, trained = time_bound(trainer_cfg), settings.get("trained")
    if bound is not None and time_spent(bound[0], trained):  # as Lightning's Timer, which
        # stops its resumed fit; the user's own Timer: ("Timer", "... of the Timer callback's
        return bound[1], f"{timedelta(seconds=int(trained))} trained of {bound[2]}"  # ...")
    if settings.get("stopped") and held is not None and not settings.get("batches"):
        return "stopped", f"a callback stopped it after {counted(held, 'epoch')}"
    return None


def check_resume(path: Path, algorithm: str, opts: dict[str, Any], seed_is_random: bool,
                 trainer_cfg: Mapping[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, Any], Shapes | None]:
    """Check the checkpoint at ``path`` against the run's ``algorithm`` and settings
    (``opts``: ``seed``, SPOS ``optimizer``, DARTS/GDAS ``arch_lr`` and
    ``arch_weight_decay``); ``trainer_cfg``: the run's Trainer settings
    (``training_end``).

    Returns:
        The settings, with the checkpoint's seed when the config's is a fresh random one
        (``seed_is_random``), and the checkpoint's (``checkpoint_settings``: a resume from
        one saved mid-epoch with training left is warned of), and the shapes of its
        weights (``supernet_shapes``, for ``check_resumed_supernet``: the file is read once).

    Raises:
        ConfigError: naming each setting that differs, with the checkpoint's value.
    """
    ckpt = read_checkpoint(path)
    stored = checkpoint_settings(path, ckpt)
    if stored["algorithm"] != algorithm:
        raise ConfigError(f"--ckpt_path {path} is a checkpoint of a {stored['algorithm']} "
                          f"search; this config's oneshot.algorithm is {algorithm!r}")
    opts = dict(opts)
    if seed_is_random:
        opts["seed"] = stored["seed"]
    keys = ("seed", "optimizer") if algorithm == "spos" else tuple(
        key for key in ("seed", "arch_lr", "arch_weight_decay") if stored.get(key) is not None
        or key == "seed")  # the logits' optimizer: its checkpointed state keeps them
    differ = [f"oneshot.{key}={opts[key]!r} (the checkpoint's: {stored[key]!r})"
              for key in keys if stored.get(key) != opts[key]]
    if differ:
        fix = " ".join(f"--oneshot.{key}={stored[key]}" for key in keys
                       if stored.get(key) != opts[key])
        raise ConfigError(f"--ckpt_path {path} was written by a search with other settings: "
                          f"{'; '.join(differ)}; a resume goes on with the checkpoint's "
                          f"search, so resume with {fix}")
    if stored["batches"] and training_end(stored, trainer_cfg) is None:  # a ModelCheckpoint
        # of trainer.callbacks every n steps wrote it (the end of a fit by max_steps: no
        # training is left, its final search runs on the weights and state it holds)
        warn_rank_zero(
            f"--ckpt_path {path} was saved mid-epoch "
            f"({counted(stored['batches'], 'batch', 'batches')}"
            f" of epoch {stored['epoch'] + 1} done): the run goes on from there, but Lightning "
            f"restarts that epoch's data loader, so it is not the run an uninterrupted one "
            f"makes; a checkpoint saved at an epoch's end resumes as that run (the run "
            f"folder's last.ckpt)")
    return opts, stored, supernet_shapes(ckpt)


def held_text(epochs: int, batches: int) -> str:
    """What a checkpoint holds, as a resume says it.

    Example:
        >>> held_text(1, 0), held_text(1, 2)
        ('1 training epoch', '1 training epoch and 2 batches of epoch 2')
    """
    return counted(epochs, "training epoch") + (
        f" and {counted(batches, 'batch', 'batches')} of epoch {epochs + 1}" if batches else "")


def _values(groups: list[dict[str, Any]], key: str) -> Any:
    values = [group.get(key) for group in groups]
    return values[0] if len(values) == 1 else values


def built_rates(optimizers: list[torch.optim.Optimizer]) -> list[dict[str, Any]]:
    """The learning rate and weight decay each optimizer was built with (its groups' list, or
    the one value), kept in the checkpoint for ``check_resumed_rates``: the live
    ``param_groups`` may have changed since (a callback scheduling the weights' lr)."""
    return [{key: _values(opt.param_groups, key) for key in ("lr", "weight_decay")}
            for opt in optimizers]


def check_resumed_algorithm(stored: Mapping[str, Any] | None, algorithm: str) -> None:
    """Raise ``ConfigError`` when a ``DifferentiableNAS`` of ``algorithm`` loads the
    checkpoint of a search of the other one (``stored``: its ``hyper_parameters``; None, or
    one without an algorithm: nothing to compare), as ``lightning-nas oneshot`` refuses it
    (``check_resume``): the logits and history would go on under another algorithm, and
    ``alphas.json`` and ``best_arch.yaml`` say it of every epoch (was: taken).

    Example:
        >>> check_resumed_algorithm({"algorithm": "darts"}, "darts")
    """
    was = (stored or {}).get("algorithm")
    if was is not None and was != algorithm:
        raise ConfigError(f"the checkpoint resumed from is of a {was!r} search, but this "
                          f"DifferentiableNAS searches with algorithm={algorithm!r}: a resume "
                          f"goes on with the checkpoint's search, so resume with "
                          f"algorithm={was!r}, or start a new search (no ckpt_path)")

def check_resumed_rates(stored: list[dict[str, Any]] | None,
                        optimizers: list[torch.optim.Optimizer],
                        names: Sequence[str] = ("the weight optimizer's ", "arch_")) -> None:
    """Raise ``ConfigError`` when a resumed search builds its optimizers (DARTS/GDAS: the
    weights', the logits'; SPOS: the module's) with another learning rate or weight decay
    than the run that wrote its checkpoint built them with (``stored``: its ``built_rates``;
    None: no resume, or a checkpoint of an older version): Lightning loads the checkpoint's
    ``param_groups`` over them, so the new values would be recorded in the hyperparameters
    and ignored. ``names``: each optimizer's, as the message says it.

    Example:
        >>> arch = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.5)
        >>> check_resumed_rates([*built_rates([arch]), {"lr": 0.003, "weight_decay": 0.0}],
        ...                     [arch, arch])
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: ... arch_lr: 0.003, now 0.5; ...
    """
    now = built_rates(optimizers)
    differ = [f"{name}{key}: {was[key]}, now {new[key]}"
              for name, was, new in zip(names, stored or [], now, strict=False)
              for key in ("lr", "weight_decay") if was.get(key) != new[key]]
    if differ:
        raise ConfigError(f"the checkpoint resumed from was written with other optimizer "
                          f"settings: {'; '.join(differ)}; a resume goes on with the "
                          f"checkpoint's optimizers (their state and these settings), so "
                          f"resume with its values, or start a new search")


def resume_hint(argv: list[str], cfg: Mapping[str, Any], ckpt_path: str | None,
                resumable: Callable[[], bool] = lambda: False) -> Callable[..., str]:
    """What an interrupted ``lightning-nas oneshot`` run (its command line ``argv``) says
    of its resume, read when it is interrupted: the command again with ``--ckpt_path last``
    once the run wrote its ``last.ckpt`` (or with the checkpoint it resumed from), else that
    the same command starts anew; ``said(failed=True)``, for a run that failed (a user's
    callback raised), also that a new run starts without it (its ``search.lock``, of a
    process that ended, blocks neither); ``said(failed=True, refused=True)``, for a run
    refused by a ``NASError`` (said in one line), that only where the run folder holds a
    ``last.ckpt`` the resume takes (this run's, or where ``resumable()``: ``run.resumable``;
    was: only this run's, none after a resumed run refused before its next), else ``""``."""
    block = cfg.get("oneshot")  # checked by the run: a bad one is refused before training
    run_dir = block.get("run_dir") if isinstance(block, Mapping) else None
    last = user_path(run_dir if isinstance(run_dir, str) and run_dir else "runs/oneshot") \
        / "checkpoints" / "last.ckpt"
    before = last.stat().st_mtime_ns if last.is_file() else None  # an earlier run's

    def said(failed: bool = False, refused: bool = False) -> str:
        written = last.is_file() and last.stat().st_mtime_ns != before
        if rank_zero_only.rank:  # under DDP rank 0 says it
            return ""
        if refused and not written:
            if not (last.is_file() and resumable()):
                return ""
            written = True  # the folder's last.ckpt, which --ckpt_path last resumes
        if not (written or ckpt_path):
            return (f"; no training epoch of this run ended, so it wrote no {last} to resume "
                    f"from: the same command starts it anew")
        ckpt = LAST if written else str(ckpt_path)
        try:
            stored = checkpoint_settings(last if ckpt == LAST else user_path(ckpt))
            held, batches = epochs_held(stored), stored["batches"]
            end = training_end(stored, cfg.get("trainer") or {})
        except ConfigError:  # the resume names what is wrong with it
            held, batches, end = None, 0, None
        words = [word for i, word in enumerate(argv) if not _ckpt_flag(word)
                 and not (i and argv[i - 1] in _CKPT_FLAGS)]
        command = shlex.join(["lightning-nas", *words, "--ckpt_path", str(ckpt)])
        if end is not None:
            reached = counted(held, "epoch") if end[0] == "max_epochs" else end[1]
            return (f"; its training had ended ({reached}) and its final search, export "
                    f"or fine-tune was interrupted: finish it (only what is left runs) "
                    f"with:\n  {command}")
        done = "" if held is None else f" ({held_text(held, batches)} done)"
        anew = ("" if not failed else "\n(or run it without --ckpt_path to start anew)"
                if ckpt_path else "\n(or run the same command again to start anew)")
        return f"; resume it from its checkpoint{done} with:\n  {command}{anew}"
    return said


#: what argparse takes for ``oneshot --ckpt_path`` (it takes a flag's unique prefixes)
_CKPT_FLAGS = tuple("--ckpt_path"[:n] for n in range(3, len("--ckpt_path") + 1))


def _ckpt_flag(word: str) -> bool:
    """Whether ``word`` is ``--ckpt_path`` (or a prefix argparse takes for it), with its
    value (``--ckpt_path=last``) or without."""
    return word.split("=", 1)[0] in _CKPT_FLAGS
