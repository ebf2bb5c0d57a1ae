"""The store a DDP trial's ranks on one machine meet at, served by the process that starts
them (``lightning_nas.search.rendezvous``): its port is held while it is open, so no other
socket (another search's, another group's of a parallel search) is bound to it meanwhile.
Groups of ranks that meet there: ``test_ranks``."""

from __future__ import annotations

import socket

import pytest

from lightning_nas.search.rendezvous import Rendezvous


def _bind(address: str, port: int) -> None:
    """Bind and listen on ``address:port`` as a store of another process would."""
    with socket.create_server((address, port)):
        pass


def test_two_open_at_once_hold_two_ports_that_no_other_socket_can_take():
    with Rendezvous() as first, Rendezvous() as second:
        assert first.port != second.port  # two groups alive at once: two ports
        assert first.env == {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(first.port),
                             "TORCHELASTIC_RESTART_COUNT": "0",
                             "TORCHELASTIC_USE_AGENT_STORE": "True"}
        for address in ("127.0.0.1", ""):  # where rank 0 would have bound it, and everywhere
            with pytest.raises(OSError, match="in use"):
                _bind(address, first.port)
        port = first.port
    _bind("127.0.0.1", port)  # closed: free again


def test_it_listens_on_the_ipv4_loopback_alone_with_torch_s_classic_server():
    # was: torch's own listening socket, [::] (every address): it named every peer it
    # accepted, ::ffff:127.0.0.1 there, by asking the DNS server (no /etc/hosts line names
    # that form), and a query lost there held the store, and every rank, 5 s
    from torch.distributed import TCPStore

    with Rendezvous() as meeting:
        assert meeting.env["MASTER_ADDR"] == "127.0.0.1"
        with pytest.raises(OSError):  # refused (or no IPv6 at all): not served there
            socket.create_connection(("::1", meeting.port), timeout=5).close()
        client = TCPStore("127.0.0.1", meeting.port, is_master=False, wait_for_workers=False)
        client.set("rank0", "here")  # served on the address the ranks are sent to
        assert client.get("rank0") == b"here"
        if hasattr(TCPStore, "libuvBackend"):  # a torch that says which server it runs
            assert meeting._store.libuvBackend is False  # (libuv: no socket taken over before 2025)


def test_a_rank_of_an_older_torch_joins_it_as_its_agent_store_asks(monkeypatch):
    # torch < 2.4's env:// rendezvous under TORCHELASTIC_USE_AGENT_STORE reads
    # TORCHELASTIC_RESTART_COUNT (a KeyError without it: every DDP trial failed there) and
    # joins the store as a client under the attempt's prefix; this is that code path
    import os
    from datetime import timedelta

    from torch.distributed import PrefixStore, TCPStore

    with Rendezvous() as meeting:
        for name, value in meeting.env.items():
            monkeypatch.setenv(name, value)
        attempt = os.environ["TORCHELASTIC_RESTART_COUNT"]
        client = TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), 2, False,
                          timedelta(seconds=10))
        store = PrefixStore(f"/worker/attempt_{attempt}", client)
        store.set("rank0", "here")
        assert store.get("rank0") == b"here"
