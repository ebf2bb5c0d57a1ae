"""YAML reading with YAML 1.2 numbers: ``1e-4`` is a float, as users mean it; and writing
that reads back the same.

PyYAML follows YAML 1.1, where a float needs a dot (``1.0e-4``) and ``1e-4`` is a string;
every YAML that lightning_nas reads (spaces, configs, overrides) goes through ``load_yaml``,
and every YAML it writes (``to_yaml``, ``best.yaml``, ``best_config.yaml``,
``--print_config``) through ``dump_yaml``, which quotes a string ``load_yaml`` would read as
something else (``'1e-3'``) and writes no anchors or aliases (``&id001``).
Given a ``source`` (a file name, an override), a syntax error is a ``ConfigError`` that says
where: ``search.yaml:3:5: expected ',' or ']', but got '}'``.

Example:
    >>> load_yaml("lr: 1e-4")
    {'lr': 0.0001}
    >>> load_yaml("{lr: 1, lr: 2}", source="nas.yaml")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: nas.yaml:1:9: found the key 'lr' twice (while reading ...
    >>> print(dump_yaml({"tag": "1e-3", "lr": 1e-3}), end="")
    tag: '1e-3'
    lr: 0.001
    >>> load_yaml("a: [1", source="nas.yaml")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: nas.yaml:1:6: expected ',' or ']', but got '<stream end>' ...
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from lightning_nas.errors import ConfigError

__all__ = ["dump_yaml", "load_yaml"]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose float resolver also matches ``1e-4``, ``3E5``, ``.5`` and ``-.5`` (was:
    ``.5`` alone; PyYAML reads ``-.5`` as a string, YAML 1.1 and 1.2 as a number), and that
    refuses a key written twice in one mapping (PyYAML keeps the last one without a word;
    keys a ``<<`` merge brings in may be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"found the key {key!r} twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_MERGE = "tag:yaml.org,2002:merge"


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in
                                   yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                 |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                 |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                 |[-+]?\.(?:inf|Inf|INF)
                 |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """SafeDumper that resolves plain scalars as ``_Loader`` does (so it quotes a string
    ``_Loader`` would read as a number) and writes a repeated object in full each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.yaml_implicit_resolvers = {k: list(v) for k, v in
                                   _Loader.yaml_implicit_resolvers.items()}


def dump_yaml(data: Any, **kwargs: Any) -> str:
    """YAML text of plain data that ``load_yaml`` reads back as ``data``.

    Args:
        data: plain data (mappings, lists, strings, numbers, bools, None).
        **kwargs: options of ``yaml.dump`` (default ``sort_keys=False``).
    """
    return yaml.dump(data, Dumper=_Dumper, **{"sort_keys": False, **kwargs})


def load_yaml(text: str, source: str | None = None) -> Any:
    """Parse YAML text safely, reading exponent numbers without a dot as floats.

    Args:
        text: the YAML text.
        source: where the text comes from; when given, a syntax error is a ``ConfigError``
            ``source:line:column: problem`` (else PyYAML's error propagates).
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        if source is None:
            raise
        raise ConfigError(_where(source, err)) from None


def _where(source: str, err: yaml.YAMLError) -> str:
    """``source:line:column: problem (context)`` of a YAML error, on one line."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    text = f"{problem} ({context})" if context else problem
    return f"{source}{at}: {' '.join(str(text).split())}"
