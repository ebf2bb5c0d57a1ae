"""Hydra nodes (``_target_``, ``_partial_``, ``_args_``, nested nodes) wherever a config
names an object: built as Hydra's ``instantiate`` builds them, searched through dotted keys,
checked before training, exported in their own shape (``lightning_nas.config.nodes``)."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import load_config, section_target
from lightning_nas.config.nodes import check_node_keys, contains_node, node_args, with_args
from lightning_nas.config.paths import set_dotted
from lightning_nas.config.space_paths import check_dotted
from lightning_nas.errors import ConfigError
from lightning_nas.export import finetune
from lightning_nas.results import format_score
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.trial_logs import logger_defaults
from tests.helpers_runs import validated
from tests.launcher import ROOT

HYDRA = ROOT / "examples" / "hydra"
MODEL = yaml.safe_load((HYDRA / "configs" / "model" / "digits.yaml").read_text())
NODES = [
    {"_target_": "collections.OrderedDict", "a": 1, "b": {"_target_": "datetime.timedelta",
                                                          "seconds": 3}},
    {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01},
    {"_target_": "builtins.dict", "_args_": [[["k", 1]]], "z": 2},
    {"_target_": "builtins.dict", "_recursive_": False,
     "inner": {"_target_": "datetime.timedelta", "seconds": 3}},
    {"_target_": "builtins.list", "_args_": [[{"_target_": "datetime.timedelta", "days": 1}]]},
    {"_target_": "builtins.dict", "x": [{"class_path": "datetime.timedelta"}],
     "y": {"class_path": "datetime.timedelta",
           "init_args": {"z": {"_target_": "datetime.timedelta", "days": 1}}}},
]


def _same(a, b) -> bool:
    """Equal objects, partials compared by function and arguments."""
    if isinstance(a, functools.partial):
        return (isinstance(b, functools.partial) and a.func is b.func and a.args == b.args
                and a.keywords == b.keywords)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("node", NODES, ids=["nested", "partial", "args", "not-recursive",
                                             "args-nested", "class-path-data"])
def test_nodes_build_what_hydra_builds(node):
    ours = instantiate(node)
    hydra_utils = pytest.importorskip("hydra.utils")
    theirs = hydra_utils.instantiate(node, _convert_="all")
    assert _same(ours, theirs), (ours, theirs)


def test_partial_also_works_in_class_path_specs():
    built = instantiate({"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01},
                         "_partial_": True})
    assert isinstance(built, functools.partial) and built.func is torch.optim.Adam
    optimizer = built([torch.nn.Parameter(torch.zeros(1))])
    assert optimizer.defaults["lr"] == 0.01


def test_a_missing_partial_is_named_with_a_hint():
    node = {"_target_": "torch.optim.Adam", "lr": 0.01}
    with pytest.raises(ConfigError, match="model.optimizer: Adam: .*params.*add `_partial_: "
                                          "true` to its node"):
        instantiate({"_target_": "builtins.dict", "optimizer": node}, "model")


def test_node_helpers_and_key_checks():
    assert node_args(MODEL)["compile"] is False and "_target_" not in node_args(MODEL)
    assert with_args(MODEL["net"], {"lin1_size": 8})["_target_"] == MODEL["net"]["_target_"]
    assert contains_node({"x": [1, {"class_path": "a.B"}]}) and not contains_node({"x": [1]})
    with pytest.raises(ConfigError, match="model.optimizer._partial_: expected true or false"):
        check_node_keys({"_target_": "a.B", "_partial_": "yes"}, "model.optimizer")
    with pytest.raises(ConfigError, match="either class_path .* or _target_"):
        check_node_keys({"_target_": "a.B", "class_path": "a.B"}, "model")


def test_dotted_keys_reach_into_hydra_nodes():
    cfg = {"model": yaml.safe_load(yaml.safe_dump(MODEL))}
    set_dotted(cfg, "model.optimizer.lr", 0.05)
    set_dotted(cfg, "model.net.lin1_size", 32)
    assert cfg["model"]["optimizer"]["lr"] == 0.05 and cfg["model"]["net"]["lin1_size"] == 32
    assert "init_args" not in cfg["model"]["net"]
    check_dotted(cfg, "model.net.lin1_size")
    with pytest.raises(ConfigError, match="'lin1_sise' is not an argument of DenseNet.*"
                                          "did you mean 'lin1_size'"):
        check_dotted(cfg, "model.net.lin1_sise")


def test_a_hydra_section_is_built_by_a_config_builder():
    builder, args = section_target(MODEL, "model")
    assert args == {} and builder.class_name == "DigitsLitModule"
    module = builder({"optimizer.lr": 0.5}) if False else builder({})
    assert isinstance(module.net, torch.nn.Module)
    assert isinstance(module.hparams.optimizer, functools.partial)


def test_a_hydra_logger_node_gets_its_trial_folder():
    spec = {"_target_": "lightning.pytorch.loggers.CSVLogger", "flush_logs_every_n_steps": 5}
    filled = logger_defaults(spec, "runs/x/logs", "trials", "trial_0001")
    assert filled == {**spec, "save_dir": "runs/x/logs", "name": "trials",
                      "version": "trial_0001"}


def test_a_model_without_partial_fails_before_any_training(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(HYDRA / "search.yaml", [f"--search.run_dir={tmp_path / 'run'}"])
    del cfg["model"]["optimizer"]["_partial_"]
    with pytest.raises(ConfigError, match="optimizer.*_partial_: true"):
        search_from_config(cfg)
    assert not (tmp_path / "run").exists()


def test_sections_may_name_the_projects_yaml_files(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(HYDRA / "search.yaml")
    assert cfg["model"] == MODEL  # configs/model/digits.yaml, unchanged
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: configs/model/nope.yaml\n")
    with pytest.raises(ConfigError, match="model='configs/model/nope.yaml': no such YAML file"):
        load_config(bad)
    # was: a file of the same name in the current folder won over the one beside the config
    for folder, target in (("cfg", "tests.helpers.TinyNet"), ("cwd", "tests.helpers.NoNet")):
        (tmp_path / folder / "configs" / "model").mkdir(parents=True)
        (tmp_path / folder / "configs" / "model" / "digits.yaml").write_text(
            f"_target_: {target}\n")
    (tmp_path / "cfg" / "search.yaml").write_text("model: configs/model/digits.yaml\n")
    monkeypatch.chdir(tmp_path / "cwd")
    assert load_config(tmp_path / "cfg" / "search.yaml")["model"] == {
        "_target_": "tests.helpers.TinyNet"}


def test_a_section_the_command_line_names_as_a_yaml_file_is_that_file(tmp_path, monkeypatch):
    # was: taken for an import path: "cannot import module 'configs/model/digits'"
    from lightning_nas.config.load import apply_overrides

    monkeypatch.chdir(ROOT)
    cfg = load_config(HYDRA / "search.yaml")
    changed = apply_overrides(cfg, ["--model=configs/model/digits.yaml"],
                              config_path=HYDRA / "search.yaml")  # found beside the config
    assert changed["model"] == MODEL
    with pytest.raises(ConfigError, match=r"model='configs/model/nope.yaml': no such YAML file "
                                          r"\(looked in the current folder and beside "):
        apply_overrides(cfg, ["--model=configs/model/nope.yaml"],
                        config_path=HYDRA / "search.yaml")
    # the current folder first, as --search.space=FILE
    (tmp_path / "configs" / "model").mkdir(parents=True)
    (tmp_path / "configs" / "model" / "digits.yaml").write_text("_target_: tests.helpers.NoNet\n")
    monkeypatch.chdir(tmp_path)
    assert apply_overrides(cfg, ["--model=configs/model/digits.yaml"],  # the file's node
                           config_path=HYDRA / "search.yaml")["model"] == {
        "_target_": "tests.helpers.NoNet"}


def test_search_a_hydra_model_node_then_fit_its_best_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    assert main(["search", str(HYDRA / "search.yaml"), "--search.budget=2",
                 "--search.scheduler=none", "--search.min_epochs=null", "--search.eta=null",
                 "--trainer.max_epochs=1",
                 "--trainer.limit_train_batches=4", f"--search.run_dir={run}"]) == 0
    best = yaml.safe_load((run / "best.yaml").read_text())
    trained = yaml.safe_load((run / "best_config.yaml").read_text())
    model = trained["model"]  # the Hydra node shape, with the winner's values
    assert model["_target_"] == MODEL["_target_"] and "init_args" not in model
    assert model["optimizer"]["_partial_"] is True
    assert model["optimizer"]["lr"] == best["arch"]["model.optimizer.lr"]
    assert model["net"]["lin1_size"] == best["arch"]["model.net.lin1_size"]
    assert trained["data"]["batch_size"] == best["arch"]["data.batch_size"]
    capsys.readouterr()
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(tmp_path / "fit")]) == 0
    out = capsys.readouterr().out
    assert f"val/acc={format_score(best['score'])} " in out  # as the search lines print it
    # the trial, trained again as is: the fit's checkpoint validates to the trial's score
    assert validated(run / "best_config.yaml", tmp_path / "fit" / "best.ckpt",
                     "val/acc") == pytest.approx(best["score"], abs=1e-6)
    shutil.rmtree(tmp_path / "fit")


class ProjectTrainer(pl.Trainer):
    """A project's Trainer subclass, named by a trainer section's ``_target_``."""


def test_a_trainer_section_may_name_the_projects_trainer_file(tmp_path, monkeypatch):
    # was: "unknown Trainer argument '_target_'": a lightning-hydra-template project's
    # configs/trainer/default.yaml could not be reused, as its model and data files can
    monkeypatch.chdir(ROOT)
    (tmp_path / "trainer").mkdir()
    (tmp_path / "trainer" / "default.yaml").write_text(
        "_target_: lightning.pytorch.trainer.Trainer\nmax_epochs: 1\naccelerator: cpu\n"
        "devices: 1\nenable_progress_bar: false\nenable_model_summary: false\n")
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"_target_": "tests.helpers.TinyNet"},
        "data": {"_target_": "tests.helpers.BlobData", "n": 32},
        "trainer": "trainer/default.yaml",
        "search": {"budget": 2, "scheduler": "none", "monitor": "val_acc", "mode": "max",
                   "run_dir": str(tmp_path / "run"),
                   "space": {"model.width": {"choice": [4, 8]}}}}))
    assert main(["search", str(config)]) == 0
    trained = yaml.safe_load((tmp_path / "run" / "best_config.yaml").read_text())["trainer"]
    assert "_target_" not in trained and trained["max_epochs"] == 1
    # another class is refused by name before anything runs
    for target, said in ((f"{__name__}.ProjectTrainer", "is a Trainer subclass, which "
                                                        "lightning-nas cannot use"),
                         ("tests.helpers.TinyNet", "is not lightning.pytorch.Trainer")):
        with pytest.raises(ConfigError, match=rf"trainer._target_: '{target}' {said}"):
            load_config(config, [f"--trainer._target_={target}"])


class PoppingBody(torch.nn.Module):
    """Takes ``note`` out of its ``**kwargs`` and reads ``width`` there: a Hydra node may
    give it any name."""

    def __init__(self, **kwargs) -> None:
        self.note = kwargs.pop("note", None)
        super().__init__()
        width = kwargs.get("width", 8)
        self.body = torch.nn.Sequential(torch.nn.Linear(8, width), torch.nn.Linear(width, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class NotedBody(PoppingBody):
    """Takes a text ``note``."""

    def __init__(self, note: str = "", width: int = 8) -> None:
        super().__init__(width=width)
        self.note = note


class PassingBody(PoppingBody):
    """Passes its ``**kwargs`` on whole to ``PoppingBody``, which pops ``note``."""

    def __init__(self, extra: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)


KW_BODY = "tests.helpers.KwBody"


def _hydra_config(run_dir: Path, space: dict, net: dict | None = None) -> dict:
    return {"seed_everything": 7,
            "model": {"_target_": "tests.helpers.CallableOptNet",
                      "net": net or {"_target_": KW_BODY},
                      "optimizer": {"_target_": "torch.optim.SGD", "_partial_": True,
                                    "lr": 0.1}},
            "data": {"_target_": "tests.helpers.BlobData", "n": 32},
            "trainer": {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1,
                        "enable_checkpointing": False},
            "search": {"space": space, "budget": 2, "optimizer": "RandomSearch",
                       "run_dir": str(run_dir), "verbose": False}}


def test_a_misspelt_name_a_hydra_node_passes_on_by_kwargs_is_refused_before_training(
        tmp_path):
    # was: accepted (KwBody takes **kwargs), then "TypeError: Body.__init__() got an
    # unexpected keyword argument 'widht'" in the trial that chose the option
    space = {"model.net": {"choice": [{"_target_": KW_BODY, "width": 4},
                                      {"_target_": KW_BODY, "widht": 8}]}}
    with pytest.raises(ConfigError) as info:
        search_from_config(_hydra_config(tmp_path / "run", space))
    assert ("space key 'model.net' may take {'_target_': 'tests.helpers.KwBody', 'widht': "
            "8}: model.net.widht: not an argument of KwBody.__init__ nor of a base its "
            "**kwargs passes them on to; did you mean 'width'? accepted: extra, width, "
            "depth") in str(info.value)
    assert not (tmp_path / "run").exists()


def test_names_a_hydra_nodes_kwargs_may_take_are_not_refused(tmp_path):
    # a **kwargs that keeps or pops a name (not only passed on whole) takes it, as Python
    # calls the target; one passed on whole is followed to the base that pops it
    for target in ("tests.test_hydra_nodes.PoppingBody", "tests.test_hydra_nodes.PassingBody"):
        space = {"model.net.width": {"choice": [4, 6]}}
        net = {"_target_": target, "note": "kept", "width": 4}
        cfg = _hydra_config(tmp_path / target.rsplit(".", 1)[1], space, net)
        result = search_from_config(cfg).run()
        assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]


def test_a_class_path_mapping_in_a_hydra_nodes_arguments_is_data_as_hydra_passes_it(tmp_path):
    # Hydra's instantiate builds `_target_` nodes only: the user's train.py gets such a
    # mapping as it is; was: built as a class_path node (its key beside class_path refused,
    # "model.net.note: unknown key 'tag' beside class_path 'torch.nn.Linear'"; without it
    # "lacks required argument 'out_features'"; else a Linear module)
    note = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 8}, "tag": 1}
    net = {"_target_": "tests.test_hydra_nodes.PoppingBody", "note": note, "width": 4}
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 6]}}, net)
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg))
    loaded = load_config(config)
    search_from_config(loaded)  # its checks before training take it
    builder, _ = section_target(loaded["model"], "model")
    builder.check({"model.net.width": 6})
    hydra_utils = pytest.importorskip("hydra.utils")
    theirs = hydra_utils.instantiate(cfg["model"], _convert_="all").net.note
    assert builder({"model.net.width": 6}).net.note == theirs == note
    assert not (tmp_path / "run").exists()


#: a LightningCLI spec among a Hydra node's arguments: data to Hydra, passed as it is
LINEAR = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 8, "out_features": 2}}


def test_a_class_path_mapping_in_a_hydra_nodes_arguments_is_checked_as_the_data_it_is(
        tmp_path):
    # Hydra passes the dict to `note: str`; was: taken (a class_path spec fits any
    # annotation: it is built later), the module got a dict for its text
    net = {"_target_": "tests.test_hydra_nodes.NotedBody", "note": LINEAR, "width": 4}
    with pytest.raises(ConfigError, match=r"^model\.net\.note=\{'class_path': 'torch\.nn\."
                                          r"Linear', .*: expected str \(the annotation of "
                                          r"NotedBody"):
        search_from_config(_hydra_config(tmp_path / "run", {
            "model.net.width": {"choice": [4, 6]}}, net))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("space", "arch", "note"), [
    ({"model.net.note.tag": {"choice": [1, 2]}}, {"model.net.note.tag": 2},
     {**LINEAR, "tag": 2}),  # a new key of the data, as a plain dict's: Hydra's +...tag=2
    ({"model.net.note.class_path": {"choice": ["torch.nn.Linear", "torch.nn.Bilinear"]}},
     {"model.net.note.class_path": "torch.nn.Bilinear"},
     {**LINEAR, "class_path": "torch.nn.Bilinear"}),  # a text of the data
    ({"model.net.note": {"init_args": {"in_features": {"choice": [4, 8]}}}},
     {"model.net.note": {"init_args": {"in_features": 4}}},
     {**LINEAR, "init_args": {"in_features": 4, "out_features": 2}}),  # merged, as Hydra
    ({"model.net.note": {"choice": [{"class_path": "torch.nn.ReLU"},
                                    {"init_args": {"in_features": 4}}]}},
     {"model.net.note": {"class_path": "torch.nn.ReLU"}},  # merged, as Hydra merges it:
     {"class_path": "torch.nn.ReLU", "init_args": {"in_features": 8, "out_features": 3}}),
], ids=["new-key", "class-path-key", "group", "choice"])
def test_a_space_key_into_a_class_path_mapping_under_a_hydra_node_sets_that_data(
        space, arch, note, tmp_path):
    # as into any mapping there; was: refused as a node's (new-key: "'tag' is not an
    # argument of Linear (model.net.note)"; class-path-key: "names a node's class_path, which
    # a group at the node cannot change"; group: "model.net.note.init_args has the key
    # out_features, which the search space's group 'model.net.note' does not set"; choice,
    # with the override: "sets a key inside 'model.net.note', which the search space gives
    # every trial as a whole (a value it chooses)", and ReLU's init_args dropped as
    # LightningCLI drops what a new class does not take, where Hydra merges the mapping)
    net = {"_target_": "tests.test_hydra_nodes.PoppingBody", "note": LINEAR, "width": 4}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(_hydra_config(tmp_path / "run", space, net)))
    chosen = "choice" in space.get("model.net.note", {})  # with an override under it
    loaded = load_config(config, ["--model.net.note.init_args.out_features=3"] * chosen)
    search_from_config(loaded)  # its checks before training take it
    builder, _ = section_target(loaded["model"], "model")
    assert builder(arch).net.note == note
    assert not (tmp_path / "run").exists()


def test_a_kwargs_chain_is_followed_for_a_python_call_only_where_passed_on_whole():
    from lightning_nas.config.chain import forwards_whole, init_kwargs
    from tests.helpers_nets import KwBody

    assert forwards_whole(KwBody.__init__) and forwards_whole(PassingBody.__init__)
    assert not forwards_whole(PoppingBody.__init__)  # it pops a name: it may take any
    assert init_kwargs(KwBody, forwarded=True) == (["extra", "width", "depth"], False)
    assert init_kwargs(PassingBody, forwarded=True) == (["extra"], True)


#: the lightning-hydra-template's callbacks/default.yaml and logger/csv.yaml (composed): a
#: mapping of named nodes, which its train.py builds value by value (a null one left out)
NAMED_CALLBACKS = {"model_checkpoint": {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                                        "monitor": "val_acc", "mode": "max",
                                        "filename": "epoch_{epoch:03d}"},
                   "early_stopping": {"_target_": "lightning.pytorch.callbacks.EarlyStopping",
                                      "monitor": "val_acc", "mode": "max", "patience": 100},
                   "rich_progress_bar": None}
NAMED_LOGGERS = {"csv": {"_target_": "lightning.pytorch.loggers.csv_logs.CSVLogger",
                         "save_dir": "logs", "name": "csv/", "prefix": ""}}


def test_a_mapping_of_named_callback_and_logger_nodes_is_built_as_the_templates_train_py(
        tmp_path):
    # was: refused, "trainer.callbacks={'model_checkpoint': ...: expected list[Callback] or
    # Callback or null (the annotation of Trainer)", where the template's train.py builds
    # each named node (instantiate_callbacks, instantiate_loggers)
    hydra_utils = pytest.importorskip("hydra.utils")
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(_hydra_config(tmp_path / "run", {
        "model.net.width": {"choice": [4, 8]}}) | {"trainer": {
            "max_epochs": 1, "callbacks": NAMED_CALLBACKS, "logger": NAMED_LOGGERS}},
        sort_keys=False))  # the file's order: the order train.py builds them in
    search_from_config(load_config(config))  # its checks before training take them
    assert not (tmp_path / "run").exists()
    trainer = load_config(config)["trainer"]
    for key, named in (("callbacks", NAMED_CALLBACKS), ("logger", NAMED_LOGGERS)):
        ours = [_settings(instantiate(node)) for node in trainer[key]]
        assert ours == [_settings(hydra_utils.instantiate(node)) for node in named.values()
                        if node] and len(ours) == len([n for n in named.values() if n])


@pytest.mark.parametrize("named", [{}, {"rich_progress_bar": None}])
def test_a_mapping_of_named_nodes_with_none_left_is_no_callbacks_and_no_logger(named, tmp_path):
    # the template's `callbacks: none` or `callbacks.rich_progress_bar=null`: its train.py's
    # instantiate_callbacks/instantiate_loggers give [] (no logger, for Lightning); was:
    # refused, "trainer.callbacks={}: expected list[Callback] or Callback or null"
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"callbacks": named, "logger": named}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg))
    loaded = load_config(config)
    assert (loaded["trainer"]["callbacks"], loaded["trainer"]["logger"]) == ([], [])
    search_from_config(loaded)  # its checks before training take them
    assert not (tmp_path / "run").exists()


def test_a_group_files_name_as_trainer_callbacks_is_refused_saying_what_to_write(tmp_path):
    # the template's callbacks group file named from the trainer section: no file is read
    # there (was: "expected list[Callback] or Callback or null" alone, as if a name could
    # not be meant); what is taken is unchanged (its content pasted: the test above)
    (tmp_path / "cb.yaml").write_text(yaml.safe_dump(NAMED_CALLBACKS))
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    config = tmp_path / "search.yaml"
    for given, overrides in ((cfg["trainer"] | {"callbacks": "cb.yaml"}, []),
                             (cfg["trainer"], ["--trainer.callbacks=cb.yaml"])):
        config.write_text(yaml.safe_dump({**cfg, "trainer": given}))
        with pytest.raises(ConfigError) as info:
            search_from_config(load_config(config, overrides))
        assert str(info.value) == (
            "trainer.callbacks='cb.yaml': expected list[Callback] or Callback or null (the "
            "annotation of Trainer); a YAML file's name is not read at trainer.callbacks "
            "(the sections model:, data: and trainer: alone may name one): paste the file's "
            "content there as it is (a mapping of named nodes, {model_checkpoint: "
            "{_target_: ...}, ...}, or a list of nodes), or add each on the command line: "
            "--trainer.callbacks+=EarlyStopping --trainer.callbacks.patience=5")
    assert not (tmp_path / "run").exists()


def _settings(built: object) -> tuple[str, dict]:
    """An object's class and its plain attributes (what a test may compare)."""
    return type(built).__name__, {k: v for k, v in vars(built).items()
                                  if isinstance(v, (str, int, float, bool, type(None)))}


