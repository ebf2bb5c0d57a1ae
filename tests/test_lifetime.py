"""``search/lifetime.py``: SIGTERM in a driver whose trials run elsewhere."""

from __future__ import annotations

import os
import signal

import pytest

from lightning_nas.search.lifetime import sigterm_exits, sigterm_received


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
