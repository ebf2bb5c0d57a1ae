"""``search.cli``: the ``link_arguments`` of a project's LightningCLI subclass, applied in
every trial as the project's CLI applies them (``lightning_nas.config.cli_links``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from lightning_nas.errors import ConfigError
from lightning_nas.export import finetune
from lightning_nas.fit import fit_config
from lightning_nas.search.from_config import search_from_config
from tests.helpers import CallableOptNet
from tests.helpers_cli_links import (
    DictSourceCLI,
    DictTargetCLI,
    FixedLinkCLI,
    InstantiateCLI,
    LinkCLI,
    NestedFixedCLI,
    NestedInstantiateCLI,
    NestedSourceCLI,
    NestedTargetCLI,
    NestedWholeCLI,
    ReachedNestedCLI,
    SeenWidthNet,
    SkippedSourceCLI,
    classes_config,
    link_config,
    nested_config,
)
from tests.helpers_data import BlobData


@pytest.fixture(scope="module")
def linked_run(tmp_path_factory) -> tuple[Path, object]:
    """A search of two trials whose searched ``data.n`` reaches the model's width."""
    run_dir = tmp_path_factory.mktemp("links") / "run"
    return run_dir, search_from_config(link_config(run_dir)).run()


def test_a_searched_source_reaches_its_target_in_each_trial(linked_run):
    _, result = linked_run
    assert len(result.trials) == 2
    for trial in result.trials:  # width = n // batch_size, depth = max_epochs
        assert (trial.metrics["seen_width"], trial.metrics["seen_depth"]) == (
            trial.arch["data.n"] // 8, 1.0), trial.arch


def _refused(tmp_path: Path, **search) -> str:
    cfg = link_config(tmp_path / "run", **search)
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    return str(info.value)


@pytest.mark.parametrize(("cli", "words"), [
    ("tests.helpers.TinyNet", ["`search.cli`=tests.helpers.TinyNet", "not a subclass of "
                               "lightning.pytorch.cli.LightningCLI"]),
    ("tests.helpers_cli_links.Nowhere", ["`search.cli`=tests.helpers_cli_links.Nowhere"]),
    ("tests.helpers_cli_links.BackwardsCLI", [
        "link_arguments('model.width', 'data.init_args.n', apply_on='instantiate'): a search "
        "takes a link at instantiation from the data's attributes (data.<name>) to the "
        "model's arguments only"]),
    ("tests.helpers_cli_links.SetDefaultsCLI", ["parser.set_defaults", "only "
                                                "parser.link_arguments"]),
])
def test_a_cli_a_search_cannot_take_is_refused_before_training(tmp_path, cli, words):
    err = _refused(tmp_path, cli=cli)
    assert all(word in err for word in words), err


def test_a_link_the_projects_cli_skips_is_refused_before_training(tmp_path, monkeypatch):
    # `data.batch_size` is no key of a CLI of class_path sections: jsonargparse skips the
    # link at parse, so the project's own CLI never applies it (was: each trial applied it,
    # width = batch_size, and best_config.yaml, without the target, trained another model)
    cfg = link_config(tmp_path / "run", cli="tests.helpers_cli_links.SkippedSourceCLI")
    cfg["model"]["init_args"]["width"] = 5
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump({k: cfg[k] for k in ("model", "data", "trainer")}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])
    cli = SkippedSourceCLI(run=False, save_config_callback=None, args=["--config", str(path)])
    assert cli.model.hparams.width == 5  # the link skipped (batch_size is 8)
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    assert str(info.value) == (
        "`search.cli`=tests.helpers_cli_links.SkippedSourceCLI: link_arguments("
        "'data.batch_size', 'model.init_args.width'): its source data.batch_size is no key "
        "of a LightningCLI whose data is a class_path node (subclass mode), so jsonargparse "
        "skips the link at every parse without a word and your CLI never applies it; "
        "write data.init_args.batch_size")


