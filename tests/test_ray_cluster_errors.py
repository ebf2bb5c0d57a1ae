"""What a search on a Ray cluster says with no cluster to run on: an address nobody answers
at is one ``ConfigError`` before anything is stored (an existing run left byte for byte), a
finished run resumed connects to none, a refused connection names token authentication, and
a module the actors cannot import is advised an install or its folder on ``PYTHONPATH``,
and data that cannot be sent to the actors is refused before a cluster starts.
(The trials on a cluster: ``test_ray_cluster``.)"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.ray_executor import RayExecutor
from tests.conftest import TINY_TRAINER
from tests.helpers import BlobData, TinyNet
from tests.helpers_ray import LOOPBACK, SPACE, free_port, ray_folder

ray = pytest.importorskip("ray")


def _objective(arch: dict) -> dict[str, float]:
    return {"val_acc": arch["width"] / 32}


@pytest.fixture
def ray_tmpdir(monkeypatch) -> Iterator[str]:
    """A Ray temp folder of the test's own (``tests.helpers_ray.ray_folder``)."""
    with ray_folder(monkeypatch) as folder:
        yield folder


def test_an_unreachable_cluster_is_one_error_and_nothing_is_stored(tmp_path, ray_tmpdir):
    address = f"{LOOPBACK}:{free_port()}"
    fresh = tmp_path / "fresh"
    with pytest.raises(ConfigError, match=rf"search\.ray\.address='{address}'.*ray start"):
        Search(None, SPACE, objective=_objective, budget=2, executor="ray", num_workers=2,
               ray={"address": address}, run_dir=fresh, verbose=False).run()
    assert not ray.is_initialized()
    assert not (fresh / "search.db").exists()

    # an existing run is left byte for byte as it was
    existing = tmp_path / "existing"
    Search(None, SPACE, objective=_objective, budget=2, run_dir=existing, verbose=False).run()
    before = {p.name: p.read_bytes() for p in existing.iterdir() if p.is_file()}
    assert "search.db" in before
    with pytest.raises(ConfigError, match=r"search\.ray\.address"):
        Search(None, SPACE, objective=_objective, budget=4, executor="ray", num_workers=2,
               ray={"address": address}, run_dir=existing, verbose=False).run()
    assert {p.name: p.read_bytes() for p in existing.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("env", [{"working_dir": "."}, {"py_modules": ["s3://b/m.zip", "src"]}])
def test_a_local_folder_in_search_ray_runtime_env_is_refused_before_a_cluster_starts(
        tmp_path, ray_tmpdir, env):
    # was: a local Ray started, then Ray's "refused by Ray: . is not a valid URI. Passing
    # directories or modules to be dynamically uploaded is only supported at the job level
    # (i.e., passed to `ray.init`)", which search.ray's ray.init keys could not do
    key, value = next(iter(env.items()))
    local = value if isinstance(value, str) else value[1]
    with pytest.raises(ConfigError, match=rf"search\.ray\.runtime_env\.{key} holds a local "
                                          rf"path, {local!r}, and search\.ray\.runtime_env is "
                                          rf"each trial actor's.*ray\.init\(address=\.\.\., "
                                          rf"runtime_env=\{{'{key}'.*or give a URI"):
        Search(None, SPACE, objective=_objective, budget=2, executor="ray",
               ray={"runtime_env": env}, run_dir=tmp_path / "run", verbose=False).run()
    assert not ray.is_initialized() and not (tmp_path / "run").exists()


def test_an_unreachable_ray_address_variable_is_one_error_naming_it(tmp_path, ray_tmpdir,
                                                                     monkeypatch):
    # was: the address Ray takes from RAY_ADDRESS was not checked (nor kept as given, a
    # loopback one), and ray.init retried it for minutes, unbounded ("Failed to connect to
    # GCS at address 192.0.2.2:...", over and over), before any error named it
    address = f"{LOOPBACK}:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(ConfigError, match=rf"no Ray cluster answers at RAY_ADDRESS="
                                          rf"'{address}'.*or unset RAY_ADDRESS"):
        Search(None, SPACE, objective=_objective, budget=2, executor="ray",
               run_dir=tmp_path / "run", verbose=False).run()
    assert not ray.is_initialized() and not (tmp_path / "run").exists()


def _no_times(said: str) -> str:
    """``said`` with its elapsed times (``finished in 0.1s``) left out: they differ by run."""
    return re.sub(r"\b\d+(\.\d+)?s\b", "Ns", said)