def test_an_interpolation_a_search_config_cannot_resolve_is_refused_before_training(tmp_path):
    # the template's nodes name the job's folder, ${paths.output_dir}, which its train.py gets
    # resolved; was: taken as written, each trial's checkpoints written into a folder named
    # '${paths.output_dir}' in the current folder
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"callbacks": {"model_checkpoint": {
        **NAMED_CALLBACKS["model_checkpoint"], "dirpath": "${paths.output_dir}/checkpoints"}}}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert str(info.value).startswith(
        "trainer.callbacks.model_checkpoint.dirpath='${paths.output_dir}/checkpoints': "
        "${paths.output_dir} "
        "is an OmegaConf interpolation, which lightning-nas does not resolve")
    with pytest.raises(ConfigError, match=r"^data\.n='\$\{oc\.env:N\}': "):
        load_config(config, ["--trainer.callbacks=null", "--data.n=${oc.env:N}"])
    assert load_config(config, ["--trainer.callbacks=null", r"--data.tag=\${x}"])


def test_a_space_key_into_a_named_callback_node_sets_its_argument_in_each_trial(
        tmp_path, capsys):
    # as Hydra's `callbacks.early_stopping.patience=5` sets it in the template's train.py;
    # was: refused, "space key 'trainer.callbacks.early_stopping.patience' may take 3:
    # unknown Trainer argument 'callbacks.early_stopping.patience'"; then stored, shown and
    # written by the node's place, 'trainer.callbacks.1.patience', a key the user never wrote
    cfg = _hydra_config(tmp_path / "run", {
        "trainer.callbacks.early_stopping.patience": {"choice": [3, 5]}})
    cfg["trainer"] |= {"callbacks": NAMED_CALLBACKS, "enable_checkpointing": True}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    key = "trainer.callbacks.early_stopping.patience"  # the user's, everywhere
    assert list(search_from_config(load_config(config)).space.params) == [key]
    assert main(["search", str(config), "--print_config"]) == 0  # the user's search block
    assert yaml.safe_load(capsys.readouterr().out)["search"] == cfg["search"]
    assert main(["search", str(config)]) == 0
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["show", str(run), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert sorted(row["arch"][key] for row in rows) == [3, 5]
    for row in rows:  # each trial's EarlyStopping (the file's second node) got its value
        assert _patience(run / "trials" / f"trial_{row['trial']:04d}" / "best.ckpt") == \
            row["arch"][key]
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert list(best["arch"]) == [key]
    tuned = finetune(run, max_epochs=1, out_dir=tmp_path / "tuned")  # the best trial's too
    assert _patience(tuned.checkpoint) == best["arch"][key]
    written = yaml.safe_load((run / "best_config.yaml").read_text())["trainer"]["callbacks"]
    assert written[1] == {**NAMED_CALLBACKS["early_stopping"], "patience": best["arch"][key]}


@pytest.mark.parametrize(("key", "value", "what"), [
    ("node_places", {"trainer.callbacks.x.patience": "trainer.callbacks.0.patience"},
     "the place of each space key into a named node"),
    ("node_names", {"callbacks": ["x"]}, "the names of the Trainer's named nodes"),
], ids=["places", "names"])
def test_a_search_block_giving_what_lightning_nas_keeps_is_refused(key, value, what, tmp_path):
    # load_config keeps the places of keys into named nodes there, and the nodes' names;
    # was (since it does): a user's own taken silently, in place of an "unknown search
    # setting" refusal
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["search"][key] = value
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=rf"^search\.{key}: lightning-nas's own \({what}, "
                                          r"set as the config is read\), not a setting"):
        load_config(config)


