"""The commands refuse an abbreviated option (argparse's ``allow_abbrev``), naming the
option it starts and the command's options; a config override stays an override."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [8, 16]}}, "optimizer": "RandomSearch",
                   "budget": 1, "run_dir": str(tmp_path / "run")},
    }))
    return path


@pytest.mark.parametrize("argv, message", [
    # was: taken as --print_config: the config printed, exit 0
    (["search", "{cfg}", "--print"], "unrecognized option --print (an abbreviation is not "
                                     "taken: give the option whole); did you mean "
                                     "--print_config? options of search: --print_config"),
    (["oneshot", "{cfg}", "--print"], "did you mean --print_config? options of oneshot: "
                                      "--ckpt_path, --print_config"),
    (["oneshot", "{cfg}", "--ckpt", "last"], "unrecognized option --ckpt (an abbreviation"),
    (["fit", "{cfg}", "--print"], "did you mean --print_config? options of fit:"),
    # was: taken as --monitor (difflib alone would say --mode, the closer word)
    (["fit", "{cfg}", "--mon", "val_loss"], "unrecognized option --mon (an abbreviation is "
                                            "not taken: give the option whole); did you mean "
                                            "--monitor?"),
    (["fit", "{cfg}", "--mo", "max"], "did you mean --monitor or --mode?"),
    # was: taken as --optimizer_state, --max_epochs, --from_scratch, --threads
    (["finetune", "{run}", "--optim", "restore"], "unrecognized option --optim (an "
                                                  "abbreviation is not taken: give the option "
                                                  "whole); did you mean --optimizer_state? "
                                                  "options of finetune: --max_epochs"),
    (["finetune", "{run}", "--max", "3"], "did you mean --max_epochs?"),
    (["finetune", "{run}", "--from"], "did you mean --from_scratch?"),
    (["finetune", "{run}", "--thr=2"], "did you mean --threads?"),
    (["show", "{run}", "--form", "csv"], "unrecognized option --form (an abbreviation is not "
                                         "taken: give the option whole); did you mean "
                                         "--format? options of show: --top, --format, --status"),
    (["show", "{run}", "--stat=failed"], "did you mean --status?"),
    (["export", "{run}", "--tri", "1"], "did you mean --trial? options of export: --trial"),
    (["report", "{run}", "--o", "x"], "did you mean --out? options of report: --out"),
])
def test_an_abbreviated_option_is_refused(config, tmp_path, capsys, argv, message):
    argv = [a.format(cfg=config, run=tmp_path / "none") for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "run").exists() and not (tmp_path / "none").exists()


def test_the_whole_options_and_overrides_are_taken(config, tmp_path, capsys):
    # the options as given whole, and an override that an option's name starts with
    # (finetune's --optimizer=... is the config's optimizer, not --optimizer_state)
    assert main(["search", str(config), "--print_config", "--seed_everything=3"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["seed_everything"] == 3
    with pytest.raises(SystemExit) as exit_:
        main(["show", str(tmp_path / "none"), "--format", "csv", "--top", "--x"])
    assert exit_.value.code == 2  # --top takes a number: argparse's own error, no abbreviation
    assert "--top: expected one argument" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    # was: argparse's "invalid choice: 'serach' (choose from ...)", no suggestion
    (["serach", "a.yaml"], "invalid choice: 'serach'; did you mean search? commands: search, "
                           "oneshot, show, report, export, finetune, fit"),
    (["shwo", "runs/a"], "did you mean show?"),
    (["fine-tune", "runs/a"], "did you mean finetune?"),
    (["finetun", "runs/a"], "did you mean finetune?"),
    (["xyz"], "invalid choice: 'xyz'; commands: search, oneshot, show"),
])
def test_a_misspelt_command_gets_a_did_you_mean(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "usage: lightning-nas" in err


@pytest.mark.parametrize("command", ["show", "report", "export"])
def test_an_extra_word_is_refused_by_the_command_that_got_it(tmp_path, capsys, command):
    # was: the top-level usage and "lightning-nas: error: unrecognized arguments: extra"
    with pytest.raises(SystemExit) as exit_:
        main([command, str(tmp_path), "extra"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: lightning-nas {command} " in err
    assert f"lightning-nas {command}: error: unrecognized arguments: extra" in err


def test_a_value_given_to_a_flag_that_takes_none_is_refused_naming_it(tmp_path, capsys):
    # was: argparse's "argument --from_scratch: ignored explicit argument 'yes'", which read
    # as if the run went on without it
    with pytest.raises(SystemExit) as exit_:
        main(["finetune", str(tmp_path), "--from_scratch=yes"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert ("lightning-nas finetune: error: --from_scratch takes no value, got 'yes': give "
            "--from_scratch alone (or leave it out)") in err
    assert "ignored explicit argument" not in err
