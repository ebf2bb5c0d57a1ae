"""Train one LightningCLI-shaped config, no search: ``lightning-nas fit CONFIG``.

A fresh Trainer, the config's ``seed_everything``, and the search's reporting: the
monitored value at the best validation epoch and the best checkpoint. Trained on an
exported ``best_config.yaml`` it reproduces the trial it came from (same seed, same Trainer
settings, same code path as a trial), so a search's winner can be checked without
``search:``.

Example:
    >>> cfg = {"seed_everything": 3, "trainer": {"max_epochs": 2},
    ...        "model": {"class_path": "lightning.pytorch.demos.boring_classes.BoringModel"}}
    >>> spec = fit_spec(cfg, out_dir="runs/fit/net")
    >>> spec.seed, spec.trainer, spec.monitor, spec.mode
    (3, {'max_epochs': 2}, 'val_acc', 'max')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.config.accumulation import unbuilt_callbacks
from lightning_nas.config.cli_links import CliLinks
from lightning_nas.config.cli_optim import check_plateau_monitor, optim_sections
from lightning_nas.config.cli_sections import warn_unrun_hooks
from lightning_nas.config.load import config_seed, load_config, section_target
from lightning_nas.config.node_labels import names_said
from lightning_nas.config.node_places import config_names
from lightning_nas.config.nodes import is_node
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.sections import command_sections, unknown_section
from lightning_nas.config.trainer_checks import check_trainer_kwargs, check_validation_runs
from lightning_nas.errors import ConfigError, NASError, check_mode
from lightning_nas.fit_exported import (
    check_not_best_yaml,
    check_not_run_folder,
    fit_defaults,
    warn_trial_threads,
)
from lightning_nas.fit_resume import check_resume, fit_record, out_folder, resume_point
from lightning_nas.fit_resume_words import check_ckpt_path
from lightning_nas.results import TrialResult, format_score
from lightning_nas.run_folder import user_path
from lightning_nas.search.best_epoch import parse_tie_break, tie_break_of
from lightning_nas.search.executor import InlineExecutor, torch_threads
from lightning_nas.search.fit_segments import UNFINISHED
from lightning_nas.search.logger_dirs import check_trainer_dirs
from lightning_nas.search.nas_logged import check_nas_logged
from lightning_nas.search.no_validation import check_validates
from lightning_nas.search.objectives import mode_for
from lightning_nas.search.ranks import close_rank_groups
from lightning_nas.search.rule_checks import warn_endless
from lightning_nas.search.runner import run_trial
from lightning_nas.search.runner_checks import check_strategy
from lightning_nas.search.setting_checks import check_seed, in_words, said_in_config
from lightning_nas.search.stopping_checks import warn_stopping_monitor
from lightning_nas.search.template import check_fit_builds
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.trial_callbacks import check_fit_callbacks

__all__ = ["FIT_KEYS", "checkpoint_text", "describe", "fit_config", "fit_spec", "load_fit",
           "metrics_text", "read_fit_config", "refusal", "unfinished"]

#: the config sections ``fit`` reads (a ``search:`` block is ignored but for its
#: ``monitor`` and ``mode``; ``optimizer`` / ``lr_scheduler``: LightningCLI's
#: configure_optimizers, ``config.cli_optim``)
FIT_KEYS = command_sections("fit")



def _section(cfg: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The ``model`` or ``data`` section as a node (a ``class_path`` spec or a Hydra node),
    its classes imported and its arguments checked against their ``__init__`` (before any
    training)."""
    section = cfg.get(name)
    if section is None:
        return None
    if isinstance(section, str):
        section = {"class_path": section}
    if not is_node(section):
        raise ConfigError(f"`{name}` must be an import path, a mapping with class_path and "
                          f"init_args, or a Hydra node with _target_; got {section!r}")
    ConfigBuilder(section, name, plain_keys=False).check()
    return dict(section)


def _seed(cfg: Mapping[str, Any]) -> int | None:
    """LightningCLI's rule: an int, ``false`` for no seeding; ``true``, null and no key
    ``PL_GLOBAL_SEED`` where the environment sets it, else a random one for ``true`` and 0
    otherwise, like a search (``config_seed``)."""
    if cfg.get("seed_everything") is False:
        return None
    seed = config_seed(cfg, None)
    check_seed(seed, "seed_everything")  # as a search's (was: Lightning's ValueError at the
    return seed  # start of fit, "-3 is not in bounds", naming no key)