@pytest.mark.parametrize("command", ["oneshot", "fit"])
def test_a_oneshot_or_fit_config_giving_the_node_names_lightning_nas_keeps_is_refused(
        command, tmp_path, capsys):
    # load_config keeps them in the oneshot block too (a fit's: its search block), which
    # the settings leave out: a user's own would be taken silently (was: "unknown oneshot
    # setting 'node_names'"; a fit ignored it)
    cfg = _hydra_config(tmp_path / "run", {})
    block = cfg.pop("search") and ("oneshot" if command == "oneshot" else "search")
    cfg[block] = {"node_names": {"callbacks": ["x"]}}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main([command, str(config), "--print_config"]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas {command}: error: {block}.node_names: lightning-nas's own (the names "
        f"of the Trainer's named nodes, set as the config is read), not a setting; remove "
        f"it\n")


def test_a_key_by_name_into_a_list_of_callbacks_given_from_python_is_refused(tmp_path):
    # a list has no names (only a config's mapping of named nodes does): refused before
    # training, naming the key (was, with the names kept as written: KeyError)
    from lightning_nas import Search
    from tests.helpers import BlobData, TinyNet

    stopping = {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                "init_args": {"monitor": "val_acc"}}
    with pytest.raises(ConfigError, match=r"^space key 'trainer\.callbacks\.stop\.patience' "
                                          r"may take 3: unknown Trainer argument"):
        Search(TinyNet, {"trainer.callbacks.stop.patience": {"choice": [3, 5]}}, data=BlobData,
               trainer={"max_epochs": 1, "callbacks": [stopping]}, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _patience(checkpoint: str | Path) -> int:
    """The patience of the EarlyStopping whose state a checkpoint holds."""
    state = torch.load(checkpoint, weights_only=False)["callbacks"]
    (stopping,) = [v for k, v in state.items() if k.startswith("EarlyStopping")]
    return stopping["patience"]


@pytest.mark.parametrize("options", [[1, -2], [-2, 1]], ids=["drawn-later", "drawn-first"])
def test_a_refused_value_of_a_named_callback_nodes_argument_names_the_users_key(
        options, tmp_path):
    # was: "space key 'trainer.callbacks' may take [{'_target_': ...ModelCheckpoint', ...]",
    # the whole list, not the key the user wrote
    cfg = _hydra_config(tmp_path / "run", {
        "trainer.callbacks.model_checkpoint.save_top_k": {"choice": options}})
    cfg["trainer"] |= {"callbacks": NAMED_CALLBACKS, "enable_checkpointing": True}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        search_from_config(load_config(config)).run()
    assert str(info.value).startswith(
        "space key 'trainer.callbacks.model_checkpoint.save_top_k' may take -2: ")
    assert "Invalid value for save_top_k=-2" in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("key", "said"), [
    ("trainer.callbacks.early_stoping.patience", "space key 'trainer.callbacks.early_stoping."
     "patience': trainer.callbacks has no node named 'early_stoping'; did you mean "
     "'early_stopping'? its nodes: model_checkpoint, early_stopping"),
    ("callbacks.early_stopping.patience", "space key 'callbacks.early_stopping.patience': "
     "a search config's callbacks are trainer.callbacks; write trainer.callbacks."
     "early_stopping.patience"),
    ("trainer.callbacks.rich_progress_bar.leave", "space key 'trainer.callbacks."
     "rich_progress_bar.leave': trainer.callbacks.rich_progress_bar is null, so no trial "
     "builds it"),
    ("trainer.callbacks.3.patience", "space key 'trainer.callbacks.3.patience': "
     "trainer.callbacks holds 2 nodes (0 to 1)"),
], ids=["misspelt", "top-level", "null", "past-the-list"])
def test_a_space_key_into_a_callback_node_that_is_not_there_is_refused_naming_it(
        key, said, tmp_path):
    cfg = _hydra_config(tmp_path / "run", {key: {"choice": [3, 5]}})
    cfg["trainer"] |= {"callbacks": NAMED_CALLBACKS}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        search_from_config(load_config(config))
    assert said in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("space", "trainer", "said"), [
    ({"trainer.callbacks.early_stopping.patience": {"choice": [3, 5]}}, {},
     r"\(EarlyStopping\) monitors 'val_acc' with mode 'min' \(EarlyStopping's default\), "
     r"but the search maximises it"),
    ({"trainer.callbacks.model_checkpoint.save_top_k": {"choice": [1, 2]}},
     {"max_epochs": -1}, r"trainer\.max_epochs=-1 is Lightning's 'no limit'"),
], ids=["stopping-mode", "endless"])
def test_a_key_searched_into_one_callback_node_keeps_the_warnings_every_trial_earns(
        space, trainer, said, tmp_path):
    # a key into one node's argument changes that argument alone: every trial keeps the
    # other callbacks, so what they all would do is said as without the key; was: no
    # warning once any key under trainer.callbacks was searched
    cfg = _hydra_config(tmp_path / "run", space)
    stopping = {k: v for k, v in NAMED_CALLBACKS["early_stopping"].items() if k != "mode"}
    named = {**NAMED_CALLBACKS, "early_stopping": stopping}
    if "max_epochs" in trainer:  # no EarlyStopping: nothing ends a trial
        named.pop("early_stopping")
    cfg["trainer"] |= {"callbacks": named, "enable_checkpointing": True, **trainer}
    cfg["search"] |= {"monitor": "val_acc", "mode": "max"}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.warns(UserWarning, match=said):
        search_from_config(load_config(config))
    assert not (tmp_path / "run").exists()