def _own_cli(cli: type, cfg: dict, tmp_path: Path, monkeypatch) -> object:
    """The project's own CLI ``cli`` (jsonargparse) on ``cfg``'s sections, not run; one made
    for fixed classes (``NestedFixedCLI``) on their ``init_args``."""
    own = {k: cfg[k] for k in ("model", "data", "trainer")}
    classes = ()
    if cli is NestedFixedCLI:
        classes = (CallableOptNet, BlobData)
        own = {**own, "model": own["model"]["init_args"], "data": own["data"]["init_args"]}
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(own))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])
    return cli(*classes, run=False, save_config_callback=None, args=["--config", str(path)])


@pytest.mark.parametrize(("cli", "said"), [
    (NestedSourceCLI, "link_arguments('model.init_args.net.width', 'data.init_args.n'): its "
                      "source model.init_args.net.width is no key of a LightningCLI whose "
                      "model.init_args.net is a class_path node, so jsonargparse skips the "
                      "link at every parse without a word and your CLI never applies it; "
                      "write model.init_args.net.init_args.width"),
    (NestedTargetCLI, "link_arguments('data.init_args.batch_size', 'model.init_args.net.width'"
                      "): its target model.init_args.net.width is no key of a LightningCLI "
                      "whose model.init_args.net is a class_path node, so jsonargparse skips "
                      "the link at every parse without a word and your CLI never applies it; "
                      "write model.init_args.net.init_args.width"),
    (NestedInstantiateCLI, "link_arguments('data.batch_size', 'model.init_args.net.width', "
                           "apply_on='instantiate'): its target model.init_args.net.width is "
                           "no key of a LightningCLI whose model.init_args.net is a class_path "
                           "node, so jsonargparse skips the link at every instantiation "
                           "without a word and your CLI never applies it; write "
                           "model.init_args.net.init_args.width"),
    (NestedFixedCLI, "link_arguments('model.net.width', 'data.n'): its source model.net.width "
                     "is no key of a LightningCLI whose model.net is a class_path node, so "
                     "jsonargparse skips the link at every parse without a word and your CLI "
                     "never applies it; write model.net.init_args.width"),
], ids=["source", "target", "instantiate", "fixed-classes"])
def test_a_link_key_without_a_nested_nodes_init_args_is_refused_before_training(
        tmp_path, monkeypatch, cli, said):
    # the model's `net` is a class_path node: its width is model.init_args.net.init_args.width,
    # so the project's own CLI skips the link (was: each trial and `lightning-nas fit`
    # applied it, and best_config.yaml, without the target, trained another model there)
    cfg = nested_config(tmp_path / "run", cli.__name__)
    own = _own_cli(cli, cfg, tmp_path, monkeypatch)
    assert (own.model.net.layers[0].out_features, own.datamodule.n) == (4, 32)  # skipped
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    assert str(info.value) == f"`search.cli`=tests.helpers_cli_links.{cli.__name__}: {said}"
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump({**{k: cfg[k] for k in ("model", "data", "trainer")},
                                    "search": {"cli": cfg["search"]["cli"]}}))
    with pytest.raises(ConfigError, match=re.escape(said)):
        fit_config(path, out_dir=tmp_path / "fit")
    assert not (tmp_path / "fit").exists()


def test_a_link_key_with_a_nested_nodes_init_args_is_applied_as_the_cli_applies_it(
        tmp_path, monkeypatch):
    cfg = nested_config(tmp_path / "run", "ReachedNestedCLI")
    own = _own_cli(ReachedNestedCLI, cfg, tmp_path, monkeypatch)
    with pytest.warns(UserWarning, match="the config gives the target of"):  # (both: given)
        search = search_from_config(cfg)
    arch = {"data.shuffle": True}
    net = search.model.target.config(arch)["init_args"]["net"]["init_args"]
    assert (net["width"], search.data.target.config(arch)["init_args"]["n"]) == (
        own.model.net.layers[0].out_features, own.datamodule.n) == (8, 3)


