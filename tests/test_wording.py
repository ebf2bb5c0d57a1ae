"""How counts read in the commands' output and messages (``1 epoch``, not ``1 epochs``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import SearchError
from lightning_nas.report.run_summary import warm_start_lines
from lightning_nas.wording import counted


def test_counted_is_singular_for_one_only():
    assert [counted(n, "trial") for n in (0, 1, 2)] == ["0 trials", "1 trial", "2 trials"]
    assert counted(1, "batch", "batches") == "1 batch"
    assert counted(2, "batch", "batches") == "2 batches"


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 64}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "limit_train_batches": 2, "limit_val_batches": 1},
        "search": {"space": {"width": {"choice": [8, 16]}}, "optimizer": "RandomSearch",
                   "budget": 1, "run_dir": str(tmp_path / "run")},
    }))
    return path


def test_a_search_of_one_trial_of_one_epoch_says_so(config, capsys):
    # was: "budget 1 trials", "space of 1 architectures", "1 epochs trained"
    assert main(["search", str(config)]) == 0
    out = capsys.readouterr().out
    assert ": RandomSearch, budget 1 trial, no time limit, " in out
    assert "Search finished in " in out and ": 1 completed, 0 failed, 1 epoch trained. " in out


def _objective_search(tmp_path: Path, objective, **options) -> Search:
    return Search(None, {"x": {"choice": [1, 2]}}, objective=objective, monitor="val_acc",
                  optimizer="RandomSearch", run_dir=tmp_path / "run", **options)


def test_one_failed_trial_over_max_failures_is_one_trial(tmp_path):
    def fails(arch: dict) -> dict:
        raise ValueError("diverged")

    # was: "1 trials failed (max_failures=0)"
    with pytest.raises(SearchError, match=r"^1 trial failed \(max_failures=0\); last error"):
        _objective_search(tmp_path, fails, budget=2, max_failures=0, verbose=False).run()


def test_a_warm_start_of_one_result_says_one_result():
    # was: "1 of 1 results of runs/a"
    assert warm_start_lines({"warm_start": [{"source": "runs/a", "trials": 1, "used": 1,
                                             "skipped": []}]}) == [
        "warm start: 1 of 1 result of runs/a (not counted in the budget)"]


def test_a_warm_start_source_of_one_trial_says_one_trial():
    from lightning_nas.search.warm_report import SourceReport

    # was: "1 of 1 trials used"
    assert SourceReport("runs/a", "acc", "max", trials=1, used=1).describe() == \
        "warm start from runs/a (acc, max): 1 of 1 trial used"


def test_a_gdas_resume_over_one_epoch_says_one_epoch():
    from lightning_nas.oneshot.tau_resume import check_tau_schedule

    # was: "decayed over 1 epochs, now over 2" and "a run of 1 epochs"
    with pytest.warns(UserWarning, match=r"decayed over 1 epoch, now over 2 \(max_epochs=2\)"):
        check_tau_schedule(1, 2, 2)
    with pytest.warns(UserWarning, match=r"decayed over 2 epochs, now over 1 \(max_epochs=1\)"
                                         r".* nor the one a run of 1 epoch makes"):
        check_tau_schedule(2, 1, 1)


def test_a_search_stopped_after_one_completed_trial_says_one_trial(tmp_path, capsys):
    calls = []

    def first_only(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) > 1:
            raise ValueError("diverged")
        return {"val_acc": 0.5}

    # was: "the best of the 1 completed trials so far"
    with pytest.raises(SearchError, match=r"^1 trial failed \(max_failures=0\)"):
        _objective_search(tmp_path, first_only, budget=3, max_failures=0).run()
    assert (f"Wrote {tmp_path / 'run' / 'best.yaml'}: the best of the 1 completed trial so far "
            f"(trial 1).") in capsys.readouterr().out


def test_named_is_singular_for_one_name_only():
    from lightning_nas.wording import named

    assert named(["lr"], "key") == "key 'lr'"
    assert named(["lr", "width"], "key") == "keys 'lr', 'width'"
    assert named([1, 2], "batch", "batches") == "batches 1, 2"


@pytest.mark.parametrize(("extra", "said"), [
    ({"lg": True}, "unknown option 'lg' for kind `choice`"),
    ({"lg": True, "stp": 2}, "unknown options 'lg', 'stp' for kind `choice`")])
def test_unknown_space_options_read_right_for_one_and_several(extra, said):
    from lightning_nas.errors import SpaceError
    from lightning_nas.space import SearchSpace

    # was: "unknown option(s) ['lg']"
    with pytest.raises(SpaceError, match=rf"^space key 'k': {said}; valid options: none$"):
        SearchSpace({"k": {"choice": [3, 5], **extra}})


@pytest.mark.parametrize(("extra", "said"), [
    ({"init_arg": {}}, "unknown key 'init_arg'"),
    ({"init_arg": {}, "dict_kwarg": {}}, "unknown keys 'dict_kwarg', 'init_arg'")])
def test_unknown_node_keys_read_right_for_one_and_several(extra, said):
    from lightning_nas.config.nodes import check_node_keys
    from lightning_nas.errors import ConfigError

    # was: "unknown key(s) ['init_arg']"
    with pytest.raises(ConfigError, match=rf"^model: {said} beside class_path 'm\.Net'; "):
        check_node_keys({"class_path": "m.Net", **extra}, "model")


@pytest.mark.parametrize(("value", "said"), [
    ("tag(fast, choice(1, 2))", "unknown tag 'fast'"),
    ("tag(fast, slow, choice(1, 2))", "unknown tags 'fast', 'slow'")])
def test_unknown_hydra_tags_read_right_for_one_and_several(value, said):
    from lightning_nas.errors import SpaceError
    from lightning_nas.integrations.hydra_grammar import parse_params

    # was: "unknown tag(s) ['fast']"
    with pytest.raises(SpaceError, match=rf"'model\.w': {said}; valid tags: log, ordered"):
        parse_params({"model.w": value})


def test_a_node_of_the_wrong_edge_count_reads_right_for_one_edge():
    from lightning_nas.benchmarks.nb201 import str_to_arch
    from lightning_nas.errors import SpaceError

    # was: "node 1 of ... must have 1 edge(s)"
    with pytest.raises(SpaceError, match=r"^node 1 of .* must have 1 edge, got"):
        str_to_arch("|none~0|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(SpaceError, match=r"^node 2 of .* must have 2 edges, got"):
        str_to_arch("|none~0|+|none~0|+|none~0|none~1|none~2|")


@pytest.mark.parametrize(("completed", "said"), [(1, "1 completed trial"),
                                                 (2, "2 completed trials")])
def test_an_optimizers_failure_counts_the_completed_trials_right(completed, said):
    from lightning_nas.strategies.registry import optimizer_failed

    # was: "after 1 completed trial(s)"
    assert optimizer_failed("RandomSearch", "tell 3", ValueError("bad"), 8, completed) \
        .startswith(f"optimizer 'RandomSearch' failed at its tell 3 (ValueError: bad) after "
                    f"{said} (those running then were let finish), the best exported: ")


@pytest.mark.parametrize(("trainer", "said"), [
    ({"max_epochs": 5}, "trainer setting max_epochs is ignored"),
    ({"max_epochs": 5, "min_epochs": 2}, "trainer settings max_epochs, min_epochs are ignored")])
def test_ignored_trainer_settings_of_an_objective_search_read_right(tmp_path, trainer, said):
    # was: "trainer setting(s) max_epochs are ignored"
    with pytest.warns(UserWarning, match=rf"^an objective= search calls the function instead "
                                         rf"of training, so {said} \(it uses only "):
        Search(None, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               trainer=trainer, budget=2, run_dir=tmp_path / "a", verbose=False)


def test_a_status_a_newer_version_wrote_is_said_in_one_phrase_everywhere():
    from lightning_nas.report.run_summary import counts_line
    from lightning_nas.search.warm_report import SourceReport
    from lightning_nas.wording import unknown_status

    # was: four wordings ("which this version of lightning-nas does not know (a newer
    # version wrote it)", "(1 stopped: a newer version's)", ...) of one fact
    phrase = "a status this version of lightning-nas does not know (a newer one's)"
    assert unknown_status() == phrase
    assert unknown_status(2, "0.1.0") == \
        "statuses this version of lightning-nas (0.1.0) does not know (a newer one's)"
    assert SourceReport("runs/a", trials=2, used=1, not_completed=1,
                        not_completed_by={"stopped": 1}).skipped() == [
        f"1 not completed (1 stopped: {phrase})"]
    counts = {"completed": 1, "failed": 0, "rejected": 0, "pruned": 0, "paused": 0,
              "running": 0, "driver_gone": False}
    assert counts_line({**counts, "unknown_statuses": {"stopped": 1}}).endswith(
        f"0 running; 1 stopped: {phrase}, not listed")