def test_a_searched_stopping_monitor_is_not_warned_of_for_its_other_values(tmp_path):
    # the user searches which metric stops the trials: a value other than the search's
    # monitor is meant, and no trial is warned of as every trial would be
    import warnings

    cfg = _hydra_config(tmp_path / "run", {
        "trainer.callbacks.early_stopping.monitor": {"choice": ["val_acc", "val_loss"]}})
    cfg["trainer"] |= {"callbacks": NAMED_CALLBACKS, "enable_checkpointing": True}
    cfg["search"] |= {"monitor": "val_acc", "mode": "max"}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search_from_config(load_config(config))
    assert not [w for w in caught if "(EarlyStopping) monitors" in str(w.message)]


def test_a_space_key_naming_a_hydra_nodes_target_names_the_way_to_choose_the_class(tmp_path):
    # a Hydra sweep searches model.optimizer._target_=torch.optim.SGD,torch.optim.Adam; in a
    # search config that key was refused as "'_target_' is not an argument of SGD
    # (model.optimizer); accepted: params, lr, ...", no word of what to write
    values = ["torch.optim.SGD", "torch.optim.Adam"]
    cfg = _hydra_config(tmp_path / "run", {"model.optimizer._target_": {"choice": values}})
    with pytest.raises(ConfigError) as info:
        search_from_config(cfg)
    assert str(info.value).startswith(
        "space key 'model.optimizer._target_' names a node's _target_, which a group at the "
        "node cannot change; choose the node whole, its classes as _target_ nodes: "
        "model.optimizer: {choice: [{_target_: torch.optim.SGD}, {_target_: torch.optim.Adam}]}"
        " (keys under it, model.optimizer.<name>, still set values in the chosen node)"), \
        str(info.value)
    with pytest.raises(ConfigError, match=r"^space key 'model._target_': the class of the "
                                          r"model section cannot be searched"):
        search_from_config(_hydra_config(tmp_path / "run", {"model._target_": {
            "choice": ["tests.helpers.CallableOptNet"]}}))
    # the advice is taken: each chosen node merged over the config's, _partial_ kept
    cfg["search"]["space"] = {"model.optimizer": {"choice": [{"_target_": v} for v in values]}}
    assert search_from_config(cfg).run().best is not None
    assert not (tmp_path / "other").exists()