_KWARGS_SAID = (
    "link_arguments(('data.init_args.n', 'data.init_args.batch_size'), "
    "'model.init_args.width', compute_fn=per_batch): its target model.init_args.width is no "
    "argument jsonargparse finds of tests.helpers_cli_links.KeptKwargsNet (it finds none; "
    "it follows **kwargs only where they are passed on whole to a base's or a called "
    "class's __init__), so jsonargparse skips the link at every parse without a word and "
    "your CLI never applies it; give KeptKwargsNet.__init__ an argument width, or link to "
    "one it has")


def _dict_said(link: str, role: str) -> str:
    return (f"{link}: its {role} model.init_args.options.width is a key inside "
            f"model.init_args.options, a plain dict argument of tests.helpers_cli_links."
            f"OptionsNet (no class_path node), which jsonargparse holds whole with no key "
            f"inside it, so jsonargparse skips the link at every parse without a word and "
            f"your CLI never applies it; link to model.init_args.options itself (a "
            f"compute_fn that returns the whole dict), or make it a class_path node")


@pytest.mark.parametrize(("model", "cli", "said", "own_values"), [
    ("KeptKwargsNet", LinkCLI, _KWARGS_SAID, (16, 32)),
    ("OptionsNet", DictTargetCLI, _dict_said(
        "link_arguments('data.init_args.batch_size', 'model.init_args.options.width')",
        "target"), (5, 32)),
    ("OptionsNet", DictSourceCLI, _dict_said(
        "link_arguments('model.init_args.options.width', 'data.init_args.n')", "source"),
     (5, 32)),
], ids=["kwargs", "dict-target", "dict-source"])
def test_a_link_key_jsonargparse_finds_no_key_for_is_refused_before_training(
        tmp_path, monkeypatch, model, cli, said, own_values):
    # an argument of the model reached only through **kwargs jsonargparse cannot follow, or
    # a key inside a plain dict argument, is no key of the project's CLI's config, so it
    # skips the link without a word (was: each trial and `lightning-nas fit` applied it,
    # and best_config.yaml, without the target, trained another model there)
    cfg = link_config(tmp_path / "run", cli=f"tests.helpers_cli_links.{cli.__name__}")
    cfg["model"] = {"class_path": f"tests.helpers_cli_links.{model}", "init_args": {
        "options": {"width": 5}} if model == "OptionsNet" else {}}
    cfg["search"]["space"] = {"data.shuffle": {"choice": [False, True]}}
    own = _own_cli(cli, cfg, tmp_path, monkeypatch)
    assert (own.model.net[0].out_features, own.datamodule.n) == own_values  # skipped
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    assert str(info.value) == f"`search.cli`=tests.helpers_cli_links.{cli.__name__}: {said}"
    if cli is DictTargetCLI:  # `lightning-nas fit` of such a config too
        path = tmp_path / "fit.yaml"
        path.write_text(yaml.safe_dump({**{k: cfg[k] for k in ("model", "data", "trainer")},
                                        "search": {"cli": cfg["search"]["cli"]}}))
        with pytest.raises(ConfigError, match=re.escape(said)):
            fit_config(path, out_dir=tmp_path / "fit")


def test_a_link_to_an_argument_passed_on_through_kwargs_is_applied(tmp_path, monkeypatch):
    cfg = link_config(tmp_path / "run")  # jsonargparse follows **kwargs passed on whole
    cfg["model"]["class_path"] = "tests.helpers_cli_links.PassedKwargsNet"
    own = _own_cli(LinkCLI, cfg, tmp_path, monkeypatch)
    init = search_from_config(cfg).model.target.config({"data.n": 32})["init_args"]
    assert (init["width"], init["depth"]) == (own.model.hparams.width,
                                              own.model.hparams.depth) == (4, 1)


