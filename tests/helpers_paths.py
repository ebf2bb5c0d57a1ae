"""The import path ``tests.helpers.NAME`` of what tests name by path.

Test configs and scripts name models, data, callbacks and builders by their import path
(``class_path: tests.helpers.TinyNet``, ``_target_``, ``Search("tests.helpers.BlobData")``)
and some tests read that path back (``object_path``, saved configs, messages). Their code
lives in topic modules (``tests.helpers_models`` and the like); ``at_helpers`` makes
``tests.helpers`` their module (``__module__``, as numpy's ``set_module`` does) and notes
their names, which ``tests.helpers`` re-exports.

Example:
    >>> from tests.helpers_models import TinyNet
    >>> TinyNet.__module__
    'tests.helpers'
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["AT_HELPERS", "at_helpers"]

T = TypeVar("T")

#: the names ``at_helpers`` marked: ``tests.helpers`` re-exports exactly these
AT_HELPERS: list[str] = []


def at_helpers(obj: T) -> T:
    """``obj`` (a module-level class or function), its import path ``tests.helpers.NAME``.

    Example:
        >>> from tests.helpers_data import make_blobs
        >>> "make_blobs" in AT_HELPERS
        True
    """
    obj.__module__ = "tests.helpers"
    AT_HELPERS.append(obj.__name__)
    return obj
