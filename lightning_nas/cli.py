"""The ``lightning-nas`` command: ``search``, ``oneshot``, ``show``, ``report``, ``export``,
``finetune``, ``fit``.

Example:
    lightning-nas search examples/digits/search.yaml --search.budget=5 --trainer.max_epochs=2
    lightning-nas show runs/digits --format csv
    lightning-nas finetune runs/digits --max_epochs 20
    lightning-nas fit runs/digits/best_config.yaml
"""

from __future__ import annotations

import argparse
import functools
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from lightning_nas.cli_argv import print_config_value, set_apart_overrides
from lightning_nas.cli_checks import (
    OVERRIDE_EXAMPLES,
    check_command,
    check_config_flag,
    check_flag_values,
    check_flags,
    check_overrides,
    subparser,
    thread_count,
    top_count,
)
from lightning_nas.cli_help import HELP_EPILOG, help_words, no_config_needed, print_class_help
from lightning_nas.config.yamlio import dump_yaml
from lightning_nas.errors import ConfigError, NASError, NoCompletedTrialError
from lightning_nas.run_folder import user_path
from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.user_warnings import console_warnings

__all__ = ["console", "main"]


#: what ``show`` and ``report`` read
_RUN_FOLDER = "a search's run folder (its search.db), or a one-shot run folder"


