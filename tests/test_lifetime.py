"""``search/lifetime.py``: SIGTERM in a driver whose trials run elsewhere."""

from __future__ import annotations

import os
import signal

import pytest

from lightning_nas.search.lifetime import child_env, sigterm_exits, sigterm_received


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
