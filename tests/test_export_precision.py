"""A search from Python whose Trainer trains and validates in another precision than
float32 (``trainer.precision: bf16-mixed``, ``16-mixed``, ...) scores its trials in it:
``best.yaml`` records the precision (``precision``), the one ``best.ckpt`` validated again
in gives its score back (``best_config.yaml`` carries it for a config run; a Python search
writes none). A search in float32 records none. Real Trainers, a tiny MLP on the blobs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_nas import Search, load_best
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet
from tests.helpers_runs import assert_scores_as_exported, one_thread

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False}

threads = pytest.fixture(autouse=True)(one_thread)


def _search(run: Path, space: dict | None = None, **trainer) -> dict:
    Search(TinyNet, space or {"width": {"choice": [4, 8]}}, data=BlobData,
           data_init_args={"batch_size": 16}, seed=0, monitor="val_acc", mode="max",
           run_dir=run, verbose=False, budget=2, trainer={**TRAINER, **trainer}).run()
    return yaml.safe_load((run / "best.yaml").read_text())


def test_a_bf16_searchs_best_yaml_records_the_precision_of_its_score(tmp_path):
    # was: best.yaml held the bf16-mixed score and said nothing of the precision; a
    # Python search writes no best_config.yaml, so nothing in the run folder said it
    best = _search(tmp_path, precision="bf16-mixed")
    assert best["precision"] == "bf16-mixed"
    assert not (tmp_path / "best_config.yaml").exists()
    assert_scores_as_exported(tmp_path, batch_size=16, precision=best["precision"])


def test_a_searched_precision_is_recorded_as_the_exported_trials(tmp_path):
    best = _search(tmp_path, space={"width": {"choice": [4]},
                                    "trainer.precision": {"choice": ["bf16-mixed", "32-true"]}})
    chosen = best["arch"]["trainer.precision"]
    assert best.get("precision") == (None if chosen == "32-true" else chosen)


@pytest.mark.parametrize("precision", [None, "32-true", 32])
def test_a_float32_search_records_no_precision(tmp_path, precision):
    best = _search(tmp_path, **({} if precision is None else {"precision": precision}))
    assert "precision" not in best


def test_best_ckpt_validated_in_the_trials_precision_gives_best_yamls_metrics(tmp_path):
    # what the README says of best.yaml's score: the trial's validation under its Trainer's
    # precision (bf16-mixed on CPU); export copies it and validates nothing again, and a
    # validation of best.ckpt in that precision, on the same data, gives it back exactly
    import lightning.pytorch as pl

    trainer = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "precision": "bf16-mixed"}
    Search(TinyNet, {"width": {"choice": [8, 16]}}, data=BlobData, trainer=trainer, budget=1,
           monitor="val_loss", mode="min", run_dir=tmp_path, verbose=False).run()
    best = load_best(tmp_path)
    with RunStore(tmp_path / "search.db") as store:
        precision = store.get_meta("trainer")["precision"]
    again = pl.Trainer(accelerator="cpu", devices=1, precision=precision, logger=False,
                       enable_progress_bar=False, enable_model_summary=False).validate(
        TinyNet.load_from_checkpoint(tmp_path / "best.ckpt"), datamodule=BlobData(),
        verbose=False)[0]
    assert again == {k: best["metrics"][k] for k in ("val_loss", "val_acc")}
    assert again["val_loss"] == best["score"]


_PLUGINS = "lightning.pytorch.plugins.precision."
_MIXED = {"class_path": f"{_PLUGINS}MixedPrecision",
          "init_args": {"precision": "bf16-mixed", "device": "cpu"}}


@pytest.mark.parametrize("plugins, searched", [
    ([_MIXED], [{"class_path": f"{_PLUGINS}MixedPrecision"}]),  # merged over the config's
    (None, {"class_path": f"{_PLUGINS}DoublePrecision"}),  # a searched plugin alone
], ids=["merged", "searched"])
def test_the_precision_a_trial_is_said_to_be_scored_in_is_its_built_trainers(
        tmp_path, plugins, searched):
    # was: precision_of read `precision` alone, over the searched values set in place
    # of the config's (trial_trainer), not the settings the trial's Trainer is built from
    from lightning_nas.config.factories import DataFactory, ModelFactory
    from lightning_nas.score_precision import precision_of
    from lightning_nas.search.dry_builds import dry_spec
    from lightning_nas.search.template import TrialTemplate
    from lightning_nas.search.trial import build_trainer

    settings = {**TRAINER, **({} if plugins is None else {"plugins": plugins})}
    arch = {"width": 4, "trainer.plugins": searched}
    template = TrialTemplate(ModelFactory("tests.helpers.TinyNet", {}),
                             DataFactory("tests.helpers.BlobData", {}), settings)
    built = build_trainer(dry_spec(template.spec(0, arch, dry=True), str(tmp_path)), [])
    assert built.precision != "32-true"
    assert precision_of(arch, settings) == built.precision


def test_a_searched_argument_of_a_named_precision_plugin_is_the_precision_recorded(tmp_path):
    # a config's mapping of named plugins, searched by the node's name: best.yaml says the
    # precision the trial trained in (was: the config's node read without the name's
    # place, `precision: bf16-true` for a trial of 16-true)
    from lightning_nas.config.load import load_config
    from lightning_nas.search.from_config import search_from_config

    half = {"class_path": f"{_PLUGINS}HalfPrecision", "init_args": {"precision": "bf16-true"}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 16}},
        "trainer": {**TRAINER, "enable_progress_bar": False, "plugins": {"half": half}},
        "search": {"space": {"width": {"choice": [4, 8]},
                             "trainer.plugins.half.precision": {"fixed": "16-true"}},
                   "budget": 1, "monitor": "val_acc", "mode": "max", "seed": 0,
                   "verbose": False, "run_dir": str(tmp_path / "run")}}))
    search_from_config(load_config(tmp_path / "nas.yaml", [])).run()
    best = load_best(tmp_path / "run")
    assert best["arch"]["trainer.plugins.half.precision"] == "16-true"
    assert best["precision"] == "16-true"
