"""``lightning-nas finetune``'s own arguments: its thread count, the overrides it refuses,
and the model's arguments it takes (as ``fit`` does) or refuses before training."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback

from lightning_nas.cli import main


class ExportsAnother(Callback):
    """Exports trial ``trial`` of ``run_dir`` as the fine-tune's training ends, as a search
    of the folder that ended then would have exported its best."""

    def __init__(self, run_dir: str, trial: int) -> None:
        self.run_dir, self.trial = run_dir, trial

    def on_train_end(self, trainer, pl_module) -> None:
        from lightning_nas import export_best

        export_best(self.run_dir, trial_id=self.trial)


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two", ""])
def test_finetune_threads_not_a_count_names_the_value_and_the_range(tmp_path, capsys, value):
    # was: "threads must be a positive integer (...), or None for the trial's own; got 0",
    # None being no value a command line can give ('1.5': "invalid int value")
    with pytest.raises(SystemExit) as exit_:
        main(["finetune", str(tmp_path / "run"), "--threads", value, "--max_epochs", "1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"lightning-nas finetune: error: argument --threads: expected a whole number >= 1 "
        f"(torch threads; leave it out for the default), got {value!r}")
    assert list(tmp_path.iterdir()) == []


def test_finetune_names_the_overrides_it_refuses_and_one_epoch_count_of_two(config, tmp_path,
                                                                            capsys):
    # was: "finetune takes only --trainer.* overrides" naming none, and --max_epochs 1 with
    # --trainer.max_epochs=2 trained 1 epoch without a word
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    for argv, message in [
        (["--seed_everything", "4", "--trainer.max_epochs=1", "--data.batch_size=3"],
         "finetune takes only --trainer.* and --model.* overrides (it trains the best "
         "trial's model on its data), got --seed_everything=4, --data.batch_size=3"),
        (["--max_epochs", "1", "--trainer.max_epochs=2"],
         "--max_epochs 1 and --trainer.max_epochs=2 both set the fine-tune's epochs; give one"),
        # was: "max_epochs must be ..." (finetune()'s argument) for -5 and -1, and
        # "trainer.max_epochs=0 runs no validation" (a key not given) for 0
        *[(["--max_epochs", value], f"--max_epochs must be a positive integer (the "
           f"fine-tune's epochs), or -1 (no limit) beside --trainer.max_steps or "
           f"--trainer.max_time; got {value}") for value in ("-5", "0", "-1")],
        (["--max_epochs", "-1", "--trainer.max_steps=-1"],
         "--max_epochs must be a positive integer (the fine-tune's epochs), or -1 (no limit) "
         "beside --trainer.max_steps or --trainer.max_time; got -1; --trainer.max_steps=-1 "
         "is no limit"),
    ]:
        assert main(["finetune", str(run), *argv]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"lightning-nas finetune: error: {message}\n"
        assert not (run / "finetune").exists()  # refused before training
    assert main(["finetune", str(run), "--trainer.max_epochs=2"]) == 0
    assert "for 2 epochs" in capsys.readouterr().out


def test_finetune_takes_the_models_arguments_as_fit_does(config, tmp_path, capsys):
    # was: "finetune takes only --trainer.* overrides": from the command line a fine-tune
    # could not take a learning rate below the trial's (finetune(model_init_args=) could)
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    best = yaml.safe_load((run / "best.yaml").read_text())
    searched = best["arch"]["lr"]
    # a searched value replaced, said as finetune() says it, as the command's own line (was:
    # ".../lightning_nas/export.py:372: UserWarning: ..."); YAML values, as every override
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["finetune", str(run), "--max_epochs", "1", "--model.lr=5e-4"]) == 0
    assert (f"lightning-nas finetune: warning: model_init_args lr=0.0005 replaces trial "
            f"{best['trial']}'s searched lr={searched!r} in the fine-tune\n"
            ) in capsys.readouterr().err
    saved = torch.load(run / "finetune" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert saved["lr"] == 0.0005 and type(saved["lr"]) is float
    assert saved["width"] == best["arch"]["width"] and saved["activation"] == "relu"
    # LightningCLI's other spelling, a value after a space, a key the space does not search
    assert main(["finetune", str(run), "--model.init_args.activation", "tanh",
                 "--max_epochs=1"]) == 0
    saved = torch.load(run / "finetune_1" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert saved["activation"] == "tanh" and saved["lr"] == searched
    # the line says what was trained: a given argument the space does not search too
    assert (f"Fine-tuned lr={searched:.4g} width={best['arch']['width']} "
            f"(and activation=tanh) from trial ") in capsys.readouterr().out


def test_finetune_refuses_a_model_argument_it_cannot_give_before_training(config, tmp_path,
                                                                         capsys):
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    accepted = "width, activation, lr, depth, fail_width, nan_width, die_width, sleep"
    for argv, message in [
        # as `lightning-nas fit` names it (was: "finetune takes only --trainer.* overrides")
        (["--model.lrr=5e-4"], f"model.lrr: not an argument of TinyNet.__init__; did you "
                               f"mean 'lr'? accepted: {accepted}"),
        (["--model.init_args.depht", "2"], f"model.depht: not an argument of "
                                           f"TinyNet.__init__; did you mean 'depth'? "
                                           f"accepted: {accepted}"),
        (["--model.depth=two"], "model.depth='two': expected int (the annotation of "
                                "TinyNet.__init__)"),
        (["--model.class_path=tests.helpers.BlobData"],
         "finetune trains the best trial's model (its class, from its checkpoint): "
         "--model.class_path=tests.helpers.BlobData would replace it; give its arguments, "
         "--model.KEY=VALUE (e.g. --model.lr=5e-4), or train another config with "
         "lightning-nas fit"),
        # the best model's class (read from the run): its arguments checked as the dotted
        # form's (was: refused, "would replace it"); another class: refused
        (["--model={class_path: tests.helpers.TinyNet, init_args: {depth: two}}"],
         "model.depth='two': expected int (the annotation of TinyNet.__init__)"),
        (["--model={class_path: tests.helpers.BlobData, init_args: {n: 8}}"],
         "finetune trains the best trial's model (its class, from its checkpoint): "
         "--model={class_path: tests.helpers.BlobData, init_args: {n: 8}} would replace it; "
         "give its arguments, --model.KEY=VALUE (e.g. --model.lr=5e-4), or train another "
         "config with lightning-nas fit"),
        (["--model.depth.inner=2"],
         "finetune takes the model's own arguments, --model.KEY=VALUE, not a path into "
         "one (--model.depth.inner=2): give the whole value, --model.depth=..., or train "
         "RUN_DIR/best_config.yaml with lightning-nas fit, which takes any path"),
    ]:
        assert main(["finetune", str(run), "--max_epochs=1", *argv]) == 2, argv
        captured = capsys.readouterr()
        assert captured.err == f"lightning-nas finetune: error: {message}\n"
        assert not (run / "finetune").exists()  # refused before training


def test_finetune_gives_model_arguments_to_a_model_built_from_its_config(config, tmp_path,
                                                                         capsys):
    # a space naming a path (model.width): the model is built from the config (was:
    # "model ConfigBuilder('tests.helpers.TinyNet') is not a class: init_args are only ...")
    cfg = yaml.safe_load(config.read_text())
    cfg["search"]["space"] = {"model.width": {"choice": [8, 16]}, "lr": {"float": [0.05, 0.3]}}
    config.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    best = yaml.safe_load((run / "best.yaml").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["finetune", str(run), "--max_epochs=1", "--model.lr=5e-4",
                     "--model.activation=tanh"]) == 0
    assert (f"lightning-nas finetune: warning: model_init_args lr=0.0005 replaces trial "
            f"{best['trial']}'s searched lr=") in capsys.readouterr().err
    saved = torch.load(run / "finetune" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert (saved["lr"], saved["activation"], saved["width"]) == (
        0.0005, "tanh", best["arch"]["model.width"])


def _callbacks_described(callbacks: list) -> list[tuple]:
    """The ``EarlyStopping`` and ``LearningRateMonitor`` objects of ``callbacks`` as
    (class name, monitor, patience, mode, logging_interval), in their order."""
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor

    return [(type(cb).__name__, *(getattr(cb, name, None) for name in (
        "monitor", "patience", "mode", "logging_interval")))
        for cb in callbacks if isinstance(cb, (EarlyStopping, LearningRateMonitor))]


def test_finetune_trainer_overrides_merge_over_the_searchs_as_lightningcli_merges_them(
        config, tmp_path, capsys):
    # was: "finetune cannot append to the search's trainer.callbacks (--trainer.callbacks+=)",
    # and a key under the search's strategy node replaced that node (its class_path lost),
    # where LightningCLI fitting best_config.yaml with the same overrides merges them
    from lightning.pytorch.cli import LightningCLI

    from lightning_nas.config.instantiate import instantiate
    from lightning_nas.config.overrides import split_overrides
    from lightning_nas.errors import ConfigError

    ddp = "lightning.pytorch.strategies.DDPStrategy"
    cfg = yaml.safe_load(config.read_text())
    cfg["trainer"].update(max_epochs=1, callbacks=[{
        "class_path": "lightning.pytorch.callbacks.EarlyStopping",
        "init_args": {"monitor": "val_acc", "mode": "max"}}], strategy={
        "class_path": ddp, "init_args": {"process_group_backend": "gloo"}})
    config.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1"]) == 0
    overrides = ["--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks+=EarlyStopping",
                 "--trainer.callbacks.monitor=val_loss", "--trainer.callbacks.patience=5",
                 "--trainer.strategy.init_args.static_graph=true", "--trainer.max_epochs=2"]
    capsys.readouterr()
    assert main(["finetune", str(run), *overrides]) == 0, capsys.readouterr().err
    assert "for 2 epochs" in capsys.readouterr().out
    cli = LightningCLI(run=False, save_config_callback=None, args=[
        "--config", str(run / "best_config.yaml"), *overrides])
    # the fine-tune trained with LightningCLI's callbacks (the search's kept, two appended)
    states = torch.load(run / "finetune" / "best.ckpt", weights_only=False)["callbacks"]
    assert {key: state["patience"] for key, state in states.items()
            if key.startswith("EarlyStopping")} == {
        cb.state_key: cb.patience for cb in cli.trainer.callbacks
        if type(cb).__name__ == "EarlyStopping"}
    # the Trainer arguments, built without training, as LightningCLI's
    from lightning_nas.finetune_trainer import given_trainer

    base = yaml.safe_load((run / "best_config.yaml").read_text())["trainer"]
    ours = given_trainer(None, split_overrides(overrides), base)
    assert set(ours) == {"callbacks", "strategy", "max_epochs"}  # the arguments given
    want = [("EarlyStopping", "val_acc", 3, "max", None),
            ("LearningRateMonitor", None, None, None, None),
            ("EarlyStopping", "val_loss", 5, "min", None)]
    assert _callbacks_described(cli.trainer.callbacks) == want  # LightningCLI's
    assert _callbacks_described(instantiate(ours["callbacks"], "trainer.callbacks")) == want
    assert ours["strategy"] == {"class_path": ddp, "init_args": {
        "process_group_backend": "gloo", "static_graph": True}}  # the search's node kept
    theirs = cli.config["trainer"]["strategy"]
    assert theirs["class_path"] == ddp and all(
        theirs["init_args"][key] == value for key, value in ours["strategy"]["init_args"].items())
    assert ours["max_epochs"] == cli.trainer.max_epochs == 2  # a scalar: set
    # arguments the search was given as objects the store cannot keep: nothing to merge
    # into, so an append or a key under one is refused, named; given whole first, taken
    for given in (["--trainer.callbacks+=LearningRateMonitor"],
                  ["--trainer.callbacks.patience=5"]):
        with pytest.raises(ConfigError, match=r"the search gave trainer\.callbacks as objects, "
                                              r"which the store cannot keep"):
            given_trainer(None, split_overrides(given), {}, ["callbacks"])
    assert given_trainer(None, split_overrides([
        "--trainer.callbacks=[LearningRateMonitor]", "--trainer.callbacks+=EarlyStopping"]),
        {}, ["callbacks"]) == {"callbacks": [{"class_path": "LearningRateMonitor"},
                                             {"class_path": "EarlyStopping"}]}


def test_a_whole_finetune_trainer_override_merges_over_the_searchs_as_lightningcli(tmp_path):
    # --trainer='{...}' over best_config.yaml's Trainer settings: merged as LightningCLI's
    # --trainer CONFIG merges it (a strategy node of the search's class its init_args
    # merged, a list of callbacks in place of the search's); was: each argument it gives
    # in place of the search's, the strategy's process_group_backend lost
    from lightning_nas.config.overrides import split_overrides
    from lightning_nas.errors import ConfigError
    from lightning_nas.finetune_trainer import given_trainer
    from tests.helpers_config import cli_built

    monitor = "lightning.pytorch.callbacks.LearningRateMonitor"
    ddp = "lightning.pytorch.strategies.DDPStrategy"
    search = {"max_epochs": 3, "logger": False, "enable_progress_bar": False,
              "callbacks": [{"class_path": monitor, "init_args": {"log_momentum": True}}],
              "strategy": {"class_path": ddp, "init_args": {"process_group_backend": "gloo"}}}
    given = (f"--trainer={{max_epochs: 2, callbacks: [{{class_path: {monitor}, init_args: "
             f"{{logging_interval: step}}}}], strategy: {{class_path: {ddp}, init_args: "
             f"{{static_graph: true}}}}}}")
    cfg = {"model": {"class_path": "tests.helpers.TinyNet"},
           "data": {"class_path": "tests.helpers.BlobData"}}
    best, ours = tmp_path / "best_config.yaml", tmp_path / "finetune.yaml"
    best.write_text(yaml.safe_dump({**cfg, "trainer": search}))
    trainer = given_trainer(None, split_overrides([given]), search)
    ours.write_text(yaml.safe_dump({**cfg, "trainer": {**search, **trainer}}))  # as finetune()
    theirs = cli_built(best, given)["trainer"]
    assert {key: (value, theirs[key]) for key, value in cli_built(ours)["trainer"].items()
            if value != theirs[key]} == {}  # (ours, LightningCLI's)
    with pytest.raises(ConfigError) as info:  # (was: "over the config's Trainer settings")
        given_trainer(None, split_overrides(["--trainer=null"]), search)
    assert str(info.value).startswith(
        "--trainer=null: a whole trainer override is merged over the search's Trainer "
        "settings (best_config.yaml's, as the best trial trained with them), as "
        "LightningCLI's --trainer CONFIG: give a mapping")


def test_a_whole_finetune_trainer_override_gives_the_objects_it_holds_whole(tmp_path):
    # callbacks the search was given as objects: a --trainer='{callbacks: [...]}' (or a
    # file of it) gives the list whole, as --trainer.callbacks=[...] does, so an append
    # after it is taken; was refused: "the search gave trainer.callbacks as objects"
    from lightning_nas.config.overrides import split_overrides
    from lightning_nas.errors import ConfigError
    from lightning_nas.finetune_trainer import given_trainer

    (tmp_path / "trainer.yaml").write_text("callbacks: [LearningRateMonitor]\n")
    for whole in ("--trainer={callbacks: [LearningRateMonitor]}",
                  f"--trainer={tmp_path / 'trainer.yaml'}"):
        given = split_overrides([whole, "--trainer.callbacks+=EarlyStopping"])
        assert given_trainer(None, given, {}, ["callbacks"])["callbacks"] == [
            "LearningRateMonitor", {"class_path": "EarlyStopping"}], whole  # as the dotted form
    with pytest.raises(ConfigError, match=r"the search gave trainer\.callbacks as objects"):
        given_trainer(None, split_overrides(["--trainer={max_epochs: 2}",
                                             "--trainer.callbacks+=EarlyStopping"]),
                      {}, ["callbacks"])


def test_a_whole_finetune_model_override_gives_the_arguments_it_holds():
    # LightningCLI's --model='{lr: 5e-4}' (or '{init_args: {...}}') over best_config.yaml
    # merges those arguments into the model's node (tests/test_config_overrides.py checks
    # it against LightningCLI); was refused: "--model={lr: 5e-4} would replace it"
    from lightning_nas.errors import ConfigError
    from lightning_nas.finetune_inputs import model_overrides

    for text in ("{lr: 5e-4, depth: 2}", "{init_args: {lr: 5e-4, depth: 2}}",
                 "{init_args: {lr: 5e-4}, dict_kwargs: {depth: 2}}"):
        assert model_overrides([("model", text)]) == {"lr": 5e-4, "depth": 2}, text
    # a node of the best model's class (by any import path of it) merges its arguments as
    # LightningCLI merges it (was: refused, "would replace it"); another class is refused
    best = lambda: "tests.helpers.TinyNet"  # noqa: E731 - the run's model, as read
    for text in ("{class_path: tests.helpers.TinyNet, init_args: {lr: 5e-4}}",
                 "{class_path: tests.helpers_models.TinyNet, dict_kwargs: {lr: 5e-4}}"):
        assert model_overrides([("model", text)], best) == {"lr": 5e-4}, text
    for text in ("{class_path: tests.helpers_finetune.AdamNet, init_args: {lr: 5e-4}}", "null"):
        with pytest.raises(ConfigError, match=r"would replace it"):
            model_overrides([("model", text)], best)
    # a node's keys beside bare arguments, which LightningCLI refuses too ("Not a valid
    # subclass of LightningModule"; "Option 'class_path' is not accepted"; checked with
    # tests/helpers_config.cli_built): said so (was: "would replace it")
    for text, keys, args, fix in [
            ("{init_args: {lr: 5e-4}, depth: 2}", "init_args", "depth", "{lr: 0.0005, depth: 2}"),
            ("{class_path: tests.helpers.TinyNet, lr: 5e-4}", "class_path", "lr",
             "{lr: 0.0005}")]:
        with pytest.raises(ConfigError) as info:
            model_overrides([("model", text)], best)
        assert str(info.value) == (
            f"--model={text} mixes a node's {keys} with model arguments beside it ({args}), "
            f"as neither LightningCLI nor finetune reads it: give the arguments alone, "
            f"--model='{fix}', or all under init_args, --model='{{init_args: {fix}}}'")


def test_a_finetune_model_class_of_the_best_models_own_keeps_its_arguments(tmp_path):
    # LightningCLI's --model=CLASS and --model.class_path=CLASS over best_config.yaml keep
    # its model's init_args for the same class (by any import path of it): nothing changes;
    # was: refused, "would replace it". Another class, whose weights the checkpoint is not,
    # is refused naming lightning-nas fit of best_config.yaml, which merges it as
    # LightningCLI does (the arguments that class takes kept)
    from lightning_nas.errors import ConfigError
    from lightning_nas.export_config import best_config
    from lightning_nas.finetune_inputs import model_overrides
    from tests.helpers_config import cli_built

    cfg = {"model": {"class_path": "tests.helpers.TinyNet", "init_args": {"lr": 0.01}},
           "data": {"class_path": "tests.helpers.BlobData"}, "trainer": {"max_epochs": 1}}
    path = tmp_path / "best_config.yaml"
    path.write_text(yaml.safe_dump(best_config(cfg, {"width": 8}, seed=0)))
    best = lambda: "tests.helpers.TinyNet"  # noqa: E731 - the run's model, as read
    for given in ("--model=tests.helpers.TinyNet", "--model=tests.helpers_models.TinyNet",
                  "--model.class_path=tests.helpers_models.TinyNet"):
        built = cli_built(path, given)["model"]
        assert (built["init_args"]["width"], built["init_args"]["lr"]) == (8, 0.01), given
        key, text = given[2:].split("=", 1)
        assert model_overrides([(key, text), ("model.depth", "2")], best) == {"depth": 2}
    for given in ("--model=tests.helpers_finetune.AdamNet",
                  "--model.class_path=tests.helpers_finetune.AdamNet"):
        assert cli_built(path, given)["model"]["init_args"] == {"width": 8, "lr": 0.01}
        key, text = given[2:].split("=", 1)
        with pytest.raises(ConfigError, match=re.escape(
                f"{given} would replace it; give its arguments, --model.KEY=VALUE (e.g. "
                f"--model.lr=5e-4), or train RUN_DIR/best_config.yaml with lightning-nas fit "
                f"{given}, which merges it as LightningCLI does (the arguments "
                f"tests.helpers_finetune.AdamNet takes kept)")):
            model_overrides([(key, text)], best)


def test_finetunes_line_names_the_trial_it_started_from_though_best_yaml_changed(
        finished_run, capsys):
    # was: best.yaml read again after training: "from trial 3's best.ckpt (val_acc=...)" of
    # the trial an export wrote there meanwhile, not the one fine-tuned
    from lightning_nas.store import RunStore

    best = yaml.safe_load((finished_run / "best.yaml").read_text())
    with RunStore(finished_run / "search.db") as store:
        other = next(t for t in store.trials() if t.trial_id != best["trial"])
    node = {"class_path": "tests.test_cli_finetune.ExportsAnother",
            "init_args": {"run_dir": str(finished_run), "trial": other.trial_id}}
    assert main(["finetune", str(finished_run), "--max_epochs", "1",
                 f"--trainer.callbacks+={yaml.safe_dump(node, default_flow_style=True)}"]) == 0
    assert yaml.safe_load((finished_run / "best.yaml").read_text())["trial"] == other.trial_id
    out = capsys.readouterr().out
    assert f"from trial {best['trial']}'s best.ckpt (val_acc={best['score']:.4f} in the " \
           f"search" in out, out


def test_finetune_writes_into_the_out_folder_given_and_resumes_from_it(config, tmp_path,
                                                                         capsys):
    # as fit's --out and finetune(out_dir=...) (was: no --out, every fine-tune under RUN_DIR)
    run, out = tmp_path / "run", tmp_path / "elsewhere" / "ft"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    assert main(["finetune", str(run), "--max_epochs", "1", "--out", str(out)]) == 0
    assert (out / "best.ckpt").is_file()
    assert not (run / "finetune").exists()
    capsys.readouterr()
    # a folder that is not empty is refused before training, naming it
    assert main(["finetune", str(run), "--max_epochs", "1", "--out", str(out)]) == 2
    assert f"the output folder {out} is a folder that is not empty" in capsys.readouterr().err
    assert not (run / "finetune").exists()
    # --ckpt_path last looks in the --out folder (this one finished: nothing to resume)
    assert main(["finetune", str(run), "--max_epochs", "2", "--out", str(out),
                 "--ckpt_path", "last"]) == 2
    assert f"(looked at {out}: finished)" in capsys.readouterr().err


@pytest.mark.slow
def test_a_ddp_finetunes_line_says_the_ranks_threads_not_this_processs(tmp_path, capsys,
                                                                       monkeypatch):
    # was: "with 3 torch threads (as this process runs)", though each DDP rank trained with
    # the count Lightning gives it (its share of the cores), as the ranks' own records show
    import json

    from lightning_nas import Search
    from tests.helpers_data import BlobData

    run = tmp_path / "run"
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
               "callbacks": [{"class_path": "tests.helpers.RankRecorder"}]}
    Search("tests.helpers.MetricNet", {"width": {"choice": [8, 16]}}, data=BlobData,
           trainer=trainer, budget=1, run_dir=run, optimizer="RandomSearch",
           verbose=False).run()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the ranks get Lightning's share
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert main(["finetune", str(run), "--max_epochs", "1"]) == 0
        line = capsys.readouterr().out.splitlines()[0]
        assert main(["finetune", str(run), "--max_epochs", "1", "--threads", "2",
                     "--out", str(tmp_path / "two")]) == 0
        given = capsys.readouterr().out.splitlines()[0]
    finally:
        torch.set_num_threads(before)
    ranks = [json.loads((run / "finetune" / f"rank{r}.json").read_text())["threads"]
             for r in (0, 1)]
    assert ranks[0] == ranks[1] != 3  # each rank's own count, not this process's
    assert "(as this process runs)" not in line, line
    assert " for 1 epoch on 2 DDP ranks, each with the torch threads Lightning gives a rank " \
           "(its share of the cores; give --threads N for N each): best val_acc=" in line, line
    assert [json.loads((tmp_path / "two" / f"rank{r}.json").read_text())["threads"]
            for r in (0, 1)] == [2, 2]
    assert " for 1 epoch on 2 DDP ranks with 2 torch threads each (as --threads gives): " \
           "best val_acc=" in given, given
