"""A Ray trial's warnings said by the search process as they are made, not when the trial
ends: ``RayRelay``, a small actor (no CPU, no torch) that holds what the trials' actors send
it (``sender``, under the search process's console) until the search process takes it
(``take_said``) while it waits for results.

A warning made in a trial's first epoch of a long fit was said only with the trial's result
(``relayed.run_relayed``: a Ray actor's came back with it), minutes after it was made; now
it is said within a fraction of a second (``POLL`` seconds at most, as the search waits).

Example:
    >>> RayRelay().take()  # nothing sent: nothing to say
    []
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["POLL", "RayRelay", "sender", "take_said"]

#: seconds between two looks at the relay while the search waits for a trial's result
POLL = 0.25


class RayRelay:
    """The Ray actor that holds the warnings the trials' actors send, each pickled (its
    category may be a class of a module this actor does not import), until taken.

    Example:
        >>> relay = RayRelay()
        >>> relay.put(b"said")
        >>> relay.take(), relay.take()
        ([b'said'], [])
    """

    def __init__(self) -> None:
        self.items: list[bytes] = []

    def put(self, item: bytes) -> None:
        """Hold ``item`` (a warning, ``(text, category)`` pickled)."""
        self.items.append(item)

    def take(self) -> list[bytes]:
        """The items held, in the order sent; none is held after."""
        items, self.items = self.items, []
        return items


def sender(relay: Any) -> Callable[[str, type[Warning]], bool]:
    """The function a trial's actor sends each warning with, to ``relay`` (a ``RayRelay``
    actor's handle), waiting until it holds it (so it is there before the trial's result
    is): it returns whether it was sent (False: the relay gone, e.g. the search ended; the
    warning then comes back with the result, as before).

    Example:
        >>> send = sender(relay)  # doctest: +SKIP
        >>> send("look", UserWarning)  # doctest: +SKIP
        True
    """
    import ray
    from ray import cloudpickle

    def send(text: str, category: type[Warning]) -> bool:
        try:
            ray.get(relay.put.remote(cloudpickle.dumps((text, category))))
        except Exception:  # noqa: BLE001 - any Ray error: it comes back with the result
            return False
        return True

    return send


def take_said(relay: Any) -> list[tuple[str, type[Warning]]] | None:
    """The warnings ``relay`` holds (taken from it), in the order made; None where it
    cannot be reached (dead: the trials' warnings come back with their results then).

    Example:
        >>> take_said(relay)  # doctest: +SKIP
        [('fit on an actor', <class 'UserWarning'>)]
    """
    import ray
    from ray import cloudpickle

    try:
        items = ray.get(relay.take.remote())
    except ray.exceptions.RayError:
        return None
    return [cloudpickle.loads(item) for item in items]
