"""Bad input on the ``lightning-nas`` command line is refused before training (and before
the run folder) with exit code 2 and one clear line: loader arguments, overrides of
searched keys, misspelt sections, options and words, YAML syntax errors, a config given
with LightningCLI's flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.config.sections import unknown_section


def test_a_batch_size_of_0_is_refused_before_the_run_folder(config, tmp_path, capsys):
    # was: trials 1 and 2 failed in their train_dataloader ("batch_size should be a
    # positive integer value, but got batch_size=0"), then "failed the same way in
    # training" stopped the search, its run folder and two failed trials written
    assert main(["search", str(config), "--data.batch_size=0"]) == 2
    assert "data.batch_size=0: a DataLoader's batch_size must be an integer >= 1" in \
        capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, message", [
    ("--data.loader={batch_size: 0}", "data.loader.batch_size=0: a DataLoader's batch_size "
                                      "must be an integer >= 1"),
    ("--data.num_workers=-1", "data.num_workers=-1: a DataLoader's num_workers must be an "
                              "integer >= 0"),
], ids=["nested-batch_size", "num_workers"])
def test_loader_arguments_torch_refuses_are_refused_before_the_run_folder(
        config, tmp_path, capsys, override, message):
    # was: let be (only a top-level batch_size below 1 was refused): trials 1 and 2 failed
    # in their train_dataloader, then "failed the same way" stopped the search
    cfg = yaml.safe_load(config.read_text())
    cfg["data"] = {"class_path": "tests.helpers.LoaderArgsData",
                   "init_args": {"loader": {"batch_size": 32}}}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config), override]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override", ["--model.width=64", "--model.init_args.width=64"])
def test_an_override_of_a_searched_key_is_refused(config, capsys, override):
    # every trial took the space's value: the override was ignored without a word
    assert main(["search", str(config), override]) == 2
    err = capsys.readouterr().err
    assert "sets a key the search space searches ('width')" in err
    assert "--search.space.width={fixed: 64}" in err


def test_a_config_dict_whose_searched_group_drops_keys_is_refused_before_training(
        tmp_path, capsys):
    # was: trained, every trial (best_config.yaml, the checkpoint) without `nesterov: true`
    run = tmp_path / "run"
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.DictArgNet",
                  "init_args": {"opt_cfg": {"momentum": 0.9, "nesterov": True}}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1, "accelerator": "cpu"},
        "search": {"space": {"opt_cfg": {"momentum": {"choice": [0.5, 0.8]}}}, "budget": 1,
                   "monitor": "val_acc", "run_dir": str(run), "verbose": False},
    }))
    assert main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert ("model.init_args.opt_cfg has the key nesterov, which the search space's group "
            "'opt_cfg' does not set: the group gives every trial model.init_args.opt_cfg as a "
            "whole, so it would be lost. To fix it, add {nesterov: {fixed: true}} to the group "
            "'opt_cfg' in search.space (--search.space.opt_cfg.nesterov={fixed: true})") in err
    assert "Traceback" not in err and not run.exists()  # nothing trained, nothing written
    # `fit` trains the config as it is (its space sets nothing): nothing to lose, no refusal
    assert main(["fit", str(path), f"--out={tmp_path / 'fit'}"]) == 0
    assert main(["fit", str(path), "--model.opt_cfg.nesterov=false",
                 f"--out={tmp_path / 'fit2'}"]) == 0
    assert main(["fit", str(path), "--search.space=missing_space.yaml",  # not read either
                 f"--out={tmp_path / 'fit3'}"]) == 0
    # the fix it names: every trial keeps nesterov
    assert main(["search", str(path), "--search.space.opt_cfg.nesterov={fixed: true}"]) == 0
    opt_cfg = yaml.safe_load((run / "best_config.yaml").read_text())["model"]["init_args"][
        "opt_cfg"]
    assert opt_cfg["nesterov"] is True and opt_cfg["momentum"] in (0.5, 0.8)
    ckpt = torch.load(run / "best.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["hyper_parameters"]["opt_cfg"] == opt_cfg


@pytest.mark.parametrize("override, message", [
    ("--search.optimizer=NGOp", "unknown optimizer 'NGOp'; close names: NGOpt"),
    ("--search.budgt=3", "unknown search setting 'budgt'; did you mean 'budget'?"),
    ("--trainer.max_epoch=3", "unknown Trainer argument 'max_epoch'; did you mean 'max_epochs'"),
    ("--search.space.width={choise: [8]}", "unknown space kind 'choise' at 'width'"),
    ("--search.space.widht={choice: [8]}", "space key 'widht' is not an argument of TinyNet"),
    ("--serch.budget=3", "unknown config section 'serch'; did you mean 'search'?"),
    ("--search.optimizer.budget=3", "--search.optimizer.budget: the config gives "
                                    "search.optimizer: 'RandomSearch', not a mapping with keys"),
    ("--search.space..width={choice: [8]}", "override '--search.space..width={choice: [8]}' "
                                            "has an empty key between two dots"),
    ("--model.=3", "override '--model.=3' has an empty key at its end"),
    ("--=1", "override '--=1' names no key"),
])
def test_bad_input_exits_2_with_a_clear_message(config, tmp_path, capsys, override, message):
    assert main(["search", str(config), override]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "run" / "trials").exists()  # nothing trained


@pytest.mark.parametrize("overrides, said", [
    (["--search.optimizer.budget=3"], ["got the mapping {'budget': 3}, which names no "
                                       "optimizer (an override under it, --search.optimizer."
                                       "budget=3, makes search.optimizer a mapping of the "
                                       "override's keys alone where the config sets no "
                                       "optimizer)", "`budget` is a setting of the search "
                                       "itself: --search.budget=3 sets the search's budget"]),
    (["--search.optimizer.num_workers=2"], ["--search.num_workers=2 sets the search's "
                                            "num_workers"]),
    (["--search.optimizer.lr=0.1"], ["{'lr': 0.1}, which names no optimizer"]),
])
def test_an_override_under_an_optimizer_the_config_does_not_set_says_what_it_made(
        config, tmp_path, capsys, overrides, said):
    # was: "`optimizer` must be a registry name, got {'budget': 3}"
    cfg = yaml.safe_load(config.read_text())
    del cfg["search"]["optimizer"]
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config), *overrides]) == 2
    err = capsys.readouterr().err
    for text in said:
        assert text in err
    assert ("a registry name (a string such as SurrogateEvolution, NGOpt, RandomSearch: "
            "search.optimizer: NGOpt, --search.optimizer=NGOpt)" in err
            and "set_name('MyOpt', register=True)" in err)  # the shapes, and settings
    assert ("sets the search's" in err) == (overrides != ["--search.optimizer.lr=0.1"])
    assert not (tmp_path / "run").exists()  # before any training: nothing written
    # an override that works stays so: a later one gives the name
    assert main(["search", str(config), "--print_config", *overrides,
                 "--search.optimizer=NGOpt"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["optimizer"] == "NGOpt"


_NULL_ONLY = "; null only, as LightningCLI writes them: "


@pytest.mark.parametrize("command, valid", [
    ("search", "model, data, trainer, search, seed_everything, optimizer, lr_scheduler"
               f"{_NULL_ONLY}ckpt_path, weights_only"),
    ("oneshot", "model, data, trainer, oneshot, seed_everything"
                f"{_NULL_ONLY}optimizer, lr_scheduler, ckpt_path, weights_only"),
    ("fit", "model, data, trainer, seed_everything, search, optimizer, lr_scheduler"
            f"{_NULL_ONLY}ckpt_path, weights_only"),
])
def test_a_misspelt_section_lists_the_sections_its_command_takes(config, capsys, command,
                                                                 valid):
    # was: "valid keys: model, data, trainer, search, oneshot, seed_everything" for each
    # command: `oneshot` for a search, without the optimizer sections a search takes; and
    # without LightningCLI's ckpt_path, which a config may hold as null (a misspelt
    # `ckpt_pth: null` had no did-you-mean)
    cfg = "examples/oneshot_digits/oneshot.yaml" if command == "oneshot" else str(config)
    assert main([command, cfg, "--modle.width=3"]) == 2
    said = "unknown config section 'modle'; did you mean 'model'? valid keys: "
    assert f"{said}{valid}\n" in capsys.readouterr().err
    said = "unknown config section 'ckpt_pth'; did you mean 'ckpt_path'? valid keys: "
    assert str(unknown_section("ckpt_pth", command)) == f"{said}{valid}"


@pytest.mark.parametrize("command, key, other", [
    ("search", "oneshot", "oneshot"), ("fit", "oneshot", "oneshot"),
    ("oneshot", "search", "search")])
def test_another_commands_section_names_that_command(command, key, other):
    # was: "unknown config section 'oneshot'; valid keys: ..." alone, for a one-shot config
    # given to `lightning-nas search`
    said = str(unknown_section(key, command))
    assert said.startswith(f"unknown config section {key!r}; valid keys: ")
    assert said.endswith(f"; {key!r} is a section of lightning-nas {other}'s configs (run "
                         f"one with lightning-nas {other} CONFIG)")


@pytest.mark.parametrize("key, message", [
    ("batch_size", "space key 'batch_size' is not an argument of TinyNet.__init__; it is one "
                   "of BlobData's (the data): write data.batch_size; accepted: "),
    ("max_epochs", "space key 'max_epochs' is not an argument of TinyNet.__init__; it is a "
                   "Trainer argument: write trainer.max_epochs; accepted: "),
])
def test_a_plain_space_key_of_the_data_or_the_trainer_says_its_path(config, tmp_path, capsys,
                                                                    key, message):
    # was: "space key 'batch_size' is not an argument of TinyNet.__init__; accepted: width,
    # ...", a plain key being the model's, without a word of the data.*/trainer.* it needs
    assert main(["search", str(config), f"--search.space.{key}={{choice: [32, 64]}}"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, needle", [
    (["--trainer.max_epochs=abc"], "trainer.max_epochs='abc': expected int or null"),
    (["--trainer.max_epochs=-5"], "trainer.max_epochs=-5: must be >= 0, or -1 (no limit)"),
    (["--trainer.accelerator=tpu"], "trainer.accelerator='tpu': ModuleNotFoundError"),
    (["--trainer.strategy=foo"], "trainer.strategy='foo': ValueError: You selected an invalid"),
    (["--model.depth=abc"], "model.depth='abc': expected int"),
    (["--model.activation=gelu", "--search.space={width: {choice: [8, 16]}}"],
     "model.activation='gelu': KeyError: 'gelu'"),
    (["--search.seed=abc"],
     "`seed` must be an integer from 0 to 4294967295 (2**32 - 1) or null, got 'abc'"),
])
def test_errors_every_trial_would_hit_are_one_line_before_training(config, tmp_path, capsys,
                                                                    args, needle):
    assert main(["search", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lightning-nas search: error: ")
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing trained, no store


def test_yaml_syntax_error_is_one_line_with_file_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("model: tests.helpers.TinyNet\nsearch:\n  space: {width: {choice: [8}}\n")
    assert main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lightning-nas search: error: {path}:3:29: expected ',' or ']', but got "
                   f"'}}' (while parsing a flow sequence)\n")


@pytest.mark.parametrize("argv, message", [
    # was: "override '--from-scratch' has no value; write --from-scratch=VALUE", and
    # "unknown config section 'max-epochs' / 'monitr' / 'budget'; valid keys: model, ..."
    (["finetune", "{run}", "--from-scratch"], "unrecognized option --from-scratch; did you "
                                              "mean --from_scratch? options of finetune: "
                                              "--max_epochs, --from_scratch"),
    (["finetune", "{run}", "--max-epochs", "2"], "did you mean --max_epochs?"),
    (["fit", "{cfg}", "--monitr", "val_acc"], "did you mean --monitor? options of fit: "
                                              "--monitor, --mode, --out"),
    (["search", "{cfg}", "--budget", "3"], "unrecognized option --budget; did you mean "
                                           "--search.budget? options of search: --print_config"),
    (["show", "{run}", "--topp", "3"], "did you mean --top?"),
])
def test_a_misspelt_option_names_the_commands_own(config, tmp_path, capsys, argv, message):
    argv = [a.format(cfg=config, run=tmp_path / "none") for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("argv, files", [
    # was: "unrecognized option --config; did you mean --print_config?", and fit's without
    # a word that the files are positional (LightningCLI's `fit --config best_config.yaml`)
    (["search", "--config", "{cfg}"], "search FILE [FILE ...]"),
    (["search", "--config={cfg}"], "search FILE [FILE ...]"),
    (["fit", "-c", "{cfg}", "--trainer.max_epochs=1"], "fit FILE [FILE ...]"),
    (["oneshot", "--config", "{cfg}"], "oneshot FILE"),
])
def test_a_config_given_with_lightningclis_flag_says_files_are_positional(config, tmp_path,
                                                                          capsys, argv, files):
    argv = [a.format(cfg=config) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    flag = argv[1].split("=")[0]
    assert capsys.readouterr().err.endswith(
        f"lightning-nas {argv[0]}: error: {flag} is not needed here: give config files as "
        f"positional arguments (lightning-nas {files})\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    # was: "expected an override like --search.budget=5, got 'darts.yaml'" (an override
    # oneshot refuses, and no word that oneshot takes one config file)
    (["oneshot", "{os}/oneshot.yaml", "{os}/darts.yaml", "--trainer.max_epochs=1"],
     "oneshot takes exactly one config file (search and fit merge several), got also "
     "'{os}/darts.yaml'; merge them into one, or give their values as overrides, e.g. "
     "--oneshot.num_candidates=5 or --trainer.max_epochs=2"),
    (["oneshot", "{os}/oneshot.yaml", "budget"],
     "expected an override like --oneshot.num_candidates=5 or --trainer.max_epochs=2, got "
     "'budget'"),
    (["finetune", "{run}", "epochs"],
     "expected an override like --trainer.accelerator=cpu or --model.lr=5e-4, got "
     "'epochs'"),
])
def test_a_word_that_is_no_override_names_one_the_command_takes(tmp_path, capsys, argv,
                                                                 message):
    examples = Path(__file__).resolve().parents[1] / "examples" / "oneshot_digits"
    argv = [a.format(os=examples, run=tmp_path / "none") for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lightning-nas {argv[0]}: error: {message.format(os=examples)}\n"
    assert not captured.out and not (tmp_path / "none").exists()


@pytest.mark.parametrize("command", ["search", "fit", "oneshot", "finetune"])
@pytest.mark.parametrize("words, cut, quoted", [
    (["--search.space.width.choice=[8,", "16]"], "--search.space.width.choice=[8,",
     "'--search.space.width.choice=[8, 16]'"),
    (["--model.init_args={depth:", "2,", "lr:", "0.1}"], "--model.init_args={depth:",
     "'--model.init_args={depth: 2, lr: 0.1}'"),
    (["--trainer.devices", "[0,", "1]"], "--trainer.devices [0,", "--trainer.devices '[0, 1]'"),
])
def test_an_override_the_shell_cut_at_a_space_says_to_quote_it(config, tmp_path, capsys,
                                                              command, words, cut, quoted):
    # was: the words after the cut taken for config files ("config file 16] does not
    # exist"), or for words that are no override ("expected an override like ..., got '16]'")
    first = str(tmp_path / "none") if command == "finetune" else str(config)
    assert main([command, first, *words, "--trainer.max_epochs=1"]) == 2
    rest = " ".join(words[1:] if "=" in words[0] else words[2:])
    assert capsys.readouterr().err == (
        f"lightning-nas {command}: error: override {cut} was cut at a space: its value "
        f"opens a bracket that the words after it, {rest!r}, close (a shell splits an "
        f"unquoted word at each space); quote it: {quoted}\n")
    assert not (tmp_path / "run").exists() and not (tmp_path / "none").exists()
