"""``Search(..., cli=MyCLI)`` from Python: the ``link_arguments`` of a project's
LightningCLI subclass applied in every trial, in ``best.yaml``, ``best_config.yaml`` and a
fine-tune, and refused before training where a config's ``search.cli`` is
(``lightning_nas.search.python_cli``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightning.pytorch.cli import LightningCLI

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.export import finetune
from tests.helpers_cli_links import LinkCLI, SeenWidthNet
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"data.n": {"choice": [32, 64]}}
DATA_ARGS = {"n": 32, "batch_size": 8, "shuffle": False}
TRAINER = {"max_epochs": 1, "limit_train_batches": 1}


def _search(run_dir: Path, **given) -> Search:
    """``link_config``'s search from Python: ``SeenWidthNet`` on ``BlobData``, whose
    searched ``n`` reaches the model's width through ``LinkCLI``."""
    kwargs = {"data": BlobData, "model_init_args": {"lr": 0.1}, "data_init_args": DATA_ARGS,
              "trainer": TRAINER, "cli": LinkCLI, "optimizer": "RandomSearch", "budget": 2,
              "seed": 7, "run_dir": run_dir, "verbose": False, **given}
    return Search(kwargs.pop("model", SeenWidthNet), kwargs.pop("space", SPACE), **kwargs)


@pytest.fixture(scope="module")
def linked_run(tmp_path_factory) -> tuple[Path, object]:
    """Two trials of a Python search with ``cli=LinkCLI``."""
    run_dir = tmp_path_factory.mktemp("python_links") / "run"
    return run_dir, _search(run_dir).run()


def test_a_python_search_applies_the_clis_links_in_each_trial(linked_run, tmp_path):
    # was: refused, "unknown search setting 'cli'": a project whose CLI links arguments
    # had to write a YAML config to search
    run_dir, result = linked_run
    assert len(result.trials) == 2
    for trial in result.trials:  # width = n // batch_size, depth = max_epochs
        assert (trial.metrics["seen_width"], trial.metrics["seen_depth"]) == (
            trial.arch["data.n"] // 8, 1.0), trial.arch
    best = result.best
    node = yaml.safe_load((run_dir / "best.yaml").read_text())["model"]["init_args"]
    assert (node["width"], node["depth"]) == (best.arch["data.n"] // 8, 1), node
    text = (run_dir / "best_config.yaml").read_text()
    assert [line for line in text.splitlines() if line.startswith("# lightning-nas fit:")
            ][0].endswith(" cli=tests.helpers_cli_links.LinkCLI"), text
    tuned = finetune(run_dir, max_epochs=1, out_dir=tmp_path / "tune")
    assert tuned.error is None, tuned.error
    assert (tuned.metrics["seen_width"], tuned.metrics["seen_depth"]) == (
        best.metrics["seen_width"], best.metrics["seen_depth"])


def test_an_import_path_is_the_same_as_the_class(tmp_path):
    search = _search(tmp_path / "run", cli="tests.helpers_cli_links.LinkCLI",
                     model="tests.helpers_cli_links.SeenWidthNet")
    assert search.model.target.config({"data.n": 64})["init_args"] == {
        "lr": 0.1, "width": 8, "depth": 1}


def test_a_resume_with_another_cli_is_refused(linked_run):
    run_dir, _ = linked_run
    with pytest.raises(ConfigError, match=r"search\.cli: 'tests\.helpers_cli_links\.LinkCLI', "
                                          r"now 'tests\.helpers_cli_links\.NoLinkCLI'"):
        _search(run_dir, cli="tests.helpers_cli_links.NoLinkCLI").run()


class _NotebookCLI(LightningCLI):  # given its module below: as if defined in __main__
    pass


_NotebookCLI.__module__ = "__main__"


def _local_builder(arch):
    return SeenWidthNet(**arch)


@pytest.mark.parametrize(("given", "words"), [
    ({"cli": _NotebookCLI}, "cli=_NotebookCLI has no import path (defined in __main__, a "
                            "notebook, or in a function)"),
    ({"cli": TinyNet}, "cli=TinyNet is not a subclass of lightning.pytorch.cli.LightningCLI"),
    ({"cli": "tests.helpers.TinyNet"}, "cli=tests.helpers.TinyNet is <class 'tests."
                                       "helpers.TinyNet'>, not a subclass of lightning."
                                       "pytorch.cli.LightningCLI"),
    ({"cli": "tests.helpers_cli_links.Nowhere"}, "cli=tests.helpers_cli_links.Nowhere: "),
    ({"cli": 3}, "cli must be your LightningCLI subclass or its import path"),
    ({"model": _local_builder}, "cli= applies its links to the model as your CLI builds it"),
    ({"model_init_args": {"lr": 0.1, "net": TinyNet()}},
     "model_init_args 'net' is no plain data"),
    ({"space": {"width": {"choice": [1, 2]}}}, "in cli=tests.helpers_cli_links.LinkCLI: "
                                               "the link sets it in every trial"),
    ({"config": {"model": "tests.helpers.TinyNet"}}, "give cli= without config="),
])
def test_what_search_cli_refuses_is_refused_before_training(tmp_path, given, words):
    with pytest.raises(ConfigError) as info:
        _search(tmp_path / "run", **given)
    assert words in str(info.value), str(info.value)
    assert "search.cli" not in str(info.value)  # was: the YAML key, from Python
    assert not (tmp_path / "run").exists()


def test_a_link_that_cannot_be_applied_is_named_as_given_from_python(tmp_path):
    # was: "... in `search.cli`=tests.helpers_cli_links.RaisingCLI: ...", a key that a
    # search from Python has not: it was given as cli=
    with pytest.raises(ConfigError) as info:
        _search(tmp_path / "run", cli="tests.helpers_cli_links.RaisingCLI",
                space={"data.n": {"choice": [32, 64]}}).run()
    assert "compute_fn=by_zero) in cli=tests.helpers_cli_links.RaisingCLI: compute_fn of " in (
        str(info.value)), str(info.value)
    assert not list((tmp_path / "run").glob("trials/*/*.ckpt"))
