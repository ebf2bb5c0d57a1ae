"""What the tests of ``lightning_nas.space`` (``tests/test_space*.py``) share: the message of
a space refused as it is loaded from YAML.

Example:
    >>> "did you mean 'choice'" in load_error("k: {choise: [3, 5]}")
    True
"""

from __future__ import annotations

import pytest

from lightning_nas.errors import SpaceError
from lightning_nas.space import SearchSpace

__all__ = ["load_error"]


def load_error(text: str) -> str:
    """The message of the ``SpaceError`` that ``SearchSpace.from_yaml(text)`` raises (the
    test fails where it raises none)."""
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_yaml(text)
    return str(info.value)
