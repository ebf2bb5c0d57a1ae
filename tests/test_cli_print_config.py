"""``lightning-nas search --print_config``: the config with its overrides applied (no YAML
anchors, number-like strings quoted), checked as a run checks it, and a run folder the run
would not resume or write into refused without writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.config.yamlio import load_yaml


def test_print_config_applies_overrides(config, capsys):
    assert main(["search", str(config), "--print_config", "--search.budget=2",
                 "--model.depth=2"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["search"]["budget"] == 2
    assert cfg["model"]["init_args"] == {"depth": 2}
    # a top-level key before the config, its value apart: was "'--seed_everything' has no
    # value" (argparse gave the 3 to the config files)
    assert main(["search", "--seed_everything", "3", str(config), "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["seed_everything"] == 3


@pytest.mark.parametrize("override, message", [
    ("--search.budjet=5", "unknown search setting 'budjet'; did you mean 'budget'?"),
    ("--model.dept=2", "init_args key 'dept' is not an argument of TinyNet.__init__; "
                        "did you mean 'depth'?"),
    ("--search.budget=five", "`budget` must be a positive integer or null, got 'five'"),
])
def test_print_config_checks_the_config_as_a_run_does(config, tmp_path, capsys, override,
                                                      message):
    # was: printed and exit 0, while the run itself refused the config
    assert main(["search", str(config), "--print_config", override]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert not (tmp_path / "run").exists()  # nothing written


def test_print_config_writes_no_anchors_and_quotes_number_like_strings(tmp_path, capsys):
    path = tmp_path / "anchors.yaml"
    path.write_text("model: tests.helpers.TinyNet\ndata: tests.helpers.BlobData\n"
                    "trainer: {max_epochs: 1, accelerator: cpu, devices: 1}\n"
                    "search: {space: {width: {choice: &w [8, 16]}, depth: {choice: *w}},\n"
                    f"         run_dir: '{tmp_path / '1e-3'}', optimizer: RandomSearch}}\n")
    assert main(["search", str(path), "--print_config", "--search.monitor='1e-3'",
                 "--search.mode=max"]) == 0
    out = capsys.readouterr().out
    assert "&id" not in out and "*id" not in out  # was: choice: &id001 ... choice: *id001
    cfg = load_yaml(out)
    assert cfg["search"]["space"]["depth"] == {"choice": [8, 16]}
    assert cfg["search"]["monitor"] == "1e-3"  # was: read back as 0.001


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_print_config_refuses_a_run_dir_the_run_would_not_resume_and_writes_nothing(
        config, tmp_path, capsys):
    # was: exit 0 (the check of the run folder's search was in run() only), and the run
    # of the printed config then refused it before training
    run, search = tmp_path / "run", ["search", str(config), "--search.budget=1",
                                     "--trainer.max_epochs=1", "--seed_everything=true"]
    assert main(search) == 0
    capsys.readouterr()
    before = _files(run)
    assert main([*search, "--print_config"]) == 0  # the same settings: a resume
    assert capsys.readouterr().out
    for override, message in [
        ("--trainer.max_epochs=2", f"{run} holds a search whose trials ran with other "
                                   "settings: trainer.max_epochs: 1, now 2. Resume with"),
        ("--search.monitor=val_loss", f"{run} holds a search with a different monitor "
                                      "(stored 'val_acc', now 'val_loss')"),
    ]:
        assert main([*search, override, "--print_config"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and not captured.out, captured.err
    assert _files(run) == before  # no lock taken, no file written
    assert main([*search, "--trainer.max_epochs=2"]) == 2  # as the run refuses it
    assert "trainer.max_epochs: 1, now 2" in capsys.readouterr().err


def test_print_config_refuses_a_run_dir_a_new_search_would_not_write_into(config, tmp_path,
                                                                         capsys):
    # was: exit 0 and the config printed (only a stored search was checked), while the run
    # of the printed config then refused the folder
    taken, oneshot, file = tmp_path / "taken", tmp_path / "oneshot", tmp_path / "file"
    (taken / "trials" / "trial_0001").mkdir(parents=True)
    (taken / "trials" / "trial_0001" / "last.ckpt").write_text("")
    (taken / "best.yaml").write_text("arch: {}\n")
    oneshot.mkdir()
    (oneshot / "best_arch.yaml").write_text("width: 8\n")
    file.write_text("")
    before = _files(tmp_path)
    for run_dir, message in [
        (taken, f"`run_dir` '{taken}' holds trials/, best.yaml but no search.db"),
        (oneshot, f"`run_dir` '{oneshot}' is a one-shot run folder"),
        (file / "run", f"`run_dir` '{file / 'run'}' cannot be a folder: {file} is a file"),
    ]:
        assert main(["search", str(config), f"--search.run_dir={run_dir}",
                     "--print_config"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and not captured.out, captured.err
    assert _files(tmp_path) == before  # nothing written


def test_a_command_line_trainer_max_epochs_under_a_schedulers_max_epochs_is_warned_of(
        config: Path, capsys: pytest.CaptureFixture) -> None:
    # was: lost without a word: search.max_epochs is every trial's max_epochs under a
    # scheduler, so --trainer.max_epochs=3 trained the trials 4 epochs
    cfg = yaml.safe_load(config.read_text())
    cfg["search"].update(scheduler="asha", max_epochs=4)
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config), "--trainer.max_epochs=3", "--print_config"]) == 0
    err = capsys.readouterr().err
    assert ("lightning-nas search: warning: --trainer.max_epochs=3 is not used: under scheduler "
            "'asha' the search's max_epochs (search.max_epochs: 4) is every trial's "
            "max_epochs, over the Trainer's; give --search.max_epochs=3 to train the trials "
            "3 epochs\n") in err
    for same in (["--trainer.max_epochs=4"], ["--search.scheduler=none",
                                              "--search.max_epochs=null"]):
        assert main(["search", str(config), *same, "--print_config"]) == 0
        assert "warning" not in capsys.readouterr().err, same


@pytest.mark.parametrize("form", ["whole", "file", "config"])
def test_a_trainer_max_epochs_given_otherwise_under_a_schedulers_max_epochs_is_warned_of(
        config: Path, capsys: pytest.CaptureFixture, tmp_path: Path, form: str) -> None:
    # --trainer='{max_epochs: 3}', --trainer=FILE and a later config file setting it: each
    # lost as the dotted form was, but without a word (was: the dotted form alone warned)
    cfg = yaml.safe_load(config.read_text())
    cfg["search"].update(scheduler="asha", max_epochs=4)
    config.write_text(yaml.safe_dump(cfg))
    part = tmp_path / "three.yaml"
    part.write_text(yaml.safe_dump({"trainer": {"max_epochs": 3}} if form == "config"
                                   else {"max_epochs": 3}))
    argv = {"whole": [str(config), "--trainer={max_epochs: 3}"],
            "file": [str(config), f"--trainer={part}"], "config": [str(config), str(part)]}
    assert main(["search", *argv[form], "--print_config"]) == 0
    err = capsys.readouterr().err
    source = {"whole": "--trainer={max_epochs: 3}", "file": f"--trainer={part}",
              "config": str(part)}[form]
    assert (f"lightning-nas search: warning: trainer.max_epochs=3 (of {source}) is not used: "
            f"under scheduler 'asha' the search's max_epochs (search.max_epochs: 4) is every "
            f"trial's max_epochs, over the Trainer's; give --search.max_epochs=3 to train the "
            f"trials 3 epochs\n") in err, err
