"""What the tests of ``export_best``, ``load_best`` and ``finetune`` share
(``tests/test_export_*.py``) beside conftest's finished search (``finished_run``): a
process that holds a run folder as a search does, and the config search several of them
run.

Example:
    >>> CONFIG["search"]["space"]["model.width"]
    {'choice': [8, 16, 32]}
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["CONFIG", "hold_elsewhere"]


def hold_elsewhere(folder: Path) -> subprocess.Popen:
    """Another process that holds ``folder`` as a search does, once it says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lightning_nas.run_folder import "
         "hold_folder; h = hold_folder(sys.argv[1], ''); print('held', flush=True); "
         "time.sleep(120)", str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


#: a config search whose trials run with another seed than the config's, epochs set by the
#: scheduler, and space keys at paths into the config (model and data)
CONFIG = {
    "seed_everything": 5,
    "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
    "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
    "trainer": {"max_epochs": 4, "accelerator": "cpu", "devices": 1},
    "search": {"space": {"model.width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]},
                         "data.batch_size": {"choice": [16, 32]}},
               "optimizer": "RandomSearch", "budget": 2, "seed": 1, "scheduler": "asha",
               "max_epochs": 2, "eta": 2},
}