def test_a_hydra_primary_config_given_to_lightning_nas_says_what_to_write(tmp_path,
                                                                          monkeypatch):
    # `lightning-nas search configs/train.yaml`: its defaults list composes config groups,
    # which lightning-nas does not; was: "paths.output_dir='${hydra:runtime.output_dir}':
    # ... is an OmegaConf interpolation", or without one "unknown config section 'defaults'"
    monkeypatch.chdir(HYDRA)
    with pytest.raises(ConfigError) as info:
        load_config("configs/train.yaml")
    said = str(info.value)
    assert said.startswith(
        "configs/train.yaml is a Hydra config: its defaults list composes the config groups "
        "data: digits, model: digits, callbacks: default, trainer: default, which "
        "lightning-nas does not compose; a search config names the groups' files as its "
        "sections (data: configs/data/digits.yaml, model: configs/model/digits.yaml, "
        "trainer: configs/trainer/default.yaml) beside a search: block, as the README's "
        "Hydra projects section shows; or sweep the project with Hydra's -m and "
        "hydra/sweeper=lightning_nas"), said
    assert main(["search", "configs/train.yaml"]) == 2


def test_a_named_callback_is_named_as_written_in_the_searchs_warnings(tmp_path):
    # the user wrote trainer.callbacks.early_stopping; was: named by its place in the list
    # the mapping is built into, "trainer.callbacks[1] (EarlyStopping)", a key never written
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    stopping = {**NAMED_CALLBACKS["early_stopping"], "monitor": "val_loss", "mode": "min"}
    cfg["trainer"] |= {"callbacks": {**NAMED_CALLBACKS, "early_stopping": stopping},
                       "enable_checkpointing": True}
    cfg["search"] |= {"monitor": "val_acc", "mode": "max"}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.warns(UserWarning, match=r"monitors 'val_loss'") as caught:
        search_from_config(load_config(config))
    said = [str(w.message) for w in caught if "monitors 'val_loss'" in str(w.message)]
    assert said[0].startswith("trainer.callbacks.early_stopping (EarlyStopping) monitors "
                              "'val_loss' (min), the search 'val_acc' (max)")


