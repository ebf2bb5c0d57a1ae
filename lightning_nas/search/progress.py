"""Search-level progress: a tqdm bar (trials done / budget, best so far, ETA) on a terminal,
plain lines otherwise.

Example:
    >>> progress = Progress(total=3, enabled=False)
    >>> progress.line("[trial 1 | 1/3 done] val_acc=0.9")
    [trial 1 | 1/3 done] val_acc=0.9
    >>> progress.close()
"""

from __future__ import annotations

import sys
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.results import format_score

__all__ = ["Progress"]


class Progress:
    """One bar for the whole search, in Lightning's tqdm style.

    Args:
        total: the budget (None: no ETA).
        enabled: ``True``, ``False``, or ``"auto"`` (a bar only when stderr is a terminal).
        initial: trials already done (a resumed search).
        file: where the bar is drawn (default: stderr).
    """

    def __init__(self, total: int | None, enabled: bool | str = "auto", initial: int = 0,
                 file: Any = None) -> None:
        if enabled not in (True, False, "auto"):
            raise ConfigError(f"progress can be true, false, auto; got {enabled!r}")
        file = file or sys.stderr
        if enabled == "auto":
            enabled = file.isatty()
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm  # a dependency of Lightning

            self.bar = tqdm(total=total, initial=initial, desc="Search", unit="trial",
                            dynamic_ncols=True, file=file, leave=True)

    def line(self, text: str) -> None:
        """Print a line above the bar (or plainly)."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def update(self, done: int, best: float | None, name: str) -> None:
        """Set the trials done and the best value so far."""
        if self.bar is None:
            return
        self.bar.n = done
        if best is not None:
            self.bar.set_postfix_str(f"best {name}={format_score(best)}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
