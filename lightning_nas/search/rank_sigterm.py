"""A DDP trial's rank sent SIGTERM on its own dies of it, as a process with SIGTERM's
default action does, so the driver names it (``rank 1 died (killed by SIGTERM)``), fails the
trial and ends the other ranks as for any rank that died.

Lightning's own SIGTERM handler, registered as ``fit`` starts to run its stage, broadcasts
from rank 0 inside the handler of the rank that got the signal: the other ranks never join
that broadcast, and the trial (the search with it) hung for ever; where the broadcast met
one of rank 0's, the rank ended its fit with Lightning's ``SIGTERMException`` (a
``SystemExit`` without a code: ``rank 1 died (exit code 0)``). ``SigtermKillsRank``, a
callback of a rank's Trainer alone (``ranks.execute_spec``), puts SIGTERM's default action
back in the first hooks that run after Lightning registered its handler
(``on_sanity_check_start``, ``on_train_start``); Lightning restores the handler it found
when the fit ends. Left as it was: a SIGTERM in the moment between that registration and
these hooks (Lightning's ``run-stage`` barrier; without a sanity check, the training data's
setup too) still meets Lightning's handler: sent to one rank alone, its broadcast may pair
with another collective of rank 0 and hang the trial; sent to every rank (a preemption),
their fits end with the ``SIGTERMException``, and ``ranks.execute_spec`` has each die of
SIGTERM, as workers do (was: ``rank 0 died (exit code 0)``). A search's own SIGTERM is
untouched: its ranks run in sessions of their own, and the search process's trials in it
get no such callback.

Example:
    >>> import signal
    >>> previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    >>> SigtermKillsRank().on_train_start(None, None)
    >>> signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    True
    >>> _ = signal.signal(signal.SIGTERM, previous)
"""

from __future__ import annotations

import signal
import sys
import threading

import lightning.pytorch as pl

__all__ = ["SigtermKillsRank"]


class SigtermKillsRank(pl.Callback):
    """Gives SIGTERM its default action back once Lightning registered its handler: the rank
    dies of the signal at once, in a collective or not (what it printed before the hook is
    flushed into its trial.log first)."""

    @staticmethod
    def _default() -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # (Lightning registers nothing there either)
        sys.stdout.flush()  # what the rank printed so far reaches its trial.log
        sys.stderr.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule
                              ) -> None:
        self._default()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._default()
