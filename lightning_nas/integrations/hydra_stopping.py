"""What a sweep's jobs' callbacks would do, said before the first job as ``lightning-nas
search`` says it of its trials' (``search.rule_checks``): ``warn_stopping`` reads the jobs
the sweep composed (the first sample's and each searched option's) for the nodes of the
config's ``callbacks`` (the lightning-hydra-template's mapping of named nodes, which its
``train.py`` builds, or a list) and of its ``trainer`` node's own ``callbacks``, and warns of:

- a job whose ``trainer`` sets ``max_epochs: -1`` (Lightning's "no limit") with no
  ``max_steps`` or ``max_time`` and no ``EarlyStopping`` among those callbacks
  (``~callbacks.early_stopping``): it trains until a callback of the task's own stops it,
  for ever where none does;
- an ``EarlyStopping`` that monitors the sweep's score (``optimized_metric``, or
  ``hydra.sweeper.monitor``) the other way round (its ``mode``; ``min`` by default), in
  every job: jobs stop while the score improves.

Warnings, not refusals: the task function builds what it likes. One that monitors another
metric is not warned of (the template stops on ``val/acc`` and scores ``val/acc_best``), nor
one whose ``monitor`` or ``mode`` the sweep searches (meant).

Example:
    >>> from omegaconf import OmegaConf
    >>> stop = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "acc"}
    >>> warn_stopping([OmegaConf.create({"callbacks": {"es": stop}})], "acc", "max",
    ...               say=False)[0][:60]
    "callbacks.es (EarlyStopping) monitors 'acc' with mode 'min' "
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_nas.integrations.hydra_grammar import path_of
from lightning_nas.search.rule_checks import callbacks_of, endless_text
from lightning_nas.search.setting_checks import config_words
from lightning_nas.search.stopping_checks import stopping_texts
from lightning_nas.user_warnings import warn_user

__all__ = ["callback_nodes", "warn_stopping"]

#: where a job config holds the callbacks its task builds
_PLACES = ("callbacks", "trainer.callbacks")
#: the Trainer arguments that may end a fit
_LIMITS = ("max_epochs", "max_steps", "max_time")


def warn_stopping(jobs: Sequence[DictConfig], monitor: str, mode: str,
                  searched: Iterable[str] = (), say: bool = True) -> list[str]:
    """Warn of a job of ``jobs`` that nothing ends, and of an ``EarlyStopping`` that every
    job keeps on ``monitor`` in the other ``mode`` (see the module).

    Args:
        jobs: the job configs composed before the first job.
        monitor: the sweep's score (its first objective).
        mode: ``"max"`` or ``"min"``, the sweep's.
        searched: the sweep's keys (a node whose ``monitor`` or ``mode`` is one: meant).
        say: warn (False: only return the texts).

    Returns:
        The warnings' texts.
    """
    from lightning.pytorch.callbacks import EarlyStopping

    paths = {path_of(key) for key in searched}
    said: list[str] = []
    common: list[str] | None = None
    with config_words():  # (a sweep's config words: mode: max)
        for job in jobs:
            nodes = callback_nodes(job)
            limits = {k: _select(job, f"trainer.{k}") for k in _LIMITS}
            endless = endless_text({**limits, "callbacks": [n for _, n in nodes]},
                                   what="sweep") if isinstance(_select(job, "trainer"),
                                                               Mapping) else None
            if endless is not None and endless not in said:  # (one text: said once)
                said.append(endless)
            found = [hit for where, node in nodes
                     if not {f"{where}.monitor", f"{where}.mode"} & paths
                     for hit in callbacks_of(node, EarlyStopping, where)]
            texts = stopping_texts(found, monitor, mode, "sweep", others=False)
            common = texts if common is None else [t for t in common if t in texts]
    said += common or []
    for text in said if say else ():
        warn_user(text)
    return said


def callback_nodes(job: DictConfig) -> list[tuple[str, Any]]:
    """The callback nodes of ``job`` (``callbacks`` and ``trainer.callbacks``: a mapping of
    named nodes or a list), each with its path, as plain data (interpolations resolved
    where they resolve before a job runs); a null one left out.

    Example:
        >>> job = OmegaConf.create({"callbacks": {"a": {"_target_": "m.A"}, "b": None}})
        >>> callback_nodes(job)
        [('callbacks.a', {'_target_': 'm.A'})]
    """
    found = []
    for place in _PLACES:
        held = _select(job, place)
        items = (held.items() if isinstance(held, Mapping) else
                 ((f"[{i}]", v) for i, v in enumerate(held)) if isinstance(held, list) else ())
        for name, node in items:
            if isinstance(node, Mapping):
                found.append((f"{place}{name}" if name.startswith("[") else f"{place}.{name}",
                              node))
    return found


def _select(job: DictConfig, path: str) -> Any:
    """The value at ``path`` of ``job`` as plain data, resolved where it resolves before a
    job runs (``${hydra:runtime.output_dir}`` does not: kept as written); None where
    there is none."""
    try:
        value = OmegaConf.select(job, path, default=None, throw_on_missing=False)
    except Exception:  # noqa: BLE001 - an interpolation only a job resolves
        value = OmegaConf.select(job, path, default=None, throw_on_resolution_failure=False)
    if not OmegaConf.is_config(value):
        return value
    try:
        return OmegaConf.to_container(value, resolve=True)
    except Exception:  # noqa: BLE001 - (as above)
        return OmegaConf.to_container(value, resolve=False)
