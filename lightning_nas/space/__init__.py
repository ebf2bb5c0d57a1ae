"""Search spaces: what a search may choose, built in Python or loaded from YAML.

``SearchSpace`` maps names to parameters (``lightning_nas.space.params``): ``Choice``,
``Ordered``, ``Int``, ``Float``, ``Fixed``. An architecture is a plain dict with one value
per name (``lightning_nas.arch``).

Example:
    >>> SearchSpace.from_yaml("k: {choice: [3, 5, 7]}").size()
    3
"""

from lightning_nas.errors import SpaceError
from lightning_nas.space.params import KINDS, Choice, Fixed, Float, Int, Ordered, Param
from lightning_nas.space.search_space import SearchSpace

__all__ = ["KINDS", "Choice", "Fixed", "Float", "Int", "Ordered", "Param", "SearchSpace",
           "SpaceError"]
