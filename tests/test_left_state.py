"""What a test or a command leaves in the process when it is done: ``lightning_nas.cli.main``
called from Python (as tests call it) leaves ``sys.path`` as it found it; a search run in a
notebook's process leaves torch's global flags and the caller's random streams as it found
them."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def _folder_config(folder, module: str) -> None:
    """``folder/cfg.yaml``, a search config whose model is ``MODULE.Net`` of ``folder``:
    ``ok.py`` (``TinyNet``) or ``boom.py`` (raises at import)."""
    (folder / "ok.py").write_text("from tests.helpers import TinyNet as Net\n")
    (folder / "boom.py").write_text("raise RuntimeError('boom at import')\n")
    (folder / "cfg.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": f"{module}.Net"},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1}}))


@pytest.mark.parametrize(("module", "raises"), [("ok", False), ("boom", True)])
def test_cli_main_takes_the_current_folder_off_sys_path_when_it_returns_or_raises(
        tmp_path, monkeypatch, capsys, module, raises):
    # main() makes the current folder importable (as `python -m` does) for class paths in
    # configs: a module of that folder imports, and then the folder is off sys.path again
    _folder_config(tmp_path, module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, module, raising=False)
    before = list(sys.path)
    if raises:
        with pytest.raises(RuntimeError, match="boom at import"):
            main(["search", "cfg.yaml", "--print_config"])
    else:
        assert main(["search", "cfg.yaml", "--print_config"]) == 0
        assert yaml.safe_load(capsys.readouterr().out)["model"]["class_path"] == "ok.Net"
    assert os.getcwd() not in sys.path
    assert sys.path == before


def test_cli_main_leaves_the_current_folder_on_sys_path_when_it_was_there(tmp_path,
                                                                          monkeypatch, capsys):
    _folder_config(tmp_path, "ok")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "ok", raising=False)
    before = list(sys.path)
    assert main(["search", "cfg.yaml", "--print_config"]) == 0
    assert sys.path == before


def _torch_flags() -> tuple:
    return (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))


def test_a_search_in_this_process_leaves_torchs_global_flags_as_it_found_them(
        tmp_path, monkeypatch):
    # each trial's Trainer sets them (Lightning's deterministic= and benchmark=); the trials
    # of worker processes never touched this process's, so neither do those run here
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = _torch_flags()
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 1,
               "limit_val_batches": 1, "deterministic": True}
    try:
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
               budget=1, run_dir=tmp_path / "run", verbose=False).run()
        after = _torch_flags()
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.benchmark = before[2]
    # was: (True, False, False, ':4096:8'): deterministic algorithms on after the search
    assert after == before


def _draws(seed: int) -> tuple[float, float, float]:
    """What ``random``, NumPy and torch draw next after each was seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return random.random(), float(np.random.rand()), torch.rand(1).item()


def test_a_seeded_search_in_this_process_leaves_the_callers_random_streams_where_they_were(
        tmp_path):
    # each trial seeds the process (seed_everything) and draws; then the caller's streams go
    # on where they were, as when the trials ran in worker processes
    expected = _draws(7)
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 1,
               "limit_val_batches": 1}
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer, budget=1,
           seed=3, run_dir=tmp_path / "run", verbose=False).run()
    # was: the streams of the last trial's seed_everything(3), after its training's draws
    assert (random.random(), float(np.random.rand()), torch.rand(1).item()) == expected
