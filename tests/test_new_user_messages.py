"""Messages a new user meets in the first hour: each says what to do next.

Covers a class path whose module is not found from the current folder (a command run
from another folder) and the stop on a misspelt ``monitor``, which a changed monitor
cannot resume.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.config.instantiate import import_object
from lightning_nas.errors import ConfigError, SearchError


def test_a_module_not_found_says_where_class_paths_are_imported_from():
    # was: "cannot import module 'no_such_pkg_xyz' of 'no_such_pkg_xyz.Net': No module named
    # 'no_such_pkg_xyz'", and nothing on why a config that trains in its own folder fails
    # from another one
    with pytest.raises(ConfigError) as info:
        import_object("no_such_pkg_xyz.Net")
    message = str(info.value)
    assert message.startswith("cannot import module 'no_such_pkg_xyz' of 'no_such_pkg_xyz.Net'")
    assert f"the current folder ({os.getcwd()})" in message
    assert "PYTHONPATH" in message and "no_such_pkg_xyz.py" in message


def test_a_dependency_missing_inside_a_found_module_gets_no_folder_hint(tmp_path, monkeypatch):
    (tmp_path / "lnas_needs_dep.py").write_text("import lnas_missing_dep_xyz\nclass Net: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as info:  # the module is found: its own import fails
        import_object("lnas_needs_dep.Net")
    message = str(info.value)
    assert "No module named 'lnas_missing_dep_xyz'" in message
    assert "current folder" not in message and "PYTHONPATH" not in message


def test_a_stop_on_a_misspelt_monitor_says_how_to_go_on(tmp_path):
    # was: "trial 1 failed with an error every trial would hit: MonitorError: ..." and
    # nothing more; the fixed monitor's rerun was then refused ("holds a search with a
    # different monitor"), a second step to learn the folder must go
    run_dir = tmp_path / "run"

    def search(monitor: str) -> Search:
        return Search(None, {"c": {"choice": [1, 2, 3]}}, monitor=monitor, mode="max",
                      objective=lambda arch: {"val/acc": float(arch["c"])}, budget=2,
                      seed=0, run_dir=run_dir, verbose=False)

    with pytest.raises(SearchError) as info:
        search("val_acc").run()
    message = str(info.value)
    assert message.startswith("trial 1 failed with an error every trial would hit")
    assert re.search(r"fix it and run the same search again \(trial 1 runs again\); a "
                     r"changed search setting \(a monitor, say\) is not resumed: remove "
                     rf"{re.escape(str(run_dir))} \(no trial completed\) or choose another "
                     r"run_dir", message), message
    with pytest.raises(ConfigError, match="different monitor"):  # as the hint says
        search("val/acc").run()
    shutil.rmtree(run_dir)  # ... and then it runs
    assert search("val/acc").run().best.metrics == {"val/acc": 2.0}


@pytest.mark.parametrize("command", ["show", "report", "export"])
def test_a_folder_of_run_folders_names_them(tmp_path, capsys, command):
    # was: "runs is neither a run directory (no search.db) nor a one-shot run folder (no
    # best_arch.yaml)" (export: "is not a run directory (no search.db)"), of the folder
    # that holds the runs a user made (runs_dir/<name>), without naming them
    runs = tmp_path / "runs"
    Search(None, {"c": {"choice": [1, 2]}}, monitor="val_acc", mode="max", budget=1,
           objective=lambda arch: {"val_acc": 0.5}, seed=0, run_dir=runs / "first",
           verbose=False).run()
    (runs / "oneshot").mkdir()
    (runs / "oneshot" / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\n")
    (runs / "other").mkdir()  # no run: not named
    assert main([command, str(runs)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"lightning-nas {command}: error: {runs} ")
    assert line.endswith(f"; it holds run folders: {runs / 'first'}, {runs / 'oneshot'} "
                         f"(give one of them)"), line


@pytest.mark.parametrize("which", ["search block alone", "LightningCLI config alone"])
def test_one_of_the_two_files_alone_says_how_to_give_both(tmp_path, capsys, which):
    # was: "the config needs `model` (class_path and init_args)" and "the config needs
    # `search.space` (a mapping, or a path to a YAML file)", not what a user who gave one of
    # train.yaml and search.yaml should do
    train = {"model": {"class_path": "tests.helpers.TinyNet"},
             "data": {"class_path": "tests.helpers.BlobData"}, "trainer": {"max_epochs": 1}}
    block = {"search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1}}
    given = tmp_path / "given.yaml"
    given.write_text(yaml.safe_dump(block if which == "search block alone" else train))
    assert main(["search", str(given)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "lightning-nas search train.yaml search.yaml" in line, line
    assert not (tmp_path / "runs").exists()


def test_a_misspelt_trainer_space_key_is_named_as_a_key(tmp_path):
    # was: "space key 'trainer.max_epoch' may take 1: unknown Trainer argument 'max_epoch'
    # ...", as if its value were wrong
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    with pytest.raises(ConfigError) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}, "trainer.max_epoch": {"choice": [1, 2]}},
               data=BlobData, trainer={"max_epochs": 1}, budget=1, run_dir=tmp_path / "run")
    message = str(info.value)
    assert message.startswith("space key 'trainer.max_epoch' is not a Trainer argument; did "
                              "you mean 'trainer.max_epochs'? valid arguments: "), message
    assert "may take" not in message and not (tmp_path / "run").exists()


def test_a_yaml_word_read_as_a_bool_where_a_string_is_expected_says_to_quote_it(tmp_path):
    # was: "space key 'activation' may take False: model.activation=False: expected str (the
    # annotation of TinyNet.__init__)", of `{choice: [relu, off]}`: no word on YAML's
    # yes/no/on/off
    from lightning_nas import SearchSpace
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    space = SearchSpace.from_yaml("width: {choice: [4, 8]}\nactivation: {choice: [relu, off]}")
    with pytest.raises(ConfigError) as info:
        Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 1}, budget=1,
               run_dir=tmp_path / "run")
    assert str(info.value) == (
        "space key 'activation' may take False: model.activation=False: expected str (the "
        "annotation of TinyNet.__init__); YAML reads an unquoted yes, no, on, off, true or "
        "false as a bool: quote it for a string ('no', 'off')")
    assert not (tmp_path / "run").exists()
