"""``TrialTemplate``: how every trial of one search is built, the one thing the search loop
needs from the search besides its settings.

It holds the model and data factories, the Trainer settings, what is monitored and the
seed; ``spec(trial_id, arch)`` makes the picklable ``TrialSpec`` of one trial, ``costs``
counts a candidate's parameters and FLOPs without training, and ``dry_build`` builds the
model (its parameters on the meta device where it can), the data and the Trainer of a trial
the way a trial builds them, so that an error every trial would hit is a ``ConfigError``
naming its config path (``trainer.max_epochs=-5: ...``) before anything trains, and a model
of manual optimization is checked against the Trainer values Lightning refuses for it when
``fit`` starts, set or searched (``manual_checks.py``); ``check_fit_builds`` is the same
for ``fit`` and ``finetune`` (the Trainer builds themselves: ``dry_builds.py``).

Example:
    >>> from lightning.pytorch.demos.boring_classes import BoringModel
    >>> from lightning_nas.config.factories import DataFactory, ModelFactory
    >>> template = TrialTemplate(ModelFactory(BoringModel), DataFactory(), {"max_epochs": 1},
    ...                          run_dir=Path("runs/demo"))
    >>> template.spec(3, {}).trial_dir
    'runs/demo/trials/trial_0003'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.arch import format_arch
from lightning_nas.config import nodes
from lightning_nas.config.cli_optim import check_optim, check_optimizer_given, with_arch
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.hparams import build_class
from lightning_nas.config.instantiate import blame, instantiate, short
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import ConfigError, one_line
from lightning_nas.module import NASModule
from lightning_nas.search.costs import model_costs
from lightning_nas.search.dry_builds import (
    attempt_build,
    check_searched_builds,
    check_trainer_builds,
    global_state_kept,
    said_where,
    trainer_fault,
)
from lightning_nas.search.logger_objects import pin_versions, unstarted
from lightning_nas.search.manual_checks import check_manual_optimization
from lightning_nas.search.meta_build import parameters_on_meta
from lightning_nas.search.required_words import missing_message
from lightning_nas.search.setting_checks import said_in_config
from lightning_nas.search.space_values import said_key
from lightning_nas.search.trial import TrialSpec, quiet_lightning
from lightning_nas.trial_trainer import trial_trainer

__all__ = ["TrialTemplate", "check_fit_builds"]

#: what a fit (its config) or a fine-tune (the search's model and config) of a model with no
#: ``configure_optimizers`` of its own, nor an optimizer section, changes
_OPTIM_FIX = {"the fit": "define {name}.configure_optimizers, or add a top-level `optimizer:` "
                         "section (optimizer: Adam, or a class_path node), which LightningCLI "
                         "makes the model's configure_optimizers",
              "the fine-tune": "define {name}.configure_optimizers (a fine-tune trains with the "
                               "search's optimizer section, and it had none)"}


@dataclass(frozen=True)
class TrialTemplate:
    """The parts every trial of a search shares.

    Args:
        model: builds the LightningModule for an architecture.
        data: builds the trial's data.
        trainer: Trainer keyword arguments (``class_path`` specs allowed for callbacks and
            loggers); a searched ``trainer.*`` key of an architecture overrides its entry.
        monitor, mode: the metric that scores a trial and its direction.
        seed: ``seed_everything`` of every trial.
        run_dir: the search's folder; trials go to ``run_dir/trials/trial_NNNN``.
        objective: a function ``arch -> {metric: value}`` evaluated instead of training.
        max_epochs: epochs of a complete trial when a scheduler sets it (else the Trainer's).
        cost_names: costs counted for each candidate (``params``, ``flops``).
        logged: objectives besides the monitor a trial must log (checked after its first
            epoch: a misspelt one stops the search there); ``tie_break``: with their modes,
            of a trial's validations tied on the monitor the best epoch is the best on them.
        log_label: the run's label in logger versions under a user's ``save_dir`` (the
            store's meta ``log_label``; None: the run folder's name).
        cli_optim: the config's ``optimizer`` / ``lr_scheduler`` nodes, which LightningCLI
            makes the model's ``configure_optimizers`` (a trial's searched values set).
        places: the config's space keys into named nodes of its Trainer lists with their
            nodes' places (``config.node_places.config_places``), for the trial's Trainer.
    """

    model: ModelFactory
    data: DataFactory
    trainer: Mapping[str, Any]
    monitor: str = "val_acc"
    mode: str = "max"
    seed: int | None = 0
    run_dir: Path = Path("runs/nas")
    objective: Callable[[dict[str, Any]], Mapping[str, float]] | None = None
    max_epochs: int | None = None
    cost_names: tuple[str, ...] = field(default=())
    logged: tuple[str, ...] = field(default=())
    tie_break: tuple[tuple[str, str], ...] = field(default=())
    log_label: str | None = None
    #: LightningCLI's ``optimizer`` / ``lr_scheduler`` nodes (``config.cli_optim``)
    cli_optim: Mapping[str, Any] = field(default_factory=dict)
    #: the import path of ``search.cli``, whose ``configure_optimizers`` returns them
    cli: str | None = None
    #: space keys into named Trainer nodes with their places (``config.node_places``)
    places: Mapping[str, str] = field(default_factory=dict)

    def trial_dir(self, trial_id: int) -> Path:
        """The folder of trial ``trial_id``."""
        return self.run_dir / "trials" / f"trial_{trial_id:04d}"

    def spec(self, trial_id: int, arch: dict[str, Any], *, rule: Any = None,
             ckpt_path: str | None = None, known_epochs: int | None = None,
             dry: bool = False) -> TrialSpec:
        """What a worker needs to run trial ``trial_id`` (a promotion continues from
        ``ckpt_path`` in its existing folder): a TensorBoard or CSV logger object's copy has
        its next free version picked and made here (``pin_versions``), unless ``dry`` (a
        spec for a check before training, which writes nothing, and starts no W&B run:
        ``unstarted``)."""
        trainer = trial_trainer(arch, self.trainer, self.places)  # its searched Trainer ones
        if self.max_epochs is not None:
            trainer["max_epochs"] = self.max_epochs
        if trainer.get("logger") and self.objective is None:  # a check's starts no run
            trainer["logger"] = unstarted(trainer["logger"]) if dry else pin_versions(
                trainer["logger"])
        return TrialSpec(trial_id=trial_id, arch=arch, trial_dir=str(self.trial_dir(trial_id)),
                         model=self.model.target, model_init_args=self.model.init_args,
                         data=self.data.target, data_init_args=self.data.init_args,
                         trainer=trainer, monitor=self.monitor, mode=self.mode, seed=self.seed,
                         objective=self.objective, rule=rule, ckpt_path=ckpt_path,
                         known_epochs=known_epochs, clear_dir=ckpt_path is None,
                         logged=self.logged, tie_break=self.tie_break,
                         log_label=self.log_label,
                         cli_optim=with_arch(self.cli_optim, arch) if self.cli_optim else {},
                         cli=self.cli)

    def costs(self, arch: dict[str, Any]) -> dict[str, float]:
        """``params`` (and ``flops`` if needed) of ``arch``'s model, without training."""
        if not self.cost_names:
            return {}
        with quiet_lightning():
            return model_costs(self.model.build, arch, flops="flops" in self.cost_names)

    def dry_build(self, archs: Sequence[dict[str, Any]],
                  searched: Mapping[str, Sequence[Any]] | None = None,
                  trainer: bool = True, of: str | None = None,
                  keys: Mapping[str, Sequence[tuple[str, Any]]] | None = None
                  ) -> tuple[Any, Any]:
        """Build a trial's model, data and (with ``trainer``) Trainer as ``fit_trial`` builds
        them, without training, starting processes or writing into the run folder; the model
        and the data built (None and None for an ``objective``; the data None where there is
        none), for checks of their own (``configure_callbacks``; an instance's hooks, which
        may be set in its ``__init__``, where its class has none).

        The model is built with its parameters on the meta device (``parameters_on_meta``;
        on CPU if it cannot be). The model and the data must build for one of ``archs`` (an
        architecture the model rejects is a failed trial, not a config error); the Trainer
        is built for the first, then once for each other value a searched Trainer argument
        may take (``check_searched_builds``; ``keys``: the space key and value of each,
        ``space_values.option_keys``, named where one is refused). A model of manual optimization
        (``automatic_optimization = False``) is checked against the Trainer values Lightning
        refuses for it when ``fit`` starts, the Trainer's and each of ``searched`` (the
        space's ``trainer.*`` keys without the prefix: their values). A ``NASModule``'s
        output width is checked against its ``num_classes`` (``check_output_width``: a
        meta-device ``forward`` of its ``example_input_array``, where it has one).

        Raises:
            ConfigError: naming the config path at fault and its value
                (``trainer.max_epochs=-5: ...``, ``model.depth='abc': ...``), else the
                section (``model``, ``data``, ``trainer``); or the space key and the value
                (``space key 'trainer.accelerator' may take 'gpuu': ...``), or the values
                manual optimization cannot take.
        """
        if self.objective is not None or not archs:
            return None, None
        built: list[Any] = []  # the model, then the data (each of the first arch it builds for)
        with global_state_kept():
            for name, factory in (("model", self.model), ("data", self.data)):
                first = None
                for arch in archs:
                    error = attempt_build(lambda a=arch, f=factory: built.append(f.build(a)),
                                     name == "model")
                    if error is None:
                        break
                    first = first or error
                else:
                    _refuse_missing(name, factory, archs[0], of)  # where to set them
                    path, value = self._blame(name, factory, archs[0]) or (None, None)
                    raise _config_error(name, path, value, first, archs[0], of)
        if isinstance(built[0], NASModule):  # its output width, before anything is written
            built[0].check_output_width()
        if not trainer:
            return built[0], built[1]
        spec = self.spec(0, archs[0], dry=True)
        fault = trainer_fault(spec)
        if fault is not None:
            path, value, error = fault
            if path is not None and path.split(".")[1] in (searched or {}):  # the space's
                key, shown = said_key(path.split(".")[1], value, keys, archs[0])
                raise ConfigError(f"space key {key!r} may take "
                                  f"{short(shown)}: {one_line(error)}; found building the "
                                  f"Trainer of a trial before any training (every trial "
                                  f"drawing it would fail)")
            raise _config_error("trainer", *fault, archs[0])
        check_searched_builds(lambda arch: self.spec(0, arch, dry=True), archs, searched or {},
                               keys or {})
        if not getattr(built[0], "automatic_optimization", True) and self._all_manual(archs):
            with global_state_kept():
                check_manual_optimization(spec, type(built[0]).__name__, searched or {})
        return built[0], built[1]

    def _all_manual(self, archs: Sequence[dict[str, Any]]) -> bool:
        """Whether the model of each of ``archs`` that builds is of manual optimization (was:
        the first one's alone decided, though a searched argument may set it)."""
        for arch in archs[1:]:
            with global_state_kept(), parameters_on_meta():
                try:
                    model = self.model.build(arch)
                except Exception:  # noqa: BLE001 - an architecture the model rejects: no say
                    continue
            if getattr(model, "automatic_optimization", True):
                return False
        return True

    def _blame(self, name: str, factory: ModelFactory | DataFactory,
               arch: dict[str, Any]) -> tuple[str, Any] | None:
        """The configured argument (or space key) whose removal lets the build succeed."""
        meta, target = name == "model", factory.target
        if isinstance(target, ConfigBuilder):
            section = target.config(arch)
            kind = pl.LightningModule if meta else pl.LightningDataModule

            def built(init_args: dict[str, Any]) -> None:  # checked as the factory checks it
                if not isinstance(instantiate(nodes.with_args(section, init_args)), kind):
                    raise TypeError(f"not a {kind.__name__}")  # was: any argument "at fault"

            def section_build(init_args: dict[str, Any]) -> BaseException | None:
                return attempt_build(lambda: built(init_args), meta)
            return blame(section_build, nodes.node_args(section), name)
        if not isinstance(target, type):
            return None
        fixed = {k: v for k, v in factory.init_args.items() if not (meta and k in arch)}
        searched = arch if meta else {}

        def with_args(init_args: dict[str, Any]) -> BaseException | None:
            return attempt_build(lambda: build_class(target, {**init_args, **searched}, name), meta)

        def with_arch(values: dict[str, Any]) -> BaseException | None:
            return attempt_build(lambda: build_class(target, {**factory.init_args, **values}, name),
                            meta)
        return blame(with_args, fixed, name) or (blame(with_arch, arch, "search.space")
                                                 if meta else None)


