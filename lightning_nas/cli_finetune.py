"""``lightning-nas finetune RUN_DIR``: train a search's best architecture again, or resume
an interrupted fine-tune (``--ckpt_path last|PATH``), and print what it trained.

Example:
    lightning-nas finetune runs/digits --max_epochs 20
    lightning-nas finetune runs/digits --max_epochs 20 --ckpt_path last
    lightning-nas finetune runs/digits --max_epochs 2 --optimizer_state restore
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lightning_nas.errors import ConfigError
from lightning_nas.wording import counted

__all__ = ["cmd_finetune", "threads_text"]


def cmd_finetune(args: argparse.Namespace, overrides: list[str]) -> int:
    """Run ``lightning-nas finetune`` (its ``args`` and dotted ``overrides``); the exit
    status. ``--ckpt_path last|PATH`` resumes an interrupted fine-tune in its folder."""
    from lightning_nas.arch import format_arch
    from lightning_nas.config.overrides import split_overrides
    from lightning_nas.config.trainer_checks import check_finetune_epochs
    from lightning_nas.export import trial_fits
    from lightning_nas.finetune_inputs import best_model_class, model_overrides
    from lightning_nas.finetune_run import finetune
    from lightning_nas.finetune_start import start_text
    from lightning_nas.finetune_trainer import given_trainer
    from lightning_nas.fit import checkpoint_text, metrics_text, refusal, unfinished
    from lightning_nas.fit_resume import (
        free_dir,
        out_folder,
        resume_hint,
        resume_point,
        undo_fit,
    )
    from lightning_nas.results import format_score
    from lightning_nas.search.setting_checks import config_words
    from lightning_nas.store import open_run

    pairs = split_overrides(overrides)
    other = [f"--{key}={text}" for key, text in pairs
             if key.split(".")[0] not in ("trainer", "model")]
    if other:
        raise ConfigError(f"finetune takes only --trainer.* and --model.* overrides (it trains "
                          f"the best trial's model on its data), got {', '.join(other)}")
    model_args = model_overrides([(k, v) for k, v in pairs if k.split(".")[0] == "model"],
                                 lambda: best_model_class(Path(args.run_dir)))  # (was: any
    # --model='{class_path: ...}' refused, the best model's own class too)
    given = [(k, v) for k, v in pairs if k.split(".")[0] == "trainer"]  # merged over the
    # search's by finetune() (was: in place of them, `--trainer.callbacks+=` refused)
    trainer = given_trainer(None, given) or {}  # as typed: --max_epochs (was: finetune()'s
    check_finetune_epochs(args.max_epochs, trainer, cli=True)  # max_epochs)
    if args.max_epochs is not None and "max_epochs" in trainer:
        raise ConfigError(f"--max_epochs {args.max_epochs} and --trainer.max_epochs="
                          f"{trainer['max_epochs']} both set the fine-tune's epochs; give one")
    default = Path(args.run_dir) / "finetune"
    if args.ckpt_path is not None:  # the interrupted one's folder: kept whatever happens
        with config_words():  # --ckpt_path, not Python's ckpt_path=
            out = resume_point(args.ckpt_path, default, args.out, "fine-tune",
                               str(args.run_dir))[0]
        undo = lambda: None  # noqa: E731
    else:  # --out new or empty, as fit's (was: no --out), else a free name at its default
        out = free_dir(default) if args.out is None else out_folder(args.out, default,
                                                                      "fine-tune")
        undo = undo_fit(out)  # a refused fine-tune leaves no folder (its name stays free)
    hint = resume_hint(out, args.argv, "fine-tune", args.ckpt_path)
    args.resume = lambda: unfinished(out, "fine-tune") + hint()  # was: best.ckpt read as
    # finished, and nothing said next
    with config_words():  # its resume's checks in the command line's words (--ckpt_path)
        result = finetune(args.run_dir, max_epochs=args.max_epochs,
                          trainer_overrides=[f"--{k}={v}" for k, v in given],
                          from_checkpoint=not args.from_scratch, threads=args.threads,
                          out_dir=out, model_init_args=model_args or None,
                          ckpt_path=args.ckpt_path, optimizer_state=args.optimizer_state)
    if error := refusal(result):  # bad input, one line as fit's (was: a traceback, exit 1)
        undo()
        raise error
    if result.error:
        print(f"lightning-nas finetune: training failed: {result.error}", file=sys.stderr)
        return 1
    with open_run(args.run_dir) as store:  # the trial it fine-tuned (best.yaml's as the
        # fine-tune read it before training; was: read again after, an export meanwhile
        # rewriting it named another trial), its score, and the threads it took
        best = {"trial": result.trial_id, "score": store.get(result.trial_id).score,
                "monitor": store.get_meta("monitor")}
        threads = args.threads or (trial_fits(store, Path(args.run_dir), best["trial"])[0][-1]
                                   if args.from_scratch else None)
    said = ("as --threads gives" if args.threads else f"as trial {best['trial']} trained"
            if threads else "as this process runs")  # the count's source, as fit says it
    trained_with = threads_text(threads, said, result.ranks)
    start = "fresh weights" if args.from_scratch else start_text(best, result)
    if args.optimizer_state == "restore":  # the trial's Adam moments, its LR schedule
        start += ", its optimizer and LR scheduler state continued,"
    given = {k: v for k, v in model_args.items()  # an argument the space does not search
             if k not in result.arch and f"model.{k}" not in result.arch}
    given_text = f" (and {format_arch(given)})" if given else ""
    print(f"Fine-tuned {format_arch(result.arch)}{given_text} from {start} for "
          f"{counted(result.epochs, 'epoch')} {trained_with}: "
          f"best {best['monitor']}={format_score(result.score)} at epoch {result.epoch}\n"
          f"metrics of that epoch: {metrics_text(result.metrics)}\n"
          f"checkpoint: {checkpoint_text(result)}")
    return 0


def threads_text(threads: int | None, said: str, ranks: int | None) -> str:
    """How many torch threads a fine-tune trained with, and whose count that is (``said``):
    ``threads`` where one was given (``--threads``, the trial's count), else this process's;
    on ``ranks`` DDP rank processes each rank's: the count given, else ``OMP_NUM_THREADS``'s,
    else the one Lightning gives a rank, its share of the cores (was: this process's count,
    "as this process runs", which no rank trained with).

    Example:
        >>> threads_text(2, "as --threads gives", 2)
        'on 2 DDP ranks with 2 torch threads each (as --threads gives)'
    """
    import torch

    if not ranks or ranks < 2:
        return f"with {counted(threads or torch.get_num_threads(), 'torch thread')} ({said})"
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if not threads and omp.isdigit() and int(omp) > 0:  # each rank's: Lightning keeps it
        threads, said = int(omp), "as OMP_NUM_THREADS gives"
    if not threads:
        return (f"on {ranks} DDP ranks, each with the torch threads Lightning gives a rank (its "
                f"share of the cores; give --threads N for N each)")
    return f"on {ranks} DDP ranks with {counted(threads, 'torch thread')} each ({said})"
