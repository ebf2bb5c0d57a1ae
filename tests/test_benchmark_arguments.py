"""The counts and seed lists of every script in ``benchmarks/``, checked before any run.

A count of 0 (``--rounds 0``, ``--trials 0``, ``--seeds 0``, ...), a seed list that names
no seed, ``--seed_start`` beside a range of seeds and an NB201 table without the NB201
columns are argparse's usage error (exit status 2) naming the flag, its value and what it
must be (``benchmarks.spread.check_arguments``); was: the default taken instead of 0, a
traceback, or the start ignored. Nothing trains: each bad argument is refused before the
first run, so nothing is printed to stdout.
"""

from __future__ import annotations

import pytest

from tests.helpers_benchmarks import load_script

SEEDS = "give a count of at least 1 (30), a range low-high (100-129) or seeds and ranges"

#: script | its arguments | what the usage error says (was: what happened instead)
CASES = f"""
overhead.py | --rounds 0 | --rounds must be at least 1, got 0 (was: 5 rounds ran)
overhead.py | --quick --rounds 0 | --rounds must be at least 1, got 0 (was: 2 rounds ran)
overhead.py | --trials 0 | --trials must be at least 1, got 0 (was: ZeroDivisionError, after)
parallel.py | --rounds 0 | --rounds must be at least 1, got 0 (was: 5 rounds ran)
parallel.py | --epochs 0 | --epochs must be at least 1, got 0 (was: searches ran)
machinery.py | --rounds 0 | --rounds must be at least 1, got 0 (was: 5 rounds ran)
machinery.py | --trials 0 | --trials must be at least 1, got 0 (was: 500 trials ran)
machinery.py | --window 0 | --window must be at least 1, got 0 (was: a window of 100)
machinery.py | --trials 10 --window 5 | --trials must be at least 2 * --window + 1 = 11, got 10
store_scale.py | --rounds 0 | --rounds must be at least 1, got 0
store_scale.py | --window 0 | --window must be at least 1, got 0
store_scale.py | --sizes 200,3 | --sizes takes whole numbers of at least 4 joined by commas, \
got '200,3'
store_scale.py | --sizes 10,x | --sizes takes whole numbers of at least 4 joined by commas
store_scale.py | --optimizers RandomSearch,NGOp | --optimizers RandomSearch,NGOp: unknown \
optimizer 'NGOp'
ddp_trials.py | --rounds 0 | --rounds must be at least 1, got 0 (was: an IndexError)
ddp_trials.py | --trials 0 | --trials must be at least 1, got 0 (was: a ConfigError)
ddp_trials.py | --limit-batches 0 | --limit-batches must be at least 1, got 0
multifidelity.py | --seeds 0 | --seeds 0: a count of seeds must be at least 1, got '0'; {SEEDS}
multifidelity.py | --budget 0 | --budget must be at least 1, got 0 (was: a warm-up, a ConfigError)
oneshot.py | --seeds 0 | --seeds 0: a count of seeds must be at least 1 (was: a ValueError)
oneshot.py | --seeds 5-2 | --seeds 5-2: empty seed range '5-2'
oneshot.py | --epochs 0 | --epochs must be at least 1, got 0 (was: a warm-up, a ConfigError)
oneshot_darts.py | --seeds 0 | --seeds must be at least 1, got 0 (was: a warm-up, an IndexError)
oneshot_darts.py | --trials 0 | --trials must be at least 1, got 0 (was: trainings ran)
hydra_sweeper.py | --seeds 0 | --seeds 0: a count of seeds must be at least 1
hydra_sweeper.py | --seeds x | --seeds x: 'x' is not a count, a range or seeds
hydra_sweeper.py | --limit-batches 0 | --limit-batches must be at least 1, got 0 (was: all)
hydra_sweeper.py | --budget 0 | --budget must be at least 1, got 0 (was: sweeps ran)
digits_space.py | --limit 0 | --limit must be at least 1, got 0 (was: all 432 were built)
digits_space.py | --workers 0 | --workers must be at least 1, got 0
digits_space.py | --limit 8 | --limit 8 would write over the repository's table digits_space.csv \
(every architecture, 6 epochs) with another one: give --out (was: written over it)
digits_space.py | --limit 8 --epochs 2 | --limit 8 and --epochs 2 would write over the repository's
nb201.py | --seeds 0 | --seeds 0: a count of seeds must be at least 1 (was: not naming --seeds)
nb201.py | --seeds , | --seeds ,: no seeds in ',' (was: no seed, a StatisticsError after)
nb201.py | --budgets 10,x | --budgets takes numbers of at least 1, got '10,x' (was: int()'s)
nb201.py | --heldout_seeds 9-1 | --heldout_seeds 9-1: empty seed range '9-1'
nb201.py | --seeds 100-129 --seed_start 5 | --seed_start 5 goes only with a count of --seeds, \
not with '100-129' (was: the start ignored, seeds 100..129 ran)
small_space.py | --seeds 0 | --seeds 0: a count of seeds must be at least 1 (was: a ValueError)
small_space.py | --heldout_seeds 1-0 | --heldout_seeds 1-0: empty seed range
small_space.py | --seeds 0-4 --seed_start 0 | --seed_start 0 goes only with a count of --seeds, \
not with '0-4'
nb201.py | --seed_start -1 | --seed_start must be at least 0, got -1 (was: seeds -1..28 ran)
small_space.py | --seed_start -3 | --seed_start must be at least 0, got -3
oneshot_darts.py | --seed_start -2 | --seed_start must be at least 0, got -2 (was: a ValueError)
nb201.py | --seeds=-1,3 | --seeds -1,3: seeds must be at least 0 (numpy and nevergrad take none \
below), got -1 in '-1,3' (was: numpy's ValueError inside the first run)
small_space.py | --heldout_seeds=5,-7 | --heldout_seeds 5,-7: seeds must be at least 0
multifidelity.py | --seeds=2,-1 | --seeds 2,-1: seeds must be at least 0
oneshot.py | --seeds=-4,0 | --seeds -4,0: seeds must be at least 0
hydra_sweeper.py | --seeds=0,-9 | --seeds 0,-9: seeds must be at least 0
multifidelity.py | --min_epochs 15 | --min_epochs 15: scheduler 'asha' with min_epochs=15 would \
never stop a trial before its end (max_epochs=15) (was: the warm-up's plain search trained, \
then a ConfigError)
multifidelity.py | --scheduler hyperband --max_epochs 4 --min_epochs 4 | --min_epochs 4: \
scheduler 'hyperband' with min_epochs=4 would never stop a trial before its end (max_epochs=4)
multifidelity.py | --test_fraction 0 | --test_fraction 0.0 holds out no digit: the test split \
both sides are scored on needs at least one (was: the warm-up trained, then a RuntimeError)
multifidelity.py | --test_fraction 0.0002 | --test_fraction 0.0002 holds out no digit
multifidelity.py | --test_fraction 0.9 | --test_fraction 0.9: test_fraction must be in [0, 1 - \
val_fraction), got 0.9
oneshot.py | --quick --test_fraction 0 | --test_fraction 0.0 holds out no digit (was: a seed's \
supernet, fine-tune and trainings ran, then a RuntimeError)
oneshot.py | --quick --per_trial 4 | --per_trial 4 is more than the one-shot side's 3 epochs \
(--epochs 2 + --finetune 1) (was: a multi-trial search of 1 trial of 4 epochs against 3)
oneshot_darts.py | --quick --algorithms spos --mt_optimizer NGOp | --mt_optimizer NGOp: unknown \
optimizer 'NGOp' (was: the warm-up trained every side, then a ConfigError)
hydra_sweeper.py | --optuna-python /nonexistent/python3 | --optuna-python /nonexistent/python3 \
cannot import hydra_plugins.hydra_optuna_sweeper (was: a FileNotFoundError)
small_space.py | --strategy NGOp | --strategy NGOp: unknown optimizer 'NGOp'; close names: \
NGOpt (was: a ConfigError traceback, exit status 1, at the first run)
small_space.py | --baselines RandomSearch,NGOp | --baselines RandomSearch,NGOp: unknown \
optimizer 'NGOp' (was: a ConfigError traceback once the strategy's runs were done)
small_space.py | --optuna-python /nonexistent/python3 | --optuna-python /nonexistent/python3 \
cannot import optuna (was: a FileNotFoundError once this package's runs were done)
oneshot_darts.py | --algorithms= | --algorithms '' names no algorithm; give some of spos, darts, \
gdas (was: taken, the warm-up and the multi-trial side alone ran)
oneshot_darts.py | --algorithms=, | --algorithms ',' names no algorithm
"""


