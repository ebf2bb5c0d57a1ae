"""A dataclass instance given from Python as a model's or data's argument
(``model_init_args={"net": NetConfig(hidden=2, depth=5)}``), kept as data: its class's import
path and the fields its ``__init__`` takes (``instance_record``), which build it again
(``rebuilt``, for ``finetune``), and which a config node says where LightningCLI builds the
same instance from them (``node_fields``; ``unwritten_note`` says why not elsewhere). Was:
an object the store could not keep, left out of ``best.yaml``'s ``model`` node, so
LightningCLI built the signature default instead of what the trial trained. A dict of such
instances (``nets={"a": NetConfig(depth=2)}`` for ``nets: dict[str, NetConfig]``) is kept
so too: ``{"classes": {key: import path}, "init_args": {key: fields}}`` (was: an object,
left out of the node, so LightningCLI built ``nets=None``), and so is one that mixes them
with plain values (``{"a": NetConfig(hidden=4), "b": {"hidden": 6}}``), each plain value as
it is, its class null (was: no record, so ``finetune`` asked for it again).

Example:
    >>> from lightning.pytorch.callbacks.progress.rich_progress import RichProgressBarTheme
    >>> record = instance_record(RichProgressBarTheme(time="bold"))
    >>> record["class_path"], record["init_args"]["time"]
    ('lightning.pytorch.callbacks.progress.rich_progress.RichProgressBarTheme', 'bold')
    >>> rebuilt(record) == RichProgressBarTheme(time="bold")
    True
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from lightning_nas.arch import is_plain
from lightning_nas.config.chain import init_hints
from lightning_nas.config.convert import convert, type_name
from lightning_nas.config.imports import import_object, object_path
from lightning_nas.config.records import (
    holds_instances,
    init_fields,
    is_instance,
    is_instances,
)
from lightning_nas.errors import ConfigError
from lightning_nas.store_json import dump_json

__all__ = ["instance_record", "instance_records", "node_fields", "rebuilt", "unwritten_note"]


def instance_record(value: Any) -> dict[str, Any] | None:
    """``{"class_path", "init_args"}`` of the dataclass instance ``value``: its class's import
    path and the fields its ``__init__`` takes, as JSON data, where they build an equal
    instance of its class again (``rebuilt``); of a mapping of them by ``str`` keys (some of
    its values plain data, kept as they are: their class null), ``{"classes",
    "init_args"}``, each instance's by its key, where each has one; None for
    another value, a class without an
    import path (defined in ``__main__``), fields that are no JSON data (a tensor) or that
    build another instance (a nested subclass instance, a NaN)."""
    if holds_instances(value) and all(isinstance(key, str) for key in value):
        return _dict_record(value)
    if not is_instance(value) or (path := object_path(type(value))) is None:
        return None
    fields = init_fields(value)
    if not is_plain(fields):
        return None
    record = {"class_path": path, "init_args": json.loads(dump_json(fields))}
    try:
        return record if _same(rebuilt(record), value) else None
    except Exception:  # noqa: BLE001 - a __post_init__ may raise anything: not kept
        return None


def instance_records(init_args: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``instance_record`` of each argument of ``init_args`` that has one, by name."""
    return {key: record for key, value in sorted(init_args.items())
            if (record := instance_record(value)) is not None}


def rebuilt(record: Mapping[str, Any]) -> Any:
    """The instance ``record`` keeps, built again from its fields (each converted to its
    field's annotation, a nested dataclass's mapping built as one, as jsonargparse builds it).

    Raises:
        ConfigError: its class no longer imports, or no longer takes those fields.
    """
    if "classes" in record:  # a dict of instances: each built again (a plain value: as is)
        return {key: rebuilt({"class_path": path, "init_args": record["init_args"][key]})
                if path is not None else copy.deepcopy(record["init_args"][key])
                for key, path in record["classes"].items()}
    cls = import_object(record["class_path"])
    built = convert(copy.deepcopy(dict(record["init_args"])), cls)
    if type(built) is not cls:
        raise ConfigError(f"the stored fields {dict(record['init_args'])!r:.80} no longer "
                          f"build {record['class_path']} (its fields changed since the search?)")
    return built


