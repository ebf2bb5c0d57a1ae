"""A ``ProcessPoolExecutor``'s trial's warnings said by the search process as they are made,
not when the trial ends: ``PoolRelay``, a Unix socket of the search process (read by a
thread of its own) that the pool's trials send each warning to (``RelaySender``, under the
search process's console), each acknowledged once it is held, so that it is there before
the trial's result is; the search process says what it holds as it waits (``take``).

Example:
    >>> relay = PoolRelay()
    >>> relay.sender()("look", UserWarning)
    True
    >>> relay.take()
    [('look', <class 'UserWarning'>)]
    >>> relay.close()
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

__all__ = ["POLL", "PoolRelay", "RelaySender"]

#: seconds between two looks at what the pool's trials sent while the search waits
POLL = 0.25


class RelaySender:
    """What a pool's trial sends its warnings with (picklable: the socket's address and key;
    connected at its first warning): ``sender(text, category)`` returns whether the search
    process holds it (False: not reached; the warning then comes back with the result).

    Example:
        >>> RelaySender("/no/such/socket", b"key")("look", UserWarning)
        False
    """

    def __init__(self, address: str, authkey: bytes) -> None:
        self.address, self.authkey = address, authkey
        self._conn: Connection | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"address": self.address, "authkey": self.authkey}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["address"], state["authkey"])

    def __call__(self, text: str, category: type[Warning]) -> bool:
        try:
            if self._conn is None:
                self._conn = Client(self.address, family="AF_UNIX", authkey=self.authkey)
            self._conn.send((text, category))
            return bool(self._conn.recv())  # held there: before the trial's result
        except Exception:  # noqa: BLE001 - any failure: it comes back with the result
            self._conn = None
            return False


class PoolRelay:
    """The search process's end: a Unix socket in a temporary folder of its own, a thread
    that accepts the pool's trials and one per trial's connection that holds what it sends.

    Example:
        >>> relay = PoolRelay()
        >>> relay.take()
        []
        >>> relay.close()
    """

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="lnas-relay-")
        self.address, self._key = os.path.join(self._folder, "s"), os.urandom(16)
        try:
            self._listener = Listener(self.address, family="AF_UNIX", authkey=self._key)
        except BaseException:  # no Unix socket here (Windows: ValueError): no folder left
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self._held: queue.SimpleQueue[tuple[str, type[Warning]]] = queue.SimpleQueue()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="lnas-relay").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except Exception:  # noqa: BLE001 - a peer that failed the handshake; closed
                time.sleep(POLL)  # a broken socket: no busy loop while it keeps failing
                continue
            threading.Thread(target=self._hold, args=(conn,), daemon=True,
                             name="lnas-relay-conn").start()

    def _hold(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    item = conn.recv()
                except Exception:  # noqa: BLE001 - the trial's process ended (EOF)
                    return
                self._held.put(item)
                try:
                    conn.send(True)
                except OSError:
                    return

    def sender(self) -> RelaySender:
        """The sender a pool's trial is given."""
        return RelaySender(self.address, self._key)

    def take(self) -> list[tuple[str, type[Warning]]]:
        """The warnings held (taken), in the order they came."""
        taken = []
        while True:
            try:
                taken.append(self._held.get_nowait())
            except queue.Empty:
                return taken

    def close(self) -> None:
        """Stop accepting (a last connection of its own, a plain socket closed at once,
        wakes the accepting thread, which then fails its handshake and sees the relay
        closed) and remove the socket's folder. Was: a ``Client`` of its own, which waits
        for the handshake: where the thread had already ended (it waited after a peer that
        failed, or had not run yet, and then saw the relay closed), it waited for ever."""
        if self._closed:
            return
        self._closed = True
        try:
            with socket.socket(socket.AF_UNIX) as wake:
                wake.connect(self.address)
        except OSError:  # nothing listens: nothing to wake
            pass
        self._listener.close()
        shutil.rmtree(self._folder, ignore_errors=True)