def _cases() -> list[tuple[str, list[str], str]]:
    out = []
    for line in CASES.strip().splitlines():
        name, argv, said = (part.strip() for part in line.split(" | "))
        out.append((name, argv.split(), said.split(" (was: ")[0]))
    return out


@pytest.mark.parametrize("name, argv, said", _cases())
def test_a_bad_count_or_seed_list_is_a_usage_error_before_any_run(name, argv, said, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_script(name).main(argv)
    captured = capsys.readouterr()
    assert exit_.value.code == 2, (exit_.value.code, captured.err)
    assert f": error: {said}" in captured.err, captured.err
    assert captured.out == ""  # no run began


def test_an_nb201_table_without_its_columns_is_a_usage_error(tmp_path, capsys):
    other = tmp_path / "other.csv"
    other.write_text("index,arch,accuracy\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1\n")
    with pytest.raises(SystemExit) as exit_:  # was: a ConfigError traceback
        load_script("nb201.py").main(["--table", str(other), "--overhead_trials", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert f": error: --table {other} is not an NB201 table: missing columns " in err, err
    assert "'cifar10_valid_acc_12ep'" in err and "it needs the columns index, arch" in err


def test_a_count_of_seeds_still_starts_at_seed_start():
    from benchmarks.spread import parse_seeds

    assert parse_seeds("3", start=100) == [100, 101, 102]
    assert parse_seeds("100-101,7,") == [100, 101, 7]
    for text, said in (("0", "a count of seeds must be at least 1, got '0'"),
                       (",", "no seeds in ','"), ("1-x", "'1-x' is not a count")):
        with pytest.raises(ValueError, match=said):
            parse_seeds(text)


def test_a_flag_given_beside_quick_wins_over_its_value(capsys):
    # was: --quick set trials, epochs (and more) over the flags given beside it, silently:
    # `overhead.py --quick --trials 1` ran --quick's 3 trials
    result = load_script("overhead.py").main(["--quick", "--trials", "1", "--rounds", "1"])
    assert (result["trials"], result["epochs"], result["rounds"]) == (1, 1, 1)
    assert "per-round figures, 1 rounds of 1 trials x 1 epochs" in capsys.readouterr().out


def test_an_optuna_python_without_the_optuna_sweeper_is_a_usage_error(capsys):
    import importlib.util
    import sys

    if importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None:
        pytest.skip("this Python has the Optuna sweeper: it is no Python without it")
    argv = ["--optuna-python", sys.executable, "--budget", "1", "--epochs", "1", "--seeds", "1",
            "--limit-batches", "1"]
    with pytest.raises(SystemExit) as exit_:  # was: "not installed", and lightning_nas alone
        load_script("hydra_sweeper.py").main(argv)  # measured, the Python given ignored
    captured = capsys.readouterr()
    assert exit_.value.code == 2, (exit_.value.code, captured.err)
    assert (f": error: --optuna-python {sys.executable} cannot import "
            f"hydra_plugins.hydra_optuna_sweeper") in captured.err, captured.err
    assert captured.out == ""  # no sweep ran


def test_an_optuna_python_without_optuna_is_a_usage_error_of_small_space(capsys):
    import importlib.util
    import sys

    if importlib.util.find_spec("optuna") is not None:
        pytest.skip("this Python has optuna: it is no Python without it")
    with pytest.raises(SystemExit) as exit_:  # was: a RuntimeError, "--tpe-only failed",
        load_script("small_space.py").main(["--optuna-python", sys.executable,  # once
                                            "--seeds", "1"])  # this package's runs were done
    captured = capsys.readouterr()
    assert exit_.value.code == 2, (exit_.value.code, captured.err)
    assert (f": error: --optuna-python {sys.executable} cannot import optuna "
            f"(ModuleNotFoundError: No module named 'optuna')") in captured.err, captured.err
    assert captured.out == ""  # no run began