def _parser() -> argparse.ArgumentParser:
    from lightning_nas.report.tables import STATUSES

    # allow_abbrev=False: `--print` is no `--print_config` (check_flags names it)
    parser = argparse.ArgumentParser(prog="lightning-nas", allow_abbrev=False,
                                     description="Neural architecture search for Lightning.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = functools.partial(sub.add_parser, allow_abbrev=False)
    add_sections = functools.partial(add, epilog=HELP_EPILOG)  # LightningCLI's sections
    p = add_sections("search", help="run or resume a search from a YAML config",
                       description="Overrides follow the config: --search.budget=5 "
                                   "--trainer.max_epochs=2 --search.run_dir=runs/try1")
    p.add_argument("config", nargs="+",
                   help="LightningCLI-style YAML with a search: block; several files are "
                        "merged in order (e.g. your LightningCLI config, then search.yaml)")
    p.add_argument("--print_config", action="store_true",
                   help="check the config as a run does, print it after overrides and exit")
    p = add_sections("oneshot", help="train a supernet once and search its subnets",
                       description="A config with model (a supernet with choice modules), "
                                   "data, trainer and a oneshot: block (optional: each key "
                                   "has a default; oneshot.algorithm: spos, the default, "
                                   "darts or gdas); overrides as for search.")
    p.add_argument("config", help="one YAML file (search and fit merge several)")
    p.add_argument("--ckpt_path", default=None,
                   help="resume an interrupted run: 'last' (RUN_DIR/checkpoints/last.ckpt, "
                        "written at each training epoch's end) or a checkpoint file")
    p.add_argument("--print_config", action="store_true",
                   help="check the config as a run does, print it after overrides and exit")
    p = add("show", help="leaderboard of a run (or of a one-shot run folder)")
    p.add_argument("run_dir", type=user_path, help=_RUN_FOLDER)
    p.add_argument("--top", type=top_count, default=None,
                   help="rows to show (default: 10 of the leaderboard, every trial of a "
                        "--status)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="a text table (default), CSV or JSON")
    p.add_argument("--status", choices=STATUSES, default=None,
                   help="the leaderboard (default; failed and rejected trials follow it with "
                        "their errors), or every trial of one status")
    p = add("report", help="plots (PNG) and an HTML page of a run, or of a "
                       "one-shot run folder")
    p.add_argument("run_dir", type=user_path, help=_RUN_FOLDER)
    p.add_argument("--out", type=user_path, default=None,
                   help="folder (default RUN_DIR/report)")
    p = add("export", help="write best.yaml, best.ckpt and best_config.yaml")
    p.add_argument("run_dir", type=user_path,
                   help="a search's run folder (its search.db); the files are written there")
    p.add_argument("--trial", type=int, default=None,
                   help="export this trial (e.g. a point on the Pareto front) instead of the "
                        "best one")
    p = add_sections("finetune", help="train the best architecture again with more epochs",
                       description="Overrides may follow: Trainer values, e.g. "
                                   "--trainer.accelerator=cpu, and the model's arguments, "
                                   "e.g. a lower learning rate, --model.lr=5e-4 (over the "
                                   "trial's, a searched one too, said in a warning)")
    p.add_argument("run_dir", type=user_path,
                   help="a search's run folder (its best.yaml and best.ckpt)")
    p.add_argument("--max_epochs", type=int, default=None,
                   help="epochs of the fine-tune (default: the best trial's); -1: no limit, "
                        "where --trainer.max_steps or --trainer.max_time gives one")
    p.add_argument("--from_scratch", action="store_true",
                   help="start from fresh weights instead of the best checkpoint")
    p.add_argument("--threads", type=thread_count, default=None,
                   help="torch threads (default: with --from_scratch, those the trial ran "
                        "with, when it had a count of its own; from the checkpoint, this "
                        "process's)")
    p.add_argument("--out", type=user_path, default=None,
                   help="folder for the checkpoint and logs, new or empty (default "
                        "RUN_DIR/finetune, else finetune_N)")
    p.add_argument("--ckpt_path", default=None,
                   help="resume an interrupted fine-tune: 'last' (the latest of --out, else "
                        "RUN_DIR/finetune[_N], holding a last.ckpt) or a checkpoint file of "
                        "one")
    p.add_argument("--optimizer_state", choices=("fresh", "restore"), default="fresh",
                   help="fresh (default): a new optimizer and LR scheduler at the initial "
                        "learning rate; restore: continue those of the checkpoint, as they "
                        "were at the trial's best epoch")
    p = add_sections("fit", help="train one config (e.g. RUN_DIR/best_config.yaml), no search",
                       description="A fresh Trainer, the config's seed_everything, the score "
                                   "at the best epoch. Overrides as for search.")
    p.add_argument("config", nargs="+", help="LightningCLI-style YAML; several are merged")
    p.add_argument("--monitor", default=None,
                   help="metric read at the best epoch (default: from the config's "
                        "'# lightning-nas fit:' comment or search: block, else val_acc)")
    p.add_argument("--mode", choices=("max", "min"), default=None,
                   help="direction of --monitor (default: the config's for its own monitor, "
                        "else what the monitor's name says: min for a loss or error, max for "
                        "an accuracy or F1; another name needs --mode)")
    p.add_argument("--out", type=user_path, default=None,
                   help="folder for the checkpoint and logs (default runs/fit/<config name>)")
    p.add_argument("--ckpt_path", default=None,
                   help="resume an interrupted fit: 'last' (the latest fit folder, --out or "
                        "runs/fit/<config name>[_N], holding a last.ckpt) or a checkpoint "
                        "file of one")
    p.add_argument("--print_config", action="store_true",
                   help="check the config as a fit does, print it after overrides and exit")
    return parser


def _cmd_search(args: argparse.Namespace, overrides: list[str]) -> int:
    from lightning_nas.cli_lost_epochs import warn_lost_trainer_epochs
    from lightning_nas.config.load import load_config
    from lightning_nas.config.node_places import unplaced
    from lightning_nas.search.from_config import search_from_config

    cfg = load_config(args.config, overrides, command="search")
    text = dump_yaml(unplaced(cfg)) if args.print_config else ""  # as loaded, before it is
    # built (the places of its keys into named nodes, load_config's, left out)
    search = search_from_config(cfg)  # every check of a run before training, also here
    warn_lost_trainer_epochs(search, args.config, overrides)  # before training, and with
    # --print_config
    if args.print_config:
        search.check_run_dir()  # a search there this config may not resume, read as it is
        print(text, end="")
        return 0
    try:
        search.run()
    except NoCompletedTrialError as err:  # no best trial: exit 1, saying why (was: the
        # summary's "with no completed trial" alone)
        print(f"lightning-nas search: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0


def _cmd_oneshot(args: argparse.Namespace, overrides: list[str]) -> int:
    from lightning_nas.config.load import load_config
    from lightning_nas.config.node_places import unplaced
    from lightning_nas.oneshot.resume import resume_hint
    from lightning_nas.oneshot.run import resumable, run_oneshot
    from lightning_nas.oneshot.run_checks import check_network, check_oneshot

    cfg = load_config(args.config, overrides, command="oneshot")
    if args.print_config:
        _, opts, model, _, _ = check_oneshot(cfg)  # every check of a run before training,
        check_network(model, opts["net_attr"])  # also here, net_attr on the model built
        print(dump_yaml(unplaced(cfg)), end="")  # (the nodes' names load_config keeps: not)
        return 0
    args.resume = resume_hint(args.argv, cfg, args.ckpt_path,  # said if interrupted
                              lambda: resumable(cfg))  # (a NASError: the resume's checks)
    return 0 if run_oneshot(cfg, ckpt_path=args.ckpt_path)["arch"] is not None else 1


def _cmd_fit(args: argparse.Namespace, overrides: list[str]) -> int:
    from lightning_nas.config.node_places import unplaced
    from lightning_nas.fit import describe, load_fit, refusal, unfinished
    from lightning_nas.fit_resume import resume_hint, undo_fit
    from lightning_nas.search.ranks import close_rank_groups
    from lightning_nas.search.runner import run_trial
    from lightning_nas.search.setting_checks import config_words

    with config_words():  # a config's and the command line's words, not Python's
        if args.print_config:  # every check of a fit before training, nothing written
            from lightning_nas.fit import read_fit_config

            cfg = read_fit_config(args.config, overrides)
            text = dump_yaml(unplaced(cfg))  # as loaded, before it is built (no node names)
            load_fit(args.config, overrides, monitor=args.monitor, mode=args.mode,
                     out_dir=args.out, ckpt_path=args.ckpt_path, cfg=cfg)
            print(text, end="")
            return 0
        spec = load_fit(args.config, overrides, monitor=args.monitor, mode=args.mode,
                        out_dir=args.out, ckpt_path=args.ckpt_path)
    # a refused fit leaves its folder as it found it (a resumed one's: untouched)
    undo = undo_fit(spec.trial_dir) if spec.ckpt_path is None else (lambda: None)
    hint = resume_hint(Path(spec.trial_dir), args.argv, "fit", args.ckpt_path)
    args.resume = lambda: unfinished(spec.trial_dir) + hint()  # was: best.ckpt read as done
    try:
        result = run_trial(spec)
    finally:
        close_rank_groups()
    if error := refusal(result):  # bad input (a monitor never logged), one line
        undo()  # was: its logs/ made the same command with the fixed monitor refused
        raise error
    if result.error:
        print(f"lightning-nas fit: training failed: {result.error}", file=sys.stderr)
        return 1
    print(describe(spec, result))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from lightning_nas.report.oneshot import render_oneshot
    from lightning_nas.report.tables import render
    from lightning_nas.store import open_run

    status = args.status or "completed"  # given: every trial of it unless --top (was:
    # `--status completed` the leaderboard's best 10)
    if not (Path(args.run_dir) / "search.db").exists():  # a one-shot run folder
        if status != "completed" and (Path(args.run_dir) / "best_arch.yaml").is_file():
            print("lightning-nas show: error: --status applies to a search run, "
                  f"{args.run_dir} is a one-shot run folder", file=sys.stderr)
            return 2
        print(render_oneshot(args.run_dir, args.format, 10 if args.top is None else args.top),
              flush=True)
        return 0
    top = 10 if args.top is None and args.status is None else args.top  # the leaderboard
    with open_run(args.run_dir) as store:
        text = render(store, args.format, top, status=status)
    print(text, flush=True)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from lightning_nas.report.oneshot import write_oneshot_report
    from lightning_nas.report.plots import check_out_dir, write_report
    from lightning_nas.store import open_run

    out = check_out_dir(args.out, "--out") if args.out else Path(args.run_dir) / "report"
    try:
        if not (Path(args.run_dir) / "search.db").exists():  # a one-shot run folder
            files = write_oneshot_report(args.run_dir, out)
        else:
            with open_run(args.run_dir) as store:
                files = write_report(store, out)
    except ImportError as err:
        print(f"lightning-nas report: error: {err}", file=sys.stderr)
        return 2
    print(f"Wrote {files['html']} and {', '.join(p.name for p in files['plots'])}")
    return 0


def _note(err: BaseException, note: str) -> None:
    """Add ``note`` to ``err``'s traceback, said after its error line (Python 3.10, where
    exceptions take no notes: said now, on stderr, before it)."""
    if hasattr(err, "add_note"):
        err.add_note(note)
    else:  # pragma: no cover - Python 3.10
        print(note.replace("error above", "error below"), file=sys.stderr)


def _what_to_fix(err: BaseException) -> str:
    """What a failed one-shot fit's rank says to fix: its own error, or, where that error
    (or one it was raised from) is gloo's echo of a peer rank that failed first (``Connection
    closed by peer``), the other rank's error, printed further up (was: "fix the error
    above" after the echo, which is no cause)."""
    from lightning_nas.search.rank_failures import peer_symptom

    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if peer_symptom(str(err)):
            return ("another rank failed first, and this one lost its connection to it (its "
                    "error above, 'closed by peer' or 'reset by peer', follows from that): fix "
                    "the other rank's error, further up")
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return "fix the error above"


def _run(args: argparse.Namespace, rest: list[str]) -> int:
    """Run the command ``args.command`` with its overrides ``rest``."""
    if getattr(args, "print_value", None) is not None:  # LightningCLI's --print_config=FLAGS
        raise ConfigError(f"--print_config takes no value, got {args.print_value!r} "
                          f"(LightningCLI's comments, skip_default, skip_null): it prints the "
                          f"config as given, after the overrides; give --print_config alone")
    if words := help_words(args.command, rest):  # --model.help CLASS: nothing read or built
        return print_class_help(args.command, words)
    if args.command in OVERRIDE_EXAMPLES:
        check_overrides(args.command, rest)
    if args.command == "search":
        return _cmd_search(args, rest)
    if args.command == "oneshot":
        return _cmd_oneshot(args, rest)
    if args.command == "finetune":
        from lightning_nas.cli_finetune import cmd_finetune

        return cmd_finetune(args, rest)
    if args.command == "fit":
        return _cmd_fit(args, rest)
    if args.command == "export":
        from lightning_nas.cli_export import cmd_export

        return cmd_export(args)
    if args.command == "report":
        return _cmd_report(args)
    return _cmd_show(args)


def console() -> int:
    """The ``lightning-nas`` console script (and ``python -m lightning_nas``): ``main``, then
    the process's heap frozen (``exit_gc``) so that its exit skips the garbage collector's
    last walk of torch's and Lightning's objects (about a second of CPU a command).

    Example:
        >>> console.__name__
        'console'
    """
    code = main()
    freeze_for_exit()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """The ``lightning-nas`` command, run in this process (``console`` is the script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    given, rest = argv, []
    if argv and argv[0] in ("search", "oneshot", "finetune", "fit"):
        # argparse would take an override holding a space (--search.space.x={choice: [8]})
        # for a positional: overrides are set apart first
        argv, rest = set_apart_overrides(argv)
    argv, valued = print_config_value(argv)  # --print_config=skip_null: said in _run
    parser = _parser()
    check_command(parser, argv)  # a misspelt command: "did you mean"
    check_flag_values(parser, argv)  # --from_scratch=yes
    if argv and help_words(argv[0], rest):  # --model.help CLASS: no CONFIG, as LightningCLI
        no_config_needed(subparser(parser, argv[0]))
    check_config_flag(parser, argv)
    args, unknown = parser.parse_known_args(argv)
    args.print_value = valued
    check_flags(parser, args.command, unknown)
    # `oneshot`: how to resume (not yet before its config loaded); fit: its folder
    args.argv, args.resume = given, lambda **_: ""
    rest = unknown + rest
    if args.command in ("show", "export", "report") and rest:  # its own usage (was: the
        # top-level one, "lightning-nas: error: ...")
        subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(rest)}")
    # like `python -m`, make the current folder importable for class paths in configs (for
    # this call: a caller of main() from Python gets its sys.path back, as it was)
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        with console_warnings(args.command):  # its own lines, not a line of lightning_nas
            return _run(args, rest)
    except BrokenPipeError:  # `lightning-nas show RUN | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (NASError, OSError, sqlite3.DatabaseError) as err:  # a path, a file, a store
        message = " ".join(str(err).split())  # one line, whatever the message holds
        if isinstance(err, sqlite3.DatabaseError) and getattr(args, "run_dir", None):
            from lightning_nas.store_errors import unusable_store  # damaged past its start

            message = str(unusable_store(Path(args.run_dir) / "search.db", err, False))
        if args.command == "oneshot":  # refused after an epoch's checkpoint: how to resume
            message += args.resume(failed=True, refused=True)  # (was: the one line alone)
        print(f"lightning-nas {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as err:  # a user's error in a one-shot fit: its traceback, and then
        if args.command == "oneshot":  # how to go on (was: the traceback alone)
            _note(err, f"lightning-nas oneshot: failed: {_what_to_fix(err)}"
                       f"{args.resume(failed=True)}")
        raise
    except KeyboardInterrupt:  # Ctrl-C: the search said how to resume; no traceback
        print(f"lightning-nas {args.command}: interrupted{args.resume()}", file=sys.stderr)
        return 130
    except SystemExit as err:
        if err.code == 1 and isinstance(err.__context__, KeyboardInterrupt):
            # Ctrl-C in a one-shot fit: Lightning's own handler ended it with exit(1)
            print(f"lightning-nas {args.command}: interrupted{args.resume()}", file=sys.stderr)
            return 130
        if err.code not in (None, 143):
            raise
        # Lightning's SIGTERMException (no code: exit status 0; a search makes it 143):
        # `timeout`, a job scheduler's pre-emption or `docker stop` ended the run, which must
        # not read as finished
        print(f"lightning-nas {args.command}: interrupted (SIGTERM){args.resume()}",
              file=sys.stderr)
        return 143
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


if __name__ == "__main__":
    sys.exit(main())