def check_fit_builds(spec: TrialSpec, of: str = "the fit") -> tuple[Any, Any]:
    """Build the model and data of ``spec`` (a fit or a fine-tune: one architecture) as
    ``TrialTemplate.dry_build`` builds a trial's, check that the model has an optimizer
    (``check_optimizer_given``, as a search's), then build its Trainer
    (``check_trainer_builds``), before any folder is made; the model built (parameters on
    the meta device where they can be) and the data (None where there is none), for checks
    of their own (a fine-tune's weights' shapes, the hooks a fit validates with).

    Raises:
        ConfigError: naming the argument at fault and its value, else the section.
    """
    template = TrialTemplate(ModelFactory(spec.model, spec.model_init_args),
                             DataFactory(spec.data, spec.data_init_args), spec.trainer)
    check_optim(spec.cli_optim)
    # (was: the fit's traceback)
    model, data = template.dry_build([dict(spec.arch)], trainer=False, of=of)
    target = template.model.target  # no optimizer: the fit would fail (was: Lightning's
    # refusal once its folder was made; a fine-tune's FAILED), as a search checks it
    check_optimizer_given(target.target() if isinstance(target, ConfigBuilder) else target,
                          spec.cli_optim, _OPTIM_FIX.get(of, _OPTIM_FIX["the fit"]),
                          f"{of} would fail")
    check_trainer_builds(spec, of)
    return model, data



