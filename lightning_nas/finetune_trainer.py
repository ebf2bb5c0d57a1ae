"""The Trainer arguments a fine-tune is given: ``lightning-nas finetune``'s ``--trainer.*``
overrides merged over the search's Trainer settings as a search's config overrides are
merged (``apply_overrides``), so as LightningCLI merges them over ``best_config.yaml``: a
node over the search's node, its ``init_args`` alone, a key under it
(``--trainer.strategy.init_args.static_graph=true``), a list append
(``--trainer.callbacks+=EarlyStopping``) and a key under the list's last node after it
(``--trainer.callbacks.patience=5``); a scalar simply set. ``search_names``: the names the
search's config gave the nodes of those lists, for the fine-tune's checks to say them.

Example:
    >>> search = {"max_epochs": 3, "callbacks": [{"class_path": "EarlyStopping",
    ...                                           "init_args": {"monitor": "val_acc"}}]}
    >>> given_trainer(None, [("trainer.callbacks+", "LearningRateMonitor"),
    ...                      ("trainer.max_epochs", "5")], search)["callbacks"][1]
    {'class_path': 'LearningRateMonitor'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.config.load import apply_overrides
from lightning_nas.config.node_places import config_names
from lightning_nas.config.nodes import is_node, target_path
from lightning_nas.errors import ConfigError

__all__ = ["given_trainer", "kept_limits", "search_names", "trainer_arch"]

#: what a fine-tune's whole ``--trainer=`` is merged over, as its refusal says it
_SETTINGS = ("the search's Trainer settings (best_config.yaml's, as the best trial trained "
             "with them)")


def given_trainer(own: Mapping[str, Any] | None, pairs: Sequence[tuple[str, str]],
                  base: Mapping[str, Any] | None = None, objects: Sequence[str] = ()
                  ) -> dict[str, Any] | None:
    """The Trainer arguments a fine-tune is given: ``own`` (``finetune(trainer=...)``'s,
    each in place of the search's), then those the ``--trainer.*`` overrides ``pairs``
    (``split_overrides``' pairs) set, each merged over ``base`` (the search's Trainer
    settings as the best trial trained with them; None: over nothing, as typed, for the
    checks made before the run is read) with ``own`` over it. Returns ``own`` where no
    override is given.

    Example:
        >>> given_trainer({"max_epochs": 2}, [("trainer.strategy.init_args.static_graph",
        ...               "true")], {"strategy": {"class_path": "DDPStrategy"}})
        {'max_epochs': 2, 'strategy': {'class_path': 'DDPStrategy', 'init_args': \
{'static_graph': True}}}

    Raises:
        ConfigError: for an override into an argument of ``objects`` (those the search was
            given as objects, which the store cannot keep: nothing of them to append to or
            set a key in) before one gives it whole, and for a ``--trainer=`` that is no
            mapping (``apply_overrides``).
    """
    if not pairs:
        return None if own is None else dict(own)
    whole: set[str] = set()
    for key, text in pairs:
        if key.split(".")[0] != "trainer":  # (lightning-nas finetune splits off the others)
            raise ConfigError(f"--{key}: not a Trainer override; give --trainer.KEY=VALUE")
        name = key.split(".")[1].rstrip("+") if "." in key else ""
        if name in objects and name not in whole and (key.endswith("+") or key.count(".") > 1):
            raise ConfigError(f"--{key}: the search gave trainer.{name} as objects, which the "
                              f"store cannot keep, so the fine-tune has none of them to "
                              f"{'append to' if key.endswith('+') else 'set a key in'}; give "
                              f"the whole value first, --trainer.{name}=[...]")
        if key == "trainer":  # --trainer='{callbacks: [...]}' (a file of it): each argument
            # it holds given whole (was: only --trainer.callbacks=, an append after it refused)
            whole |= set(apply_overrides({}, [f"--{key}={text}"], settings=_SETTINGS)["trainer"])
        whole |= {name} if key == f"trainer.{name}" else set()
    merged = apply_overrides({"trainer": {**(base or {}), **(own or {})}},  # a whole
                             [f"--{key}={text}" for key, text in pairs],  # one,
                             settings=_SETTINGS)["trainer"]
    # --trainer='{...}', merged as LightningCLI merges it (no mapping: refused there, named)
    given = {name for key, _ in pairs for name in (
        [key.split(".")[1].rstrip("+")] if "." in key else merged)}
    return {**(own or {}), **{name: merged[name] for name in given if name in merged}}


def kept_limits(given: Mapping[str, Any] | None, trainer: Mapping[str, Any],
                trained: int | None = None) -> str | None:
    """What a fine-tune given its epochs as a Trainer setting (``given``: ``trainer={
    "max_epochs": N}``, ``--trainer.max_epochs N``) is told of the search's ``max_steps`` and
    ``max_time`` that its ``trainer`` keeps (LightningCLI's merge replaces only the keys
    given; ``finetune(max_epochs=N)`` drops them), where they limit it: they may end it
    before its ``N`` epochs. ``trained``: the epochs the best trial trained under them. None
    where nothing is kept, or the epochs are not given so (or are ``-1``, no limit).

    Example:
        >>> kept_limits({"max_epochs": 4}, {"max_epochs": 4, "max_steps": 6}, 2)[:41]
        "trainer's max_epochs=4 keeps the search's"
        >>> kept_limits({"max_epochs": 4, "max_steps": -1}, {"max_epochs": 4, "max_steps": -1})
    """
    epochs = (given or {}).get("max_epochs")
    kept = {key: trainer[key] for key in ("max_steps", "max_time")
            if key not in (given or {}) and trainer.get(key) not in (None, -1)}
    if not kept or not isinstance(epochs, int) or epochs < 1:
        return None
    said = " and ".join(f"{key}={value!r}" for key, value in kept.items())
    under = (f" (the best trial trained {trained} epochs under it)"
             if "max_steps" in kept and trained is not None and trained < epochs else "")
    unset = " and ".join({"max_steps": "max_steps: -1", "max_time": "max_time: null"}[key]
                         for key in kept)
    return (f"trainer's max_epochs={epochs} keeps the search's {said} (a Trainer setting "
            f"replaces only its own key, as LightningCLI merges it), which may end the "
            f"fine-tune before its {epochs} epochs{under}; to train {epochs} epochs, give "
            f"max_epochs={epochs} instead (--max_epochs {epochs}), which drops them, or "
            f"{unset} in trainer; to keep them without this word, give them in trainer too")


def trainer_arch(arch: Mapping[str, Any], searched: Mapping[str, Any],
                 trainer: Mapping[str, Any], trial: int) -> dict[str, Any]:
    """The architecture a fine-tune says it trained: ``arch`` (the best trial's), with each
    searched ``trainer.NAME`` that the fine-tune's Trainer settings ``trainer`` set to
    another value than the trial's (``searched``: the trial's own settings) taken from
    ``trainer`` (a plain value; another, a node or an object, left out), each said in a
    warning, as ``finetune_inputs.finetune_arch`` says a model argument given (was: the
    trial's value named in the fine-tune's result, its printed line and its logged
    hyperparameters, while it trained with the one given).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     trainer_arch({"width": 8, "trainer.accumulate_grad_batches": 2},
        ...                  {"accumulate_grad_batches": 2}, {"accumulate_grad_batches": 1}, 3)
        {'width': 8, 'trainer.accumulate_grad_batches': 1}
    """
    from lightning_nas.user_warnings import warn_user

    out = dict(arch)
    for key, value in arch.items():
        name = key.split(".", 1)[1] if key.startswith("trainer.") else ""
        if not name or "." in name or name not in trainer:
            continue  # not a Trainer argument of its own (a key into a node: kept)
        now = trainer[name]
        if _same_taken(name, searched.get(name), now) or _same_taken(name, value, now):
            continue  # (compared as Lightning takes them: precision "32" is "32-true")
        plain = now is None or isinstance(now, (str, int, float, bool))
        warn_user(f"trainer {name}={now!r} replaces trial {trial}'s searched {key}="
                  f"{value!r} in the fine-tune" + ("" if plain else " (left out of its "
                                                   "architecture: not a plain value)"))
        if plain:
            out[key] = now
        else:
            del out[key]
    return out


def _same_taken(name: str, stored: Any, value: Any) -> bool:
    """Whether the Trainer takes ``name=value`` as ``name=stored`` (``search.trainer_spelling``:
    a precision's other spellings, a value at the signature's default as left out; was:
    compared as written, so ``precision="32-true"`` over a searched ``"32"`` was said to
    replace it)."""
    from lightning_nas.search.trainer_spelling import as_taken

    return _same(as_taken({name: stored}), as_taken({name: value}))


def _same(stored: Any, value: Any) -> bool:
    """Whether ``value`` equals ``stored`` (an object whose ``==`` is no bool is not)."""
    try:
        return bool(stored == value)
    except Exception:  # noqa: BLE001 - a tensor of several values, an object's own ==
        return False


def search_names(config: Any, searched: Mapping[str, Any], trainer: Mapping[str, Any]
                 ) -> dict[str, list[str]]:
    """The names the search's ``config`` (its stored one; None: a Python search's) gave the
    nodes of its Trainer lists (``config.node_places.config_names``), for a fine-tune's
    checks to name a node as written (``trainer.callbacks.ckpt``; was: ``[1]``, its place):
    of each list whose first nodes in the fine-tune's ``trainer`` build the classes of the
    best trial's (``searched``) in order (an argument set, a node appended, keep them; a
    list given whole in place of it names its nodes by their places).

    Example:
        >>> config = {"search": {"node_names": {"callbacks": ["stop"]}}}
        >>> stop, other = {"class_path": "m.Stop"}, {"class_path": "m.C"}
        >>> search_names(config, {"callbacks": [stop]}, {"callbacks": [stop, other]})
        {'callbacks': ['stop']}
        >>> search_names(config, {"callbacks": [stop]}, {"callbacks": [other]})
        {}
    """
    return {key: names for key, names in config_names(config).items()
            if _classes(trainer.get(key))[:len(names)] == _classes(searched.get(key))[
                :len(names)] and len(_classes(trainer.get(key))) >= len(names)}


def _classes(value: Any) -> list[Any]:
    """What each node of Trainer list ``value`` (one node alone too) builds: a node's import
    path, an object's class."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return [target_path(item) if is_node(item) else type(item) for item in items]