def test_a_run_of_named_callbacks_stored_before_their_names_were_kept_resumes(tmp_path):
    # the names ride in the config's search block, which a resume does not compare: a run
    # an older version stored (its config without them) resumes, its trials kept
    from lightning_nas.config.node_places import NAMES_KEY
    from lightning_nas.results import TrialStatus
    from lightning_nas.store import RunStore

    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"callbacks": {"early_stopping": NAMED_CALLBACKS["early_stopping"]}}
    cfg["search"] |= {"budget": 1, "monitor": "val_acc", "mode": "max"}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert search_from_config(load_config(config)).run().best is not None
    store = RunStore(tmp_path / "run" / "search.db")
    stored = store.get_meta("config")
    assert stored["search"][NAMES_KEY] == {"callbacks": ["early_stopping"]}
    del stored["search"][NAMES_KEY]  # as a run stored before the change holds it
    store.set_meta("config", stored)
    store.close()
    result = search_from_config(load_config(config, ["--search.budget=2"])).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2


def test_a_named_callback_is_named_as_written_in_a_schedulers_refusal(tmp_path):
    # was: "... but trainer.callbacks[0] (EarlyStopping) would end a trial at another epoch"
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"callbacks": {"early_stopping": NAMED_CALLBACKS["early_stopping"]},
                       "max_epochs": 4}
    cfg["search"] |= {"scheduler": "median", "monitor": "val_acc", "mode": "max"}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        search_from_config(load_config(config))
    assert "but trainer.callbacks.early_stopping (EarlyStopping) would end a trial at " \
           "another epoch" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_a_named_logging_callback_without_a_logger_is_named_as_written(tmp_path):
    # the dry build's refusal (trial_logs.checked_loggers); was: "trainer.callbacks[0]
    # (LearningRateMonitor) logs to the Trainer's logger, ..."
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"callbacks": {"lr_monitor": {
        "_target_": "lightning.pytorch.callbacks.LearningRateMonitor"}}, "logger": False}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        search_from_config(load_config(config))
    assert "trainer.callbacks.lr_monitor (LearningRateMonitor) logs to the Trainer's " \
           "logger" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_a_named_callback_is_named_as_written_in_a_fits_warnings(tmp_path, capsys):
    # lightning-nas fit of a Hydra-style config (no search block); was: "trainer.callbacks[1]
    # (EarlyStopping) monitors 'val_loss' (min), the fit 'val_acc' (max): ...", the place in
    # the list the mapping is built into, which the user never wrote
    cfg = _hydra_config(tmp_path / "run", {})
    del cfg["search"]
    stopping = {**NAMED_CALLBACKS["early_stopping"], "monitor": "val_loss", "mode": "min"}
    cfg["trainer"] |= {"callbacks": {**NAMED_CALLBACKS, "early_stopping": stopping},
                       "enable_checkpointing": True}
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["fit", str(config), "--print_config", "--out", str(tmp_path / "fit")]) == 0
    out, err = capsys.readouterr()
    assert "lightning-nas fit: warning: trainer.callbacks.early_stopping (EarlyStopping) " \
           "monitors 'val_loss' (min), the fit 'val_acc' (max)" in err, err
    assert set(yaml.safe_load(out)) == set(cfg)  # as written: no block of lightning-nas's own