def fit_spec(cfg: Mapping[str, Any], *, out_dir: str | os.PathLike,
             monitor: str | None = None, mode: str | None = None,
             tie_break: Sequence[tuple[str, str]] | None = None,
             cli: str | None = None) -> TrialSpec:
    """Check a loaded config (its Trainer is built, without training, as a search builds
    a trial's) and make the ``TrialSpec`` that trains it once; a node of a mapping of named
    callbacks is said by its name (``trainer.callbacks.early_stopping``).

    Args:
        cfg: a LightningCLI-shaped config (``model``, ``data``, ``trainer``,
            ``seed_everything``); a ``search:`` block gives only default ``monitor``/``mode``.
        out_dir: where the checkpoint and the logs go.
        monitor, mode: the metric read at the best epoch (default: the ``search:`` block's
            monitor, or its first objective, else ``val_acc``, ``max``).
        tie_break: the objectives that rank validations tied on the monitor (``(name,
            mode)`` in order, ``best_entry``); None: the ``search:`` block's later
            objectives where ``monitor`` and ``mode`` are its first one's, else none.
        cli: the import path of the LightningCLI subclass whose ``link_arguments`` set
            their targets in the config, as a search's ``search.cli`` (None: the ``search:``
            block's ``cli``, else none).

    Returns:
        The spec; ``run_trial(spec)`` trains it (in its own process for DDP).
    """
    with names_said(config_names(cfg)):  # trainer.callbacks.early_stopping (was: [1])
        return _checked_spec(cfg, out_dir, monitor, mode, tie_break, cli)


def _checked_spec(cfg: Mapping[str, Any], out_dir: str | os.PathLike, monitor: str | None,
                  mode: str | None, tie_break: Sequence[tuple[str, str]] | None,
                  cli: str | None) -> TrialSpec:
    """``fit_spec``'s checks and spec."""
    for key in cfg:
        if key not in FIT_KEYS:
            raise unknown_section(key, "fit")  # ckpt_path's null too
    search = cfg.get("search") if isinstance(cfg.get("search"), Mapping) else {}
    objectives = search.get("objectives")
    first = (next(iter(objectives.items()))  # a search's monitor is its first objective
             if isinstance(objectives, Mapping) and objectives else (None, None))
    known = search.get("monitor") or first[0] or "val_acc"
    known_mode = search.get("mode") or (first[1] if known == first[0] else None)
    monitor, mode = _monitor_and_mode(monitor, mode, known, known_mode)  # the caller's first
    check_mode(mode)
    if tie_break is None:  # the search's rule for its monitor's ties (was: the earlier)
        tie_break = tie_break_of(objectives) if (monitor, mode) == first else ()
    model = _section(cfg, "model")
    if model is None:
        raise ConfigError("the config needs `model` (class_path and init_args)")
    data = _section(cfg, "data")
    if not isinstance(cfg.get("trainer") or {}, Mapping):
        raise ConfigError(f"`trainer` must be a mapping of Trainer arguments, got "
                          f"{cfg.get('trainer')!r}")
    trainer = dict(cfg.get("trainer") or {})
    check_trainer_kwargs(trainer)
    check_trainer_dirs(trainer, whose="the fit's")  # as a search's (was: Lightning's
    # NotADirectoryError once the Trainer wrote, the model and data built)
    check_validation_runs(trainer, monitor, unbuilt_callbacks(model))
    check_strategy(trainer)
    # built as a search builds them: a plain class_path spec by its class and init_args (so
    # a model that saves no hyperparameters gets them written into its checkpoint, as a
    # trial's), nodes with nested objects or Hydra nodes by a ConfigBuilder
    model_target, model_args = section_target(model, "model")
    data_target, data_args = section_target(data, "data")
    links = CliLinks(cli or search.get("cli"), cfg)  # as the search's trials applied them
    warn_unrun_hooks(links)  # its other methods: run by no fit of ours (said)
    check_plateau_monitor(optim_sections(cfg), links.cli)  # torch's, bare: refused at start
    if links.links:  # built by a ConfigBuilder, which sets their targets
        model_target, model_args = ConfigBuilder(model, "model", False, links), {}
        model = model_target.config({})  # (the checkpoint's hparams: the CLI's, linked)
        if data is not None and any(t.startswith("data.") for t in links.targets()):
            data_target, data_args = ConfigBuilder(data, "data", False, links), {}
    spec = TrialSpec(trial_id=0, arch={}, trial_dir=str(out_dir),
                     model=model_target, model_init_args=model_args,
                     data=data_target, data_init_args=data_args,
                     trainer=trainer, monitor=monitor, mode=mode, seed=_seed(cfg),
                     clear_dir=False, own_logs=True, cli_optim=optim_sections(cfg),
                     cli=links.cli,  # its configure_optimizers, as the search's trials
                     tie_break=tuple(tie_break), cli_model=model)  # LightningCLI's hparams
    spec.record = fit_record(spec, "fit")  # in its checkpoints: a resume is checked on it
    # as a search does: a model, data or Trainer that cannot be built; then what the module
    built, data_built = check_fit_builds(spec)
    own = check_fit_callbacks(spec, built)  # built says to
    # NASModule's keys are known: a monitor it never logs is refused before training, as a
    # search refuses it (was: after every epoch trained)
    check_nas_logged(built, monitor, [name for name, _ in tie_break], trainer)
    check_validates(built, data_built, monitor, "the fit")  # (was: found once it trained;
    # the instances built: a hook set in __init__ counts, as Lightning counts it)
    warn_endless(trainer, own or [], "fit")  # configure_callbacks(); what a search warns of
    warn_stopping_monitor(trainer, monitor, mode, own or [], "fit")  # in them too (was: not)
    return spec


