"""The bundled examples' searches that the tests of ``test_examples`` and
``test_export_standalone`` read, each made once per test session by ``lightning-nas
search`` in the test process (conftest's ``shared_run``; was one search of each example per
file): one trial of one short epoch, what each of those tests asserts of a search holding
of its one trial. A test writes in their folders only what no other test reads.

Example:
    >>> import pytest
    >>> digits_run = pytest.fixture(name="digits_run")(digits_search_of)  # in a test module
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.launcher import ROOT

__all__ = ["REDUCED", "digits_search_of", "lightningcli_search_of", "searched"]

#: one trial of one short epoch: what the tests assert of a search holds of its one trial
#: (was: two trials)
REDUCED = ["--search.budget=1", "--trainer.max_epochs=1", "--trainer.limit_train_batches=3",
           "--trainer.limit_val_batches=2"]

SharedRun = Callable[[str, Callable[[Path], Any]], tuple[Path, Any]]


def searched(run: Path, *args: str) -> str:
    """``lightning-nas search ARGS --search.run_dir=RUN`` in this process (asserting that it
    exits 0): what it printed.

    Example:
        >>> searched(tmp_path / "run", "examples/digits/search.yaml")  # doctest: +SKIP
        'Searching DigitsCNN in ...'
    """
    from lightning_nas.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["search", *args, f"--search.run_dir={run}"])
    assert code == 0, out.getvalue()[-3000:]
    return out.getvalue()


def digits_search_of(shared_run: SharedRun) -> tuple[Path, str]:
    """The session's search of the digits example (``examples/digits/search.yaml``: one
    trial of one epoch of four batches): its run folder and what the command printed (was
    one search each for ``test_examples`` and ``test_export_standalone``)."""
    def make(folder: Path) -> str:
        return searched(folder / "run", str(ROOT / "examples" / "digits" / "search.yaml"),
                        "--search.budget=1", "--trainer.max_epochs=1",
                        "--trainer.limit_train_batches=4")

    folder, printed = shared_run("example_digits_search", make)
    return folder / "run", printed


def lightningcli_search_of(shared_run: SharedRun) -> tuple[Path, str]:
    """The session's search of the LightningCLI example (``examples/lightningcli``'s
    ``train.yaml`` and ``search.yaml``, ``REDUCED``): its run folder and what the command
    printed (was one search each for ``test_examples`` and ``test_export_standalone``)."""
    def make(folder: Path) -> str:
        configs = ROOT / "examples" / "lightningcli"
        return searched(folder / "run", str(configs / "train.yaml"),
                        str(configs / "search.yaml"), *REDUCED)

    folder, printed = shared_run("example_lightningcli_search", make)
    return folder / "run", printed