W_AND_B = "lightning.pytorch.loggers.WandbLogger"


@pytest.mark.parametrize("command", ["search", "fit", "oneshot"])
def test_two_named_w_and_b_loggers_are_named_as_written_in_their_refusal(
        command, tmp_path, capsys):
    # the template's logger/many_loggers.yaml style; was: "trainer.logger[0] and
    # trainer.logger[2] are both W&B loggers", the places in the list the mapping is built into
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"logger": {"wandb_a": {"_target_": W_AND_B, "project": "a"},
                                  "csv": NAMED_LOGGERS["csv"],
                                  "wandb_b": {"_target_": W_AND_B, "project": "b"}}}
    block = cfg.pop("search")  # a fit's config has none, a one-shot run's a block of its own
    cfg |= {"search": block} if command == "search" else {"oneshot": {
        "run_dir": str(tmp_path / "run")}} if command == "oneshot" else {}
    config = tmp_path / f"{command}.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main([command, str(config), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert f"lightning-nas {command}: error: trainer.logger.wandb_a and trainer.logger.wandb_b " \
           f"are both W&B loggers (WandbLogger): " in err, err
    assert "(trainer.logger.wandb_b's {'project': 'b'})" in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("node", "said"), [
    ({**NAMED_CALLBACKS["early_stopping"], "patiense": 3},
     "trainer.callbacks.early_stopping.patiense: not an argument of EarlyStopping.__init__"),
    ({"_target_": "lightning.pytorch.callbacks.EarlyStoping"},
     "trainer.callbacks.early_stopping='lightning.pytorch.callbacks.EarlyStoping': module "),
], ids=["argument", "class"])
def test_a_named_callback_nodes_bad_argument_or_class_is_named_as_written(node, said, tmp_path):
    # check_trainer_kwargs; was: "trainer.callbacks[1].patiense: not an argument of ...",
    # "trainer.callbacks[1]='lightning.pytorch.callbacks.EarlyStoping': ..."
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {"callbacks": {**NAMED_CALLBACKS, "early_stopping": node}}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        search_from_config(load_config(config))
    assert str(info.value).startswith(said), info.value
    assert not (tmp_path / "run").exists()


def test_a_named_accumulation_scheduler_is_named_as_written_where_no_validation_runs(
        tmp_path):
    # check_validation_runs' count of batches (accumulation); was: "(of trainer.callbacks[0]
    # (GradientAccumulationScheduler)'s factors {0: 1, 1: 2}: at most 6 batches)"
    cfg = _hydra_config(tmp_path / "run", {"model.net.width": {"choice": [4, 8]}})
    cfg["trainer"] |= {
        "max_epochs": -1, "max_steps": 4, "val_check_interval": 50,
        "check_val_every_n_epoch": None, "limit_train_batches": 10,
        "callbacks": {"rich_progress_bar": None, "accumulation": {
            "_target_": "lightning.pytorch.callbacks.GradientAccumulationScheduler",
            "scheduling": {0: 1, 1: 2}}}}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        search_from_config(load_config(config))
    assert "max_steps=4 (of trainer.callbacks.accumulation (GradientAccumulationScheduler)'s " \
           "factors {0: 1, 1: 2}: at most 6 batches) runs no validation" in str(info.value)
    assert not (tmp_path / "run").exists()