def read_fit_config(configs: str | os.PathLike | Sequence[str | os.PathLike],
                    overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The config a fit trains: ``configs`` merged in order, then ``overrides``; its
    ``search`` block, if any, without the ``run_dir`` a search would default to."""
    paths = [configs] if isinstance(configs, (str, os.PathLike)) else list(configs)
    if not paths:
        raise ConfigError("fit needs a config file")
    check_not_run_folder(paths)  # as finetune takes it: the config that trains it named
    cfg = load_config(paths, overrides, searched=False,  # its search block: monitor, mode
                      command="fit")
    check_not_best_yaml(cfg, paths)
    search = cfg.get("search")
    if isinstance(search, dict):
        search.pop("run_dir", None)  # load_config's default for a search, not the config's
        if not search:
            cfg.pop("search")
    return cfg


def load_fit(configs: str | os.PathLike | Sequence[str | os.PathLike],
             overrides: Sequence[str] = (), *, monitor: str | None = None,
             mode: str | None = None, out_dir: str | os.PathLike | None = None,
             threads: int | None = None, ckpt_path: str | os.PathLike | None = None,
             cfg: dict[str, Any] | None = None) -> TrialSpec:
    """Read config files (merged in order, then ``overrides``) and make the spec that
    trains them once; ``monitor``/``mode`` default to the ``# lightning-nas fit:`` comment
    of the last file that has one, then as in ``fit_spec`` (its ``tie_break`` ranks the
    ties of its monitor and mode); ``out_dir`` to
    ``runs/fit/<config name>`` (or ``_1``, ``_2``, ...: a fit never overwrites another);
    ``ckpt_path`` (``last`` or a checkpoint file) resumes an interrupted fit there
    (``fit_resume``: its settings checked before training). A
    ``best_config.yaml`` whose trial trained with another count of torch threads than the
    fit will (``threads``, else this process's) is said in a warning (``warn_trial_threads``);
    ``cfg``: the files and overrides read already (``read_fit_config``)."""
    paths = [configs] if isinstance(configs, (str, os.PathLike)) else list(configs)
    cfg = read_fit_config(paths, overrides) if cfg is None else cfg
    # the last file that says how its search scored (best_config.yaml with a file after it)
    recorded = next((found for found in map(fit_defaults, reversed(paths)) if found), {})
    default = Path("runs") / "fit" / Path(paths[-1]).stem
    check_ckpt_path(ckpt_path, "fit")  # (was: a bare TypeError of another type)
    if ckpt_path is not None:  # the interrupted fit's folder and checkpoint
        out, ckpt = resume_point(ckpt_path, default, None if out_dir in (None, "") else
                                 user_path(out_dir), "fit", str(paths[-1]))
    else:
        out = out_folder(out_dir, default, "fit")  # a stopped fit's folder: said so
    tie_break = None  # the search's later objectives, for its monitor only (older: none)
    if recorded.get("monitor") and recorded.get("mode"):
        monitor, mode = _monitor_and_mode(monitor, mode, recorded["monitor"], recorded["mode"],
                                          strict=False)
        tie_break = parse_tie_break(recorded.get("tie_break", "")) if (monitor, mode) == (
            recorded["monitor"], recorded["mode"]) else ()
    spec = fit_spec(cfg, out_dir=out, monitor=monitor, mode=mode, tie_break=tie_break,
                    cli=recorded.get("cli"))
    if ckpt_path is not None:
        check_resume(spec, ckpt, "fit")
        spec.ckpt_path = str(ckpt)
    warn_trial_threads(paths, InlineExecutor(threads, spec.trainer).cpu_threads,
                       threads is not None)
    return spec


def _nas_errors(kind: type[NASError] = NASError) -> set[str]:
    """The names of ``kind`` and of its subclasses (a trial's error names its type)."""
    return {kind.__name__}.union(*(_nas_errors(sub) for sub in kind.__subclasses__()))


def refusal(result: TrialResult) -> ConfigError | None:
    """The one-line error of a fit or fine-tune that failed on bad input, which
    ``lightning-nas fit`` and ``finetune`` print as every command prints a ``NASError``
    (exit 2, no traceback), or None for a failure in training (its traceback is news).

    Bad input is an error every trial would hit (``fatal``: a monitor never logged), one
    found before training (``build_failed``: Lightning's checks of the setup, e.g.
    ``val_check_interval`` above an epoch's batches, as a search stops on them) and any of
    the project's own errors (a ``NASError``, named without its type).

    Example:
        >>> from lightning_nas.results import TrialStatus
        >>> failed = TrialResult(trial_id=0, arch={}, status=TrialStatus.FAILED, fatal=True,
        ...                      error="MonitorError: monitor 'acc' was not logged\\n...")
        >>> print(refusal(failed))
        monitor 'acc' was not logged
    """
    if not result.error:
        return None
    line = result.error.splitlines()[0]
    kind, _, message = line.partition(": ")
    if kind in _nas_errors():
        line = message
    elif not (result.fatal or result.build_failed):
        return None
    if result.build_failed:
        line += " (found before training: nothing was trained)"
    return ConfigError(line)


def unfinished(out_dir: str | os.PathLike, what: str = "fit") -> str:
    """What an interrupted fit (or fine-tune: ``what``) says of its output folder, so that
    its files are not taken for a finished run's: ``""`` while the folder holds nothing.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp())
        >>> unfinished(out)
        ''
        >>> _ = (out / "best.ckpt").write_bytes(b"")
        >>> unfinished(out, "fine-tune") == (f"; the fine-tune is unfinished: {out} holds its "
        ...     f"logs and a best.ckpt of its best epoch before the interrupt, not of a "
        ...     f"finished fine-tune")
        True
    """
    out = user_path(out_dir)
    if not out.is_dir() or not any(p.name != UNFINISHED for p in out.iterdir()):
        return ""
    if not (out / "best.ckpt").is_file():
        return f"; the {what} is unfinished: {out} holds its logs"
    return (f"; the {what} is unfinished: {out} holds its logs and a best.ckpt of its best "
            f"epoch before the interrupt, not of a finished {what}")


def _monitor_and_mode(monitor: str | None, mode: str | None, known: str,
                      known_mode: str | None,
                      strict: bool = True) -> tuple[str | None, str | None]:
    """``monitor`` and ``mode`` as given, else the ``known`` pair's; a known mode is only
    taken for its own monitor (``val_acc``'s ``max`` would keep ``val_loss``'s worst epoch):
    ``strict``, another monitor without ``mode`` takes the mode its name says (``mode_for``,
    a ``ConfigError`` when it says none: in the command line's words within
    ``config_words()``, ``lightning-nas fit``'s, else in Python's; was: the command line's
    and a config's from ``fit_config(..., monitor=...)`` too). A ``known`` monitor without
    a mode takes its name's only when the caller gives no mode (was: judged first, so a
    config's ``monitor: val_score`` refused the caller's monitor and mode)."""
    if monitor is None or monitor == known:
        return known, mode or known_mode or mode_for(known)
    if mode is None and strict:
        try:
            return monitor, mode_for(monitor, python=not said_in_config())
        except ConfigError as err:
            needs = in_words(f"--monitor {monitor} needs --mode min or max",
                             f"monitor={monitor!r} needs mode='max' or 'min'")
            raise ConfigError(f"{needs} ({_theirs(known, known_mode)}): {err}") from None
    return monitor, mode


def _theirs(known: str, known_mode: str | None) -> str:
    """The config's monitor and mode, as a refusal names them (a mode its name says, else
    the monitor alone)."""
    try:
        return f"the config's mode {known_mode or mode_for(known)} is for {known}"
    except ConfigError:
        return f"the config's monitor {known} names no mode"


def fit_config(configs: str | os.PathLike | Sequence[str | os.PathLike],
               overrides: Sequence[str] = (), *, monitor: str | None = None,
               mode: str | None = None, out_dir: str | os.PathLike | None = None,
               threads: int | None = None,
               ckpt_path: str | os.PathLike | None = None) -> TrialResult:
    """Train a config once with a fresh Trainer and report it like a trial.

    Args:
        configs: one YAML config or several merged in order (as ``lightning-nas search``).
        overrides: dotted overrides (``--trainer.max_epochs=3``).
        monitor, mode: the metric read at the best epoch (see ``load_fit``).
        out_dir: checkpoint and logs (see ``load_fit``).
        threads: torch threads of the fit and of each DDP rank (default: this process's);
            on CPU the count its trial ran with (``best_config.yaml``'s ``OMP_NUM_THREADS=N``)
            trains it again to the same scores; another count is said in a warning.
        ckpt_path: ``"last"`` or a checkpoint file of an interrupted fit's folder: it goes
            on there, its best epoch chosen over all its epochs (see ``load_fit``).

    Returns:
        The result: ``score`` at the best ``epoch``, ``metrics``, ``curve``, ``checkpoint``;
        a run that fails is returned FAILED with its ``error``.

    Example:
        >>> result = fit_config("runs/digits/best_config.yaml")  # doctest: +SKIP
        >>> result.score, result.checkpoint  # doctest: +SKIP
        (0.992, '.../runs/fit/best_config/best.ckpt')
    """
    if threads is not None and (type(threads) is not int or threads < 1):  # as finetune's
        raise ConfigError(f"threads must be a whole number >= 1 (torch threads of the fit), "
                          f"or None for this process's; got {threads!r}")
    try:
        with torch_threads(threads):
            return run_trial(load_fit(configs, overrides, monitor=monitor, mode=mode,
                                      out_dir=out_dir, threads=threads, ckpt_path=ckpt_path))
    finally:
        close_rank_groups()  # one trial: nothing to reuse the DDP ranks for


def describe(spec: TrialSpec, result: TrialResult) -> str:
    """The lines ``lightning-nas fit`` prints for a finished fit, its score as the search's
    lines print one (``format_score``; was ``val_acc=0.1``, a raw float).

    Example:
        >>> from lightning_nas.results import TrialStatus
        >>> model = "lightning.pytorch.demos.boring_classes.BoringModel"
        >>> spec = fit_spec({"seed_everything": 0, "model": model}, out_dir="runs/f")
        >>> result = TrialResult(trial_id=0, arch={}, status=TrialStatus.COMPLETED, score=0.5,
        ...                      epoch=1, epochs=2, checkpoint="runs/f/best.ckpt")
        >>> print(describe(spec, result))
        Trained BoringModel (seed 0): val_acc=0.5000 (max) at epoch 1 (epochs 0..1 trained)
        checkpoint: runs/f/best.ckpt
    """
    name = spec.model.class_name if isinstance(spec.model, ConfigBuilder) else \
        str(spec.model).replace(":", ".").rsplit(".", 1)[-1]
    seeded = "not seeded" if spec.seed is None else f"seed {spec.seed}"  # (was: seed None)
    return (f"Trained {name} ({seeded}): {spec.monitor}={format_score(result.score)} "
            f"({spec.mode}) at epoch {result.epoch} (epochs 0..{result.epochs - 1} "
            f"trained)\n"
            f"checkpoint: {checkpoint_text(result)}")


def checkpoint_text(result: TrialResult) -> str:
    """The checkpoint a fit or fine-tune wrote, as ``lightning-nas fit`` and ``finetune``
    print it: its path, or, under ``trainer.enable_checkpointing: false``, that none was
    written (was: ``None``, as if a file were named so).

    Example:
        >>> from lightning_nas.results import TrialStatus
        >>> checkpoint_text(TrialResult(trial_id=0, arch={}, status=TrialStatus.COMPLETED,
        ...                             checkpoint="runs/f/best.ckpt"))
        'runs/f/best.ckpt'
    """
    if result.checkpoint is not None:
        return str(result.checkpoint)
    return ("none (trainer.enable_checkpointing is false: no best.ckpt, nor a last.ckpt that "
            "an interrupted run resumes from)")


def metrics_text(metrics: Mapping[str, float]) -> str:
    """``metrics`` as ``lightning-nas finetune`` prints them: ``name=value`` pairs, each
    value as the search's lines print a score (``format_score``; was the raw dict).

    Example:
        >>> metrics_text({"val_acc": 0.99204, "val_loss": 0.1, "lr": 3.2e-05})
        'val_acc=0.9920, val_loss=0.1000, lr=3.2e-05'
    """
    return ", ".join(f"{key}={format_score(value)}" for key, value in metrics.items()) \
        or "none logged"
