"""``search/lifetime.py``: SIGTERM in a driver whose trials run elsewhere, and through a call
that replaces its handler (Ray's)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import pytest

from lightning_nas.search.lifetime import child_env, sigterm_exits, sigterm_kept, sigterm_received
from tests.helpers_ctrl_c import handled, kernel_handler


def test_sigterm_in_the_context_exits_143_and_is_forgotten_after_it():
    # was: the flag stayed set after the context, so a later inline search in the same
    # process would have taken a Ctrl-C for a SIGTERM
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as info, sigterm_exits():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10**6):  # the handler runs between bytecodes of the main thread
            pass
    assert info.value.code == 143
    assert not sigterm_received() and signal.getsignal(signal.SIGTERM) == before


def test_a_sigterm_exit_that_a_library_turned_into_another_still_exits_143():
    # was: exit code 1: Ray's wait() turns a handler's exception into its own SystemExit(1),
    # so a SIGTERM as a Ray search waited for its first actor exited 1
    with pytest.raises(SystemExit) as info, sigterm_exits():
        try:
            signal.raise_signal(signal.SIGTERM)
        except SystemExit:
            raise SystemExit(1) from None  # as Ray's wait() does
    assert info.value.code == 143


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's sigaction")
def test_the_sigterm_handler_a_call_replaced_is_put_back_and_given_what_it_took():
    # ray.shutdown leaves the default action beneath Python's handler, which Python still
    # reports; ray.init sets a handler of its own (sys.exit(15)) and a C++ one beneath it
    # (a dump, then abort): was, after a Ray search, Ray's handler in a script's, and beneath
    # it the default action; a SIGTERM as the search waited for Ray aborted it (exit 134)
    noted = []

    def note(signum, frame) -> None:
        noted.append(signum)

    with handled(signal.SIGTERM, note):
        pythons = kernel_handler(signal.SIGTERM)  # Python's C handler, which calls note
        with sigterm_kept():  # as ray.shutdown
            ctypes.CDLL(None).signal(signal.SIGTERM, 0)  # SIG_DFL beneath Python's
            assert kernel_handler(signal.SIGTERM) == 0
        assert kernel_handler(signal.SIGTERM) == pythons
        with pytest.raises(SystemExit) as info, sigterm_kept():  # as ray.init
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
            signal.raise_signal(signal.SIGTERM)  # its handler took it
        assert info.value.code == signal.SIGTERM
        assert noted == [signal.SIGTERM]  # given to the handler found before too
        assert signal.getsignal(signal.SIGTERM) is note
        assert kernel_handler(signal.SIGTERM) == pythons


def test_a_child_starts_without_the_torchrun_variables_of_its_caller(monkeypatch):
    # was: TORCHELASTIC_USE_AGENT_STORE (torchrun's, and a rank group's Rendezvous) passed
    # to a child that is no rank: a DDP fit of one device there joined, as a client, a store
    # that no process served on the port Lightning picked, and waited for it
    for name, value in {"RANK": "0", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x",
                        "TORCHELASTIC_USE_AGENT_STORE": "True"}.items():
        monkeypatch.setenv(name, value)
    env = child_env()
    assert [name for name in ("RANK", "MASTER_PORT", "TORCHELASTIC_RUN_ID",
                              "TORCHELASTIC_USE_AGENT_STORE") if name in env] == []