def test_a_finished_run_resumed_with_ray_connects_to_no_cluster_and_says_what_inline_says(
        tmp_path, ray_tmpdir, capsys):
    # its budget used, nothing to re-run: no trial is left, so no actor and no connection
    # (was: connected and started an actor first; shown with an address nobody answers at,
    # which only a connection finds out, and Ray never initialised)
    run = tmp_path / "done"
    search = {"objective": _objective, "budget": 2, "run_dir": run, "progress": False}
    Search(None, SPACE, **search).run()
    capsys.readouterr()
    inline = Search(None, SPACE, **search).run()
    said_inline = capsys.readouterr().out
    address = f"{LOOPBACK}:{free_port()}"
    result = Search(None, SPACE, executor="ray", num_workers=2, ray={"address": address},
                    **search).run()
    assert not ray.is_initialized()
    said_ray = capsys.readouterr().out
    assert "Resuming" in said_inline and _no_times(said_ray) == _no_times(said_inline)
    assert [(t.trial_id, t.score) for t in result.trials] == [
        (t.trial_id, t.score) for t in inline.trials]


def test_a_cluster_that_refuses_the_connection_is_said_with_token_authentication(
        monkeypatch):
    # was: "Failed to connect ... Check the address" alone, where a cluster `ray start` made
    # with token authentication (its default since Ray 2.59; measured by hand: `ray start
    # --head --port=6393`, then the README's search command, InvalidAuthToken in Ray's
    # warnings only) refused a search run without RAY_AUTH_MODE=token
    from lightning_nas.search.ray_checks import unconnected

    refused = ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:6393.")
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    said = str(unconnected("127.0.0.1:6393", refused))
    assert said.startswith("cannot connect to the Ray cluster at search.ray.address="
                           "'127.0.0.1:6393': Failed to connect")
    assert "InvalidAuthToken" in said and "run the search with RAY_AUTH_MODE=token" in said
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # sent already: the address is what is left
    assert "RAY_AUTH_MODE" not in str(unconnected("127.0.0.1:6393", refused))


def test_a_module_installed_here_and_missing_on_the_actors_is_advised_an_install(tmp_path,
                                                                                monkeypatch):
    # was (review): the sys.path advice for any module, lightning_nas or yaml too
    # ("PYTHONPATH=<site-packages>")
    import yaml  # noqa: F401 - installed: its folder is site-packages

    from lightning_nas.search.ray_checks import cannot_import

    installed = cannot_import("yaml")
    assert "the cluster's nodes lack it; install it there" in installed
    assert "PYTHONPATH" not in installed
    (tmp_path / "only_here_mod.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("only_here_mod")
    assert f"put its folder on PYTHONPATH (PYTHONPATH={tmp_path})" in cannot_import(
        "only_here_mod")


def test_a_ray_executor_object_refuses_data_it_cannot_send_before_a_cluster_starts(
        tmp_path, ray_tmpdir):
    # was: a local Ray started, then "TypeError: Could not serialize the put value
    # TrialSpec(...)" from ray.put, hundreds of characters of the spec and no word of what
    # to do; the executor named by "ray" was refused so, not the object
    data = BlobData()
    data.lock = threading.Lock()  # (no pickler sends a lock, cloudpickle neither)
    with pytest.raises(ConfigError, match=r"cannot be sent to worker processes \(TypeError: "
                                          r"cannot pickle '_thread\.lock' object\); define"):
        Search(TinyNet, SPACE, data=data, trainer=TINY_TRAINER, budget=1,
               executor=RayExecutor(num_workers=1), run_dir=tmp_path / "run",
               verbose=False).run()
    assert not ray.is_initialized()
    assert not (tmp_path / "run").exists()


def test_a_gpu_trial_that_needs_more_gpus_than_search_ray_num_gpus_is_refused_first(
        tmp_path, ray_tmpdir):
    # was: a local Ray started (or the cluster connected), and on a cluster with GPUs each
    # trial's actor saw num_gpus of them only (Ray sets its CUDA_VISIBLE_DEVICES): every
    # trial's Trainer refused devices=2, each stored FAILED, until two stopped the search
    trainer = {**TINY_TRAINER, "accelerator": "gpu", "devices": 2, "strategy": "ddp"}
    with pytest.raises(ConfigError, match=r"trainer\.devices=2 .*search\.ray\.num_gpus=1 "
                                          r".*search\.ray\.num_gpus=2"):
        Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=trainer, budget=1,
               executor="ray", ray={"num_gpus": 1}, run_dir=tmp_path / "run",
               verbose=False).run()
    assert not ray.is_initialized()
    assert not (tmp_path / "run").exists()