@pytest.mark.parametrize("key", ["width", "model.width", "model.init_args.depth"])
def test_a_searched_target_is_refused_naming_the_link(tmp_path, key):
    err = _refused(tmp_path, space={key: {"choice": [1, 2]}})
    assert "the link sets it in every trial" in err and "link_arguments(" in err, err
    assert "`search.cli`=tests.helpers_cli_links.LinkCLI" in err, err


def test_best_config_trains_under_the_projects_cli_as_its_trial(linked_run, tmp_path,
                                                               monkeypatch):
    run_dir, result = linked_run
    path = run_dir / "best_config.yaml"
    text = path.read_text()
    assert [line for line in text.splitlines() if line.startswith("# lightning-nas fit:")
            ][0].endswith(" cli=tests.helpers_cli_links.LinkCLI"), text  # fit applies them
    written = yaml.safe_load(text)["model"].get("init_args") or {}
    assert "width" not in written and "depth" not in written, written  # the CLI sets them
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])  # (not pytest's)
    cli = LinkCLI(run=False, save_config_callback=None, args=["--config", str(path)])
    best = result.best
    assert (cli.model.hparams.width, cli.model.hparams.depth) == (
        best.metrics["seen_width"], best.metrics["seen_depth"]) == (best.arch["data.n"] // 8, 1)


def test_fit_and_finetune_apply_the_runs_links(linked_run, tmp_path):
    run_dir, result = linked_run
    best = result.best
    fitted = fit_config(run_dir / "best_config.yaml", out_dir=tmp_path / "fit")
    assert fitted.error is None, fitted.error
    tuned = finetune(run_dir, max_epochs=1, out_dir=tmp_path / "tune")
    assert tuned.error is None, tuned.error
    for trained in (fitted, tuned):
        assert (trained.metrics["seen_width"], trained.metrics["seen_depth"]) == (
            best.metrics["seen_width"], best.metrics["seen_depth"])


def test_a_resume_with_another_cli_is_refused(linked_run):
    run_dir, _ = linked_run
    cfg = link_config(run_dir, cli="tests.helpers_cli_links.NoLinkCLI")
    with pytest.raises(ConfigError, match=r"search\.cli: 'tests\.helpers_cli_links\.LinkCLI', "
                                          r"now 'tests\.helpers_cli_links\.NoLinkCLI'"):
        search_from_config(cfg).run()


def test_a_target_the_config_gives_is_replaced_as_the_cli_replaces_it(tmp_path, monkeypatch):
    cfg = link_config(tmp_path / "run")
    cfg["model"]["init_args"]["width"] = 5
    with pytest.warns(UserWarning, match=r"gives the target of link_arguments\(\("):
        search = search_from_config(cfg)
    assert search.model.target.config({"data.n": 64})["init_args"]["width"] == 8
    path = tmp_path / "given.yaml"  # the project's own CLI (jsonargparse) replaces it too
    path.write_text(yaml.safe_dump({**{k: cfg[k] for k in ("model", "data", "trainer")},
                                    "data": {**cfg["data"], "init_args": {
                                        **cfg["data"]["init_args"], "n": 64}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])
    cli = LinkCLI(run=False, save_config_callback=None, args=["--config", str(path)])
    assert cli.model.hparams.width == 8


def test_a_source_the_config_leaves_out_is_its_class_default(tmp_path):
    cfg = link_config(tmp_path / "run")
    del cfg["data"]["init_args"]["batch_size"]  # BlobData's default: 64
    init = search_from_config(cfg).model.target.config({"data.n": 128})["init_args"]
    assert (init["width"], init["depth"]) == (2, 1)


@pytest.mark.parametrize(("cli", "pattern"), [
    # (jsonargparse skips it at every parse: was refused only as it had no value)
    ("MisspeltSourceCLI", r"MisspeltSourceCLI: link_arguments\('data.init_args.bsize', "
                          r"'model.init_args.width'\): its source data.init_args.bsize is no "
                          r"argument jsonargparse finds of tests.helpers.BlobData \(it finds "
                          r"n, batch_size, shuffle\), so jsonargparse skips the link at every "
                          r"parse without a word and your CLI never applies it; did you mean "
                          r"'batch_size'\? give BlobData.__init__ an argument bsize"),
    ("RaisingCLI", r"compute_fn=by_zero\) in `search.cli`=tests.helpers_cli_links.RaisingCLI: "
                   r"compute_fn of (32|64) raised ZeroDivisionError"),
])
def test_a_link_that_cannot_be_applied_is_refused_before_training(tmp_path, cli, pattern):
    cfg = link_config(tmp_path / "run", cli=f"tests.helpers_cli_links.{cli}")
    with pytest.raises(ConfigError, match=pattern):
        search_from_config(cfg).run()
    assert not list((tmp_path / "run").glob("trials/*/*.ckpt"))


def test_the_links_of_a_cli_made_for_fixed_classes_are_taken(tmp_path, monkeypatch):
    cfg = link_config(tmp_path / "run", cli="tests.helpers_cli_links.FixedLinkCLI")
    assert search_from_config(cfg).model.target.config({"data.n": 64})["init_args"] == {
        "lr": 0.1, "width": 8}
    path = tmp_path / "fixed.yaml"  # the CLI itself, on init_args alone (as it takes them)
    path.write_text(yaml.safe_dump({"model": cfg["model"]["init_args"], "trainer": cfg[
        "trainer"], "data": {**cfg["data"]["init_args"], "n": 64}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])
    cli = FixedLinkCLI(SeenWidthNet, BlobData, run=False, save_config_callback=None,
                       args=["--config", str(path)])
    assert cli.model.hparams.width == 8


@pytest.fixture(scope="module")
def classes_run(tmp_path_factory) -> tuple[Path, object]:
    """A search of two trials whose model's required ``num_classes`` is the searched data's
    attribute (a link at instantiation)."""
    run_dir = tmp_path_factory.mktemp("classes") / "run"
    return run_dir, search_from_config(classes_config(run_dir)).run()


def test_a_link_at_instantiation_gives_each_trial_the_built_datas_attribute(
        classes_run, tmp_path, monkeypatch):
    run_dir, result = classes_run
    assert len(result.trials) == 2
    for trial in result.trials:
        assert trial.metrics["seen_classes"] == trial.arch["data.n"] // 16, trial.arch
    text = (run_dir / "best_config.yaml").read_text()
    assert "num_classes" not in text.split("# lightning-nas fit:")[1], text  # the CLI's
    assert ("# A trial built the data, then the model, as tests.helpers_cli_links."
            "InstantiateCLI does") in text, text
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])
    cli = InstantiateCLI(run=False, save_config_callback=None,
                         args=["--config", str(run_dir / "best_config.yaml")])
    best = result.best.metrics  # the data built first, as the CLI builds it (same draws)
    assert (cli.model.num_classes, float(cli.model.drawn), float(cli.datamodule.drawn)) == (
        best["seen_classes"], pytest.approx(best["model_drawn"]),
        pytest.approx(best["data_drawn"]))
    fitted = fit_config(run_dir / "best_config.yaml", out_dir=tmp_path / "fit")
    tuned = finetune(run_dir, max_epochs=1, out_dir=tmp_path / "tune")
    for trained in (fitted, tuned):
        assert trained.error is None, trained.error
        assert [trained.metrics[k] for k in ("seen_classes", "model_drawn", "data_drawn")] == [
            best[k] for k in ("seen_classes", "model_drawn", "data_drawn")]


def test_the_data_a_link_reads_is_built_with_the_random_state_kept(tmp_path):
    import torch

    builder = search_from_config(classes_config(tmp_path / "run")).model.target
    torch.manual_seed(3)
    builder.config({"data.n": 48})
    drawn = torch.rand(1)
    torch.manual_seed(3)
    assert torch.equal(drawn, torch.rand(1))


def _whole_net(tmp_path: Path, options: list) -> dict:
    """``nested_config`` through ``NestedWholeCLI`` (batch_size 4: the width its link sets),
    its ``net`` searched whole among ``options``."""
    cfg = nested_config(tmp_path / "run", "NestedWholeCLI")
    cfg["data"]["init_args"]["batch_size"] = 4
    cfg["search"]["space"] = {"model.net": {"choice": options}}
    cfg["search"]["budget"] = 1
    return cfg


def test_a_nested_node_searched_whole_takes_the_link_into_it_as_the_projects_cli(
        tmp_path, monkeypatch):
    # jsonargparse applies model.init_args.net.init_args.width to whichever class net is
    # (was refused: "space key 'model.net' sets model.net.width, ...; search its source
    # instead", though the space chooses the class, and the link sets only its width)
    options = ["tests.helpers.Body", "tests.helpers.KwBody"]
    cfg = _whole_net(tmp_path, options)
    search = search_from_config(cfg)
    for option in options:
        net = search.model.target.config({"model.net": option})["init_args"]["net"]
        own = _own_cli(NestedWholeCLI, {**cfg, "model": {**cfg["model"], "init_args": {
            "net": {"class_path": option}}}}, tmp_path, monkeypatch)
        assert (net["class_path"], net["init_args"]["width"]) == (
            option, own.model.net.layers[0].out_features) == (option, 4)
    result = search.run()
    best = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())
    own = _own_cli(NestedWholeCLI, best, tmp_path, monkeypatch)
    assert type(own.model.net).__name__ == result.best.arch["model.net"].rpartition(".")[2]
    assert own.model.net.layers[0].out_features == 4


def test_a_nested_node_searched_whole_with_an_option_that_gives_the_target_is_refused(
        tmp_path):
    cfg = _whole_net(tmp_path, ["tests.helpers.Body", {"class_path": "tests.helpers.KwBody",
                                                       "init_args": {"width": 16}}])
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()
    assert str(info.value).startswith(
        "search.space key 'model.net' holds model.net.width, the target of link_arguments("
        "'data.init_args.batch_size', 'model.init_args.net.init_args.width') in "
        "`search.cli`=tests.helpers_cli_links.NestedWholeCLI, and its option "
        "{'class_path': 'tests.helpers.KwBody', 'init_args': {'width': 16}} gives it: the "
        "link sets it in every trial, whatever the option says"), str(info.value)
    cfg = _whole_net(tmp_path, ["tests.helpers.Body", "torch.nn.Identity"])
    with pytest.raises(ConfigError, match=re.escape(  # an option the link cannot reach
            "its target model.init_args.net.init_args.width is no argument jsonargparse "
            "finds of torch.nn.Identity")):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()


def test_a_link_from_trainer_max_epochs_takes_a_schedulers_epochs(tmp_path, monkeypatch):
    # under a scheduler, search.max_epochs is every trial's trainer.max_epochs, and
    # best_config.yaml says so: the link from it gives the model what the project's CLI
    # gives it from that file (was: the config's max_epochs, 1, in every trial, while
    # best.yaml's model node said 2)
    cfg = link_config(tmp_path / "run", scheduler="asha", min_epochs=1, max_epochs=2)
    result = search_from_config(cfg).run()
    assert [trial.metrics["seen_depth"] for trial in result.trials] == [2.0, 2.0], [
        trial.metrics for trial in result.trials]
    best = yaml.safe_load((tmp_path / "run" / "best.yaml").read_text())
    assert best["model"]["init_args"]["depth"] == 2, best["model"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["cli"])
    cli = LinkCLI(run=False, save_config_callback=None,
                  args=["--config", str(tmp_path / "run" / "best_config.yaml")])
    assert cli.model.hparams.depth == 2
    tuned = finetune(tmp_path / "run", max_epochs=1, out_dir=tmp_path / "tune")  # best.ckpt's
    assert tuned.error is None, tuned.error  # model, as its trial built it
    assert tuned.metrics["seen_depth"] == 2.0, tuned.metrics
