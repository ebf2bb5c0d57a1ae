"""A resumed search keeps the setup its trials ran with (``search/resume.py``): real
searches on real SQLite stores, refused before anything is written."""

from __future__ import annotations

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.resume import differences
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet

SPACE = {"a": {"int": [0, 50]}, "b": {"float": [0.0, 1.0]}, "c": {"choice": [1, 2, 3]}}


def _score(arch: dict) -> dict:
    return {"score": arch["a"] / 50 + arch["b"] + arch["c"] / 3}


def _objective_search(run_dir, space=SPACE, **kw) -> Search:
    kw = {"budget": 3, "seed": 0, "trainer": {"max_epochs": 1}, **kw}
    return Search(None, space, objective=_score, monitor="score", mode="max", run_dir=run_dir,
                  verbose=False, **kw)


def _meta(run_dir) -> dict:
    store = RunStore(run_dir / "search.db")
    try:
        return {k: store.get_meta(k) for k in ("seed", "settings", "trainer")}
    finally:
        store.close()


def test_a_resume_that_changes_how_trials_run_is_refused_and_writes_nothing(tmp_path):
    _objective_search(tmp_path).run()
    before = _meta(tmp_path)
    with pytest.raises(ConfigError) as info:
        _objective_search(tmp_path, budget=5, seed=5, optimizer="RandomSearch",
                          trainer={"max_epochs": 2, "logger": False}).run()
    msg = str(info.value)
    for needle in ("search.seed: 0, now 5", "search.optimizer: 'SurrogateEvolution', now "
                   "'RandomSearch'", "trainer.max_epochs: 1, now 2", "choose another run_dir"):
        assert needle in msg
    assert "logger" not in msg  # it changes what a trial shows, not what it trains
    assert _meta(tmp_path) == before
    assert len(_objective_search(tmp_path).run().trials) == 3  # nothing ran
    # budget, failures tolerated and output settings may change
    resumed = _objective_search(tmp_path, budget=5, max_failures=0,
                                trainer={"max_epochs": 1, "logger": False}).run()
    assert len(resumed.trials) == 5


def test_a_resume_with_other_model_arguments_is_refused(tmp_path, tiny_space, tiny_trainer):
    def search(**init_args):
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                      run_dir=tmp_path, verbose=False, model_init_args=init_args)

    search(lr=0.05).run()
    with pytest.raises(ConfigError, match=r"model.init_args.lr: 0.05, now 0.1"):
        search(lr=0.1).run()


def test_the_same_space_in_another_key_order_resumes_exactly(tmp_path):
    whole = _objective_search(tmp_path / "whole", budget=8).run()
    _objective_search(tmp_path / "cut", budget=4).run()
    reordered = {k: SPACE[k] for k in ("c", "b", "a")}
    resumed = _objective_search(tmp_path / "cut", space=reordered, budget=8).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in whole.trials]


def test_differences_read_nested_nodes_and_skip_what_an_older_store_lacks():
    stored = {"config": {"model": {"class_path": "m.M", "init_args": {"net": {"w": 8}}}},
              "trainer": {"max_epochs": 3, "enable_progress_bar": True}}
    current = {"settings": {"seed": 1}, "model": {}, "data": {}, "config": {
        "model": {"class_path": "m.M", "init_args": {"net": {"w": 16}}}},
        "trainer": {"max_epochs": 3, "enable_progress_bar": False}}
    assert differences(stored, current) == ["model.init_args.net.w: 8, now 16"]