def _refuse_missing(section: str, factory: ModelFactory | DataFactory, arch: dict[str, Any],
                    of: str | None) -> None:
    """Raise ``ConfigError`` where the class ``factory`` builds for ``arch`` lacks required
    arguments, saying where to set them in the caller's words (a search's, a fit's config)
    (was: Python's ``TypeError``, naming the argument only)."""
    if of not in (None, "the fit") or isinstance(factory.target, ConfigBuilder):
        return  # (a node: call() names its path; a fine-tune's arguments are its trial's)
    searched = ({k: v for k, v in arch.items() if not is_dotted(k)} if section == "model"
                else factory.arch_args(arch))
    said = missing_message(section, factory.target, factory.init_args, searched,
                           config=of is not None or said_in_config(), search=of is None)
    if said is not None:
        then = "(every trial would fail)" if of is None else "(no folder was made)"
        raise ConfigError(f"{said}; found building the {section} of {of or 'a trial'} "
                          f"before any training {then}")


def _config_error(section: str, path: str | None, value: Any, error: BaseException,
                  arch: dict[str, Any], of: str | None = None) -> ConfigError:
    what = {"model": "the model", "data": "the data", "trainer": "the Trainer"}[section]
    where = f"{path}={short(value)}" if path else \
        f"{section} (for {format_arch(arch)})" if arch else section
    then = "(every trial would fail)" if of is None else "(no folder was made)"
    said = one_line(error)
    if path is None and said.startswith(f"{section}: "):  # call() names it: said once
        said = said[len(section) + 2:]
    if path is not None:  # the error names it (path=..., path.key): said once
        where, said = said_where(path, value, said, section)
        where = where.removesuffix(": ")
    return ConfigError(f"{where}{': ' * bool(where)}{said}; found building {what} of "
                       f"{of or 'a trial'} before any training {then}")