def node_fields(target: Callable[..., Any], name: str,
                record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fields to write at ``target``'s argument ``name`` in a ``class_path`` node, where
    LightningCLI builds the instance ``record`` keeps from them: the argument's annotation
    makes a mapping of all its fields that instance's class (the class itself, an
    ``Optional`` of it, a ``Union`` whose first class that takes the fields is it; of a dict
    mixing instances and plain values, what the trial's conversion built of it); None
    elsewhere (no annotation: a dict; a subclass of the annotated dataclass: the annotated
    one), or where its class no longer builds it.

    Example:
        >>> from lightning.pytorch.callbacks.progress.rich_progress import (
        ...     RichProgressBar, RichProgressBarTheme)
        >>> record = instance_record(RichProgressBarTheme())
        >>> node_fields(RichProgressBar, "theme", record)["time"]
        'dim'
        >>> node_fields(RichProgressBar, "console_kwargs", record) is None
        True
    """
    hint = init_hints(target).get(name)
    try:
        want = rebuilt(record)
    except ConfigError:
        return None
    fields = copy.deepcopy(dict(record["init_args"]))  # want as the trial built it: converted
    return fields if hint is not None and _same(convert(copy.deepcopy(fields), hint),
                                                convert(want, hint)) else None


def unwritten_note(section: str, name: str, target: Callable[..., Any] | None,
                   record: Mapping[str, Any]) -> str:
    """Why ``best.yaml``'s ``section`` node leaves out the instance ``record`` keeps of
    ``target``'s argument ``name`` (``node_fields`` gave None), and what builds it again.

    Example:
        >>> from lightning.pytorch.callbacks.progress.rich_progress import (
        ...     RichProgressBar, RichProgressBarTheme)
        >>> record = instance_record(RichProgressBarTheme())
        >>> print(unwritten_note("model", "console_kwargs", RichProgressBar, record))
        ... # doctest: +ELLIPSIS
        model_objects console_kwargs: a RichProgressBarTheme instance, which the model node...
    """
    paths = [path for path in record["classes"].values() if path is not None] if (
        "classes" in record) else [record["class_path"]]
    cls = " and ".join(sorted({path.rsplit(".", 1)[-1] for path in paths}))
    what = f"a dict of {cls} instances" if "classes" in record else f"a {cls} instance"
    hint = init_hints(target).get(name) if target is not None else None
    if hint is None:
        built = "a dict (the argument has no annotation)" if target is not None else (
            "nothing (the class no longer imports)")
    else:
        made = convert(copy.deepcopy(dict(record["init_args"])), hint)
        kind = "dict" if isinstance(made, Mapping) else type(made).__name__
        if is_instances(made):  # a dict of the annotated dataclass's (not a subclass's)
            kind = f"dict of {' and '.join(sorted({type(v).__name__ for v in made.values()}))}"
        built = f"a {kind} (the argument is annotated with {type_name(hint)})"
    again = f"{cls} from {dict(record['init_args'])!r:.80}" if "classes" in record else (
        f"{cls}(**{dict(record['init_args'])!r:.80})")
    return (f"{section}_objects {name}: {what}, which the {section} node cannot "
            f"say: LightningCLI builds {built} from a mapping of its fields there; finetune "
            f"builds it again from the store ({again})")


def _dict_record(value: Mapping[str, Any]) -> dict[str, Any] | None:
    """``instance_record`` of a mapping of dataclass instances (and plain data, each its
    own value, its class None): each one's class and fields by its key; None where an
    instance has none."""
    records = {key: instance_record(item) if is_instance(item) else {
        "class_path": None, "init_args": json.loads(dump_json(item))}
        for key, item in value.items()}
    if any(record is None or "classes" in record for record in records.values()):
        return None
    record = {"classes": {key: record["class_path"] for key, record in records.items()},
              "init_args": {key: record["init_args"] for key, record in records.items()}}
    try:
        return record if _same(rebuilt(record), value) else None
    except Exception:  # noqa: BLE001 - as instance_record's: not kept
        return None


def _same(built: Any, value: Any) -> bool:
    """Whether ``built`` is an instance of ``value``'s class with the same fields (a
    mapping of them: the same keys, each so; a plain value among them: equal)."""
    if holds_instances(value):
        return isinstance(built, Mapping) and set(built) == set(value) and all(
            _same(built[key], item) for key, item in value.items())
    if not is_instance(value):
        return type(built) is type(value) and built == value
    return type(built) is type(value) and init_fields(built) == init_fields(value)
