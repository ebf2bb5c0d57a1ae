"""The search process's end of a process pool's warning relay (``search/pool_relay.py``):
what a trial sends is held in order, and ``close`` ends whatever its accepting thread is
doing, never waiting on it."""

from __future__ import annotations

import os
import socket
import threading
import warnings

from lightning_nas.search.pool_relay import PoolRelay


def test_what_a_trial_sends_is_held_in_order_and_close_removes_the_socket():
    relay = PoolRelay()
    send = relay.sender()
    assert send("one", UserWarning) and send("two", DeprecationWarning)
    assert relay.take() == [("one", UserWarning), ("two", DeprecationWarning)]
    relay.close()
    assert not os.path.exists(relay.address)


def test_close_returns_while_the_accepting_thread_waits_after_a_peer_that_failed():
    # was: close() woke the accepting thread with a connection of its own that waited for
    # the handshake; a thread waiting after a failed peer (or not yet started) saw the relay
    # closed and ended without answering it, and close() hung for ever (a doctest of the
    # module hung a whole test run under load)
    relay = PoolRelay()
    with socket.socket(socket.AF_UNIX) as peer:  # connects, fails the handshake, goes
        peer.connect(relay.address)
    closed = threading.Event()
    threading.Thread(target=lambda: (relay.close(), closed.set()), daemon=True).start()
    assert closed.wait(10), "PoolRelay.close() is still waiting for its accepting thread"


def test_close_returns_when_it_comes_before_the_accepting_thread_ever_ran():
    for _ in range(20):  # (the thread may not have run yet when close is called at once)
        relay = PoolRelay()
        closed = threading.Event()
        threading.Thread(target=lambda r=relay, c=closed: (r.close(), c.set()),
                         daemon=True).start()
        assert closed.wait(10), "PoolRelay.close() is still waiting for its accepting thread"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        relay.close()  # a second close: nothing
