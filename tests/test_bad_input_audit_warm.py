"""Bad ``warm_start`` settings of the digits example's search, with a finished short run of
it as the earlier run: each ends with exit status 2 and one stderr line naming the setting
and what it takes, before any trial; the earlier run's ``search.db`` is only read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from tests.helpers_bad_input import EXAMPLES, finished_digits_run

torch.set_num_threads(1)

PREFIX = "lightning-nas search: error: "


@pytest.fixture(scope="module")
def finished_digits(tmp_path_factory) -> Path:
    """The ``search.db`` of a finished run of the digits example (one trial, short)."""
    return finished_digits_run(tmp_path_factory.mktemp("finished") / "run")


# warm_start changes, with the finished digits run as the earlier run ({warm}: its folder)
WARM_CASES = {
    "fill-unknown-key": ({"warm_start": ["{warm}"], "warm_start_fill": {"widht": 3}},
                         "warm_start_fill key 'widht' is not a key of the search space; keys: "
                         "kernel_size, stride, pool_size, num_layers, activation, width, lr"),
    "fill-outside-space": ({"warm_start": ["{warm}"], "warm_start_fill": {"width": 3}},
                           "warm_start_fill width=3 is outside the space (an integer in "
                           "[16, 128] (log))"),
    "fill-not-mapping": ({"warm_start": ["{warm}"], "warm_start_fill": "x"},
                         "`warm_start_fill` must map space keys to values, got 'x'"),
    "retrain-above-budget": ({"warm_start": ["{warm}"], "retrain_top_k": 50},
                             "`retrain_top_k`=50 is more than `budget`=20"),
    "retrain-str": ({"warm_start": ["{warm}"], "retrain_top_k": "2"},
                    "`retrain_top_k` must be an integer >= 0, got '2'"),
    "twice": ({"warm_start": ["{warm}", "{warm}"]}, "warm_start names the folder"),
    "a-file": ({"warm_start": [str(EXAMPLES / "digits" / "search.yaml")]},
               "is a file, not a run folder; give folders of earlier searches"),
    "list-of-int": ({"warm_start": [3]}, "`warm_start` must be a list of run directories"),
    "other-scale": ({"warm_start": ["{warm}"], "monitor": "val_loss", "mode": "min"},
                    "scored val_acc (max), not this search's val_loss (min)"),
    "itself": ({"warm_start": ["{run}"]}, "warm_start names this search's own run_dir"),
}


@pytest.mark.parametrize("case", list(WARM_CASES))
def test_bad_warm_start_fails_before_training(case, tmp_path, capsys, finished_digits):
    settings, said = WARM_CASES[case]
    run_dir = tmp_path / "run"
    names = {"warm": str(finished_digits.parent), "run": str(run_dir)}
    cfg = yaml.safe_load((EXAMPLES / "digits" / "search.yaml").read_text())
    for key, value in settings.items():
        cfg["search"][key] = ([v.format(**names) if isinstance(v, str) else v for v in value]
                              if key == "warm_start" else value)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    before = finished_digits.read_bytes()
    code = main(["search", str(tmp_path / "c.yaml"), f"--search.run_dir={run_dir}"])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith(PREFIX) and err.count("\n") == 1, (out, err)
    assert said in err, err
    assert "[trial" not in out and not run_dir.exists()
    assert finished_digits.read_bytes() == before  # the earlier run, read only
