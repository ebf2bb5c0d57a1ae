"""``search_from_config``: the search a config builds (its seed, goal and run folder), the
seed default and ``seed_everything: true`` (drawn, resumed with), and the errors it raises
before any training; a config LightningCLI wrote is taken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.facade import Search
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore
from tests.helpers_config import (
    broken,
    config,
)
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def test_search_from_config_builds_a_search(tmp_path):
    run_dir = tmp_path / "run"
    search = search_from_config(config(run_dir))
    assert isinstance(search, Search)
    assert search.model.target is TinyNet and search.model.init_args == {"lr": 0.1}
    assert search.data.target is BlobData and search.data.init_args == {"n": 32}
    assert search.trainer == {"max_epochs": 1, "limit_train_batches": 1}
    assert search.settings.goal.budget == 2 and search.run_dir == run_dir
    assert search.space.names() == ["width", "activation"]
    assert search.settings.goal.seed == 7  # from seed_everything
    assert not (run_dir / "trials").exists()


def test_search_seed_wins_over_seed_everything(tmp_path):
    cfg = config(tmp_path / "run")
    cfg["search"]["seed"] = 3
    assert search_from_config(cfg).settings.goal.seed == 3
    del cfg["seed_everything"], cfg["search"]["seed"]
    assert search_from_config(cfg).settings.goal.seed == 0


def test_a_seed_everything_out_of_range_is_refused_beside_a_search_seed(tmp_path):
    # was: search.seed wins, and seed_everything -5 was ignored without a word (refused
    # where it is the seed)
    for value in (-5, 2**32):
        cfg = config(tmp_path / "run")
        cfg["search"]["seed"], cfg["seed_everything"] = 3, value
        with pytest.raises(ConfigError, match="seed_everything"):
            search_from_config(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("block, goal", [
    ({}, ("val_acc", "max", None)),
    ({"monitor": "val_loss"}, ("val_loss", "min", None)),  # was: max, the highest loss won
    ({"monitor": "val_loss", "mode": "max"}, ("val_loss", "max", None)),
    # was: refused, "monitor='val_acc', mode='max' disagrees with the first objective"
    ({"objectives": {"val_loss": "min", "params": "min"}}, ("val_loss", "min", ["val_loss",
                                                                              "params"])),
    # was: refused, "monitor=None, mode=None disagrees" (a file's monitor nulled on the
    # command line, as the error said to leave them out)
    ({"monitor": None, "mode": None, "objectives": {"val_loss": "min", "params": "min"}},
     ("val_loss", "min", ["val_loss", "params"])),
])
def test_the_search_blocks_goal_is_what_it_gives(tmp_path, block, goal):
    cfg = config(tmp_path / "run")
    cfg["search"].update(block)
    settings = search_from_config(cfg).settings.goal
    names = None if settings.objectives is None else settings.objectives.names
    assert (settings.monitor, settings.mode, names) == goal
    cfg["search"]["monitor"] = "val_score"  # its name says no mode: refused, not taken as max
    cfg["search"].pop("mode", None), cfg["search"].pop("objectives", None)
    with pytest.raises(ConfigError, match=r"`monitor: 'val_score'` needs a `mode`"):
        search_from_config(cfg)


@pytest.mark.parametrize(("change", "needles"), [
    (lambda c: c["search"].update(budgt=3),
     ["unknown search setting 'budgt'", "did you mean 'budget'"]),
    (lambda c: c["search"].pop("space"), ["search.space"]),
    (lambda c: c.pop("model"), ["needs `model`"]),
    (lambda c: c.update(trainr={}), ["unknown config section 'trainr'", "'trainer'"]),
    (lambda c: c["search"].update(optimizer="NGOp"), ["unknown optimizer 'NGOp'", "NGOpt"]),
    (lambda c: c["search"].update(optimizer="RandomSerch"), ["RandomSearch"]),
    (lambda c: c["trainer"].update(max_epoch=1),
     ["unknown Trainer argument 'max_epoch'", "max_epochs"]),
    (lambda c: c["search"]["space"].update(num_layers={"choice": [1, 2]}),
     ["'num_layers'", "TinyNet.__init__", "width, activation, lr, depth"]),
    (lambda c: c["model"].update(init_arg={}), ["model: unknown key 'init_arg'"]),
    (lambda c: c["search"]["space"].update(k={"choise": [3, 5]}),
     ["unknown space kind 'choise'"]),
    (lambda c: c["search"].update(mode="maximum"), ["mode"]),
    # was: a falsy block read as no block, "the config needs `search.space`", where a later
    # file's `search: []` had replaced an earlier file's whole block
    (lambda c: c.update(search=[]), ["`search` must be a mapping of search settings, got []"]),
    (lambda c: c.update(search=False), ["`search` must be a mapping of search settings, got "
                                        "False"]),
])
def test_search_from_config_errors_before_training(tmp_path, change, needles):
    msg, run_dir = broken(tmp_path, change)
    for needle in needles:
        assert needle in msg
    assert not (run_dir / "trials").exists()
    assert not (run_dir / "search.db").exists()


def test_seed_everything_true_picks_a_seed_and_an_int_is_used(tmp_path):
    base = {"model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
            "search": {"space": {"width": {"choice": [4, 8]}}, "run_dir": str(tmp_path)}}
    assert search_from_config({**base, "seed_everything": 11}).settings.goal.seed == 11
    seed = search_from_config({**base, "seed_everything": True}).settings.goal.seed
    assert isinstance(seed, int) and not isinstance(seed, bool)
    # was: seeded with 0, though LightningCLI (and `lightning-nas fit`) read false as none
    assert search_from_config({**base, "seed_everything": False}).settings.goal.seed is None
    assert search_from_config({**base, "seed_everything": False, "search": {
        **base["search"], "seed": 3}}).settings.goal.seed == 3
    assert search_from_config(base).settings.goal.seed == 0
    # a run an older version made with seed_everything false (seeded with 0) resumes with it
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("settings", {"seed": 0})
    assert search_from_config({**base, "seed_everything": False}).settings.goal.seed == 0


def test_a_seed_out_of_range_names_the_key_the_user_wrote(tmp_path):
    # was: "`seed` must be an integer >= 0 or null, got -1" for --seed_everything=-1 (no
    # search.seed: the search's seed is seed_everything's)
    path = tmp_path / "exp.yaml"
    cfg = config(tmp_path / "run")
    path.write_text(yaml.safe_dump(cfg))
    # (was: "an integer >= 0 or null", "below 2**32": the range whole, true and false now)
    valid = "must be an integer from 0 to 4294967295 (2**32 - 1)"
    for value in (-1, 2**32):
        with pytest.raises(ConfigError, match=re.escape(
                f"`seed_everything` {valid}, true (a drawn seed) or false (no seeding), got "
                f"{value}")):
            search_from_config(load_config(path, [f"--seed_everything={value}"]))
        with pytest.raises(ConfigError, match=re.escape(f"`seed` {valid} or null, got {value}")):
            search_from_config(load_config(path, [f"--search.seed={value}"]))
    assert not (tmp_path / "run").exists()
    assert search_from_config(load_config(path, ["--seed_everything=3"])).settings.goal.seed == 3


def test_a_null_run_dir_is_the_documented_default(tmp_path):
    # was: runs/nas (and runs/oneshot) for --search.run_dir=null, not runs/<config name>
    path = tmp_path / "exp2.yaml"
    cfg = config(tmp_path / "run")
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path, ["--search.run_dir=null"])["search"]["run_dir"] == "runs/exp2"
    cfg["search"]["run_dir"] = None
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["search"]["run_dir"] == "runs/exp2"
    assert search_from_config(load_config(path)).settings.run_dir == Path("runs/exp2")
    oneshot = {k: v for k, v in cfg.items() if k != "search"}
    path.write_text(yaml.safe_dump({**oneshot, "oneshot": {"run_dir": None}}))
    assert load_config(path)["oneshot"]["run_dir"] == "runs/exp2"


def test_a_config_lightningcli_wrote_is_taken_and_its_unsupported_keys_refused(tmp_path):
    # was: "unknown config section 'optimizer'" for the null keys LightningCLI writes
    # (fit --print_config, every run's config.yaml)
    written = {**config(tmp_path), "optimizer": None, "lr_scheduler": None,
               "ckpt_path": None, "weights_only": None}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(written))
    cfg = load_config(path)
    assert not {"optimizer", "lr_scheduler", "ckpt_path", "weights_only"} & set(cfg)
    assert search_from_config(cfg).settings.goal.budget == 2
    with pytest.raises(ConfigError, match=r"`ckpt_path: 'last.ckpt'` is the checkpoint "
                                          r"LightningCLI's fit resumes from.*leave it null"):
        load_config(path, ["--ckpt_path=last.ckpt"])
    adam = {"class_path": "torch.optim.Adam"}
    path.write_text(yaml.safe_dump({**written, "optimizer": adam}))  # a search applies it
    assert load_config(path)["optimizer"] == {**adam, "init_args": {}}  # (test_cli_optimizer)
    oneshot = {k: v for k, v in written.items() if k != "search"}  # a supernet: its own
    path.write_text(yaml.safe_dump({**oneshot, "oneshot": {}, "optimizer": adam}))
    with pytest.raises(ConfigError, match="automatic configure_optimizers.*give the model"):
        load_config(path)


def test_seed_everything_true_resumes_with_the_seed_its_run_drew(tmp_path):
    # was: each invocation drew another seed, so the same command with a larger budget (or
    # after a crash) was refused: "search.seed: 1754834900, now 990750371"
    cfg = {**config(tmp_path), "seed_everything": True}
    cfg["search"]["budget"] = 1
    first = search_from_config(cfg)
    first.run()
    cfg["search"]["budget"] = 2
    again = search_from_config(cfg)
    assert again.settings.goal.seed == first.settings.goal.seed
    assert len(again.run().trials) == 2  # resumed: one more trial


def test_a_choice_of_class_path_mappings_at_a_plain_dict_argument_gives_the_chosen_dict(
        tmp_path):
    # Lightning's documented `optimizer_init: dict` pattern: the trial's module, best.yaml,
    # best_config.yaml and LightningCLI's build of it all hold the chosen mapping (was:
    # refused before training, "model.optimizer_init: Adam: the config does not give
    # required argument 'params'")
    pytest.importorskip("jsonargparse")
    from lightning_nas import load_best
    from tests.helpers_records import cli_model

    run = tmp_path / "run"
    cfg = config(run)
    options = [{"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}},
               {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1}}]
    cfg["model"] = {"class_path": "tests.helpers_config.OptimInitNet",
                    "init_args": {"spare": {"class_path": "no.such.Thing", "extra": 1}}}
    cfg["search"].update(budget=1, space={"model.optimizer_init": {"choice": options}})
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    search_from_config(load_config(path)).run()
    best = load_best(run)
    chosen = best["arch"]["model.optimizer_init"]
    assert chosen in options
    model = {"class_path": "tests.helpers_config.OptimInitNet",
             "init_args": {"spare": cfg["model"]["init_args"]["spare"], "optimizer_init": chosen}}
    assert best["model"] == model
    exported = yaml.safe_load((run / "best_config.yaml").read_text())["model"]
    assert exported == model
    hparams = torch.load(run / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert hparams["optimizer_init"] == cli_model(tmp_path, exported).hparams[
        "optimizer_init"] == chosen
