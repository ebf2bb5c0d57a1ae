"""Where a DDP trial's ranks on this machine meet: a port this process holds for them.

Picking a free port by binding port 0 and closing the socket, then handing the number to
rank 0, which binds it when its first fit initializes the process group (torch's ``env://``
rendezvous; Lightning's ``find_free_network_port`` for its launcher), leaves the port free
for anyone in between: another search, another pytest-xdist worker's DDP test, another
thread's group of a parallel search. Rank 0 then failed with ``DistNetworkError: ...
EADDRINUSE``, after its peers had waited out the grace period: the trial FAILED, a budget
slot lost; and a rank 1 met whatever listened there (another group's store, as one of its
ranks). A ``Rendezvous`` is torchrun's answer (its agent's store): the process that starts
the ranks runs the store itself (a ``TCPStore`` server on a port the kernel picks and gives
no other socket while it is open) and every rank, rank 0 too, joins it as a client
(``TORCHELASTIC_USE_AGENT_STORE``). The port is held from its choice until the ranks are
done (``close``); two groups alive at once, in one process or two, never share one.

It listens on ``127.0.0.1`` alone, on a socket this process binds and hands over to
torch's classic server (``master_listen_fd``, ``use_libuv=False``: torch's libuv server
serves a socket handed to it only since 2025, pytorch PR 150215; before, it never accepted
there and the ranks waited). Was: torch's own socket, on ``[::]`` (every address, other
machines' too). torch names every peer it accepts (``getnameinfo`` without
``NI_NUMERICHOST``): there ``::ffff:127.0.0.1``, which ``/etc/hosts`` does not name, so the
DNS server was asked, for each rank and for this process's own client; a query lost there
(a resolver's 5 s timeout) held the store's one serving thread, and every rank with it, 5 s.
``127.0.0.1`` is named from ``/etc/hosts``. torch's clients (each rank's, this process's
own) still name the store they connect to that way: only the resolver's settings change
that (a local cache, ``RES_OPTIONS``). A torch without ``master_listen_fd`` has its server
bind a socket of its own, as before.

Example:
    >>> with Rendezvous() as meeting:
    ...     sorted(meeting.env)
    ['MASTER_ADDR', 'MASTER_PORT', 'TORCHELASTIC_RESTART_COUNT', 'TORCHELASTIC_USE_AGENT_STORE']
"""

from __future__ import annotations

import os
import socket
from typing import Any

__all__ = ["Rendezvous"]

#: the address the ranks reach the store at, and the only one it listens on
_ADDRESS = "127.0.0.1"


class Rendezvous:
    """The store of one group of ranks on this machine, served by this process until
    ``close`` (or the end of a ``with`` block): its ``port``, and ``env``, the variables
    that send the ranks' ``init_process_group`` to it.

    Example:
        >>> meeting = Rendezvous()
        >>> meeting.env["MASTER_PORT"] == str(meeting.port)
        True
        >>> meeting.close()
    """

    def __init__(self) -> None:
        from torch.distributed import TCPStore  # (the driver of DDP trials imported torch)

        self._socket: socket.socket | None = None
        if not _takes("master_listen_fd"):  # its server binds a socket of its own
            self._store: Any = TCPStore(_ADDRESS, 0, is_master=True, wait_for_workers=False)
            self.port: int = self._store.port
            return
        self._socket = socket.create_server((_ADDRESS, 0))
        self.port = self._socket.getsockname()[1]
        classic = {"use_libuv": False} if _takes("use_libuv") else {}
        try:  # the server's own descriptor of the socket: it closes that one
            self._store = TCPStore(_ADDRESS, self.port, is_master=True, wait_for_workers=False,
                                   master_listen_fd=os.dup(self._socket.fileno()), **classic)
        except BaseException:
            self._socket.close()
            raise

    @property
    def env(self) -> dict[str, str]:
        """``MASTER_ADDR``/``MASTER_PORT`` of the store, and torch's switch that has every
        rank join it as a client (none binds a port of its own for the group), with the
        ``TORCHELASTIC_RESTART_COUNT`` that torch before 2.4 reads beside that switch (was:
        a ``KeyError`` in every rank there)."""
        return {"MASTER_ADDR": _ADDRESS, "MASTER_PORT": str(self.port),
                "TORCHELASTIC_RESTART_COUNT": "0", "TORCHELASTIC_USE_AGENT_STORE": "True"}

    def close(self) -> None:
        """Stop serving the store: its port is free again (once the ranks are gone)."""
        self._store = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Rendezvous:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _takes(argument: str) -> bool:
    """Whether this torch's ``TCPStore`` takes ``argument`` (pybind11 writes its
    signature into the docstring)."""
    from torch.distributed import TCPStore

    return f"{argument}:" in (TCPStore.__init__.__doc__ or "")
