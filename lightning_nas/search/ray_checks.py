"""The checks of ``search.ray`` and of the cluster that ``RayExecutor`` makes before any
actor starts, and the wording of what Ray reports when one cannot.

``check_init`` names a misspelt or bad ``search.ray`` key or value before a cluster starts;
``check_gpus_reserved`` refuses trials of ``accelerator='auto'`` that reserve none of a
cluster's GPUs; ``check_reachable`` fails at once for a cluster address nobody answers at
(Ray itself retries one for minutes); ``same_cluster`` tells whether an address names the cluster a
``ray.init`` of the caller connected to; ``keep_loopback`` lets ``ray.init`` connect to a
loopback address as given. ``gist`` is the cause in a Ray error, ``cannot_import`` what to
do about a module of the trials the actors cannot import.

Example:
    >>> split_address("ray://10.0.0.5:10001")
    ('10.0.0.5', 10001)
    >>> split_address("auto") is None
    True
"""

from __future__ import annotations

import inspect
import ipaddress
import os
import re
import site
import socket
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["ANSI", "CONNECT_TIMEOUT", "LOCAL_ONLY", "PER_TRIAL", "cannot_import",
           "check_gpus_reserved", "check_init", "check_reachable", "gist", "keep_loopback",
           "same_cluster", "split_address", "unconnected"]

#: seconds to wait for the cluster's address to accept a connection
CONNECT_TIMEOUT = 5.0
#: a terminal colour code (Ray colours the first line of its errors)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: keys of ``search.ray`` that each trial reserves (the others are ``ray.init`` arguments)
PER_TRIAL = ("num_cpus", "num_gpus")
#: ``ray.init`` arguments of a local cluster the search starts (Ray refuses them with an
#: address: an existing cluster's resources are those ``ray start`` gave it)
LOCAL_ONLY = ("resources", "labels", "object_store_memory", "_system_config",
              "_enable_object_reconstruction", "_node_name")


def split_address(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a cluster address (``host:port``, ``[v6]:port``, ``ray://...``),
    or None for ``auto``/``local`` and addresses without a port (a bare IPv6 address such
    as ``::1`` is one: its port would need the brackets).

    Example:
        >>> split_address("127.0.0.1:6390")
        ('127.0.0.1', 6390)
        >>> split_address("[::1]:6390")
        ('::1', 6390)
        >>> split_address("::1") is None
        True
    """
    rest = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return None  # a bare IPv6 address (was: "::1" read as host ":" and port 1)
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def keep_loopback(ray: Any, host: str) -> Iterator[None]:
    """Let ``ray.init`` connect to a loopback address as given.

    Ray replaces ``127.0.0.1``/``localhost`` by the node's network address before it
    connects (ray-project/ray#59110), so a cluster started with
    ``ray start --head --node-ip-address=127.0.0.1`` (which listens on the loopback only)
    cannot be reached by its own address. Only while connecting to such an address, which
    was just seen to answer, the replacement is turned off.
    """
    services = getattr(getattr(ray, "_private", None), "services", None)
    original = getattr(services, "resolve_ip_for_localhost", None)
    if not _is_loopback(host) or original is None:
        yield
        return
    services.resolve_ip_for_localhost = lambda host: host
    try:
        yield
    finally:
        services.resolve_ip_for_localhost = original


def check_init(init: Mapping[str, Any], params: Mapping[str, inspect.Parameter]) -> None:
    """Raise ``ConfigError`` for a ``search.ray`` key that is neither per trial nor an
    argument of ``ray.init``, an ``address`` or ``runtime_env`` of the wrong type, and a
    local cluster's argument beside an address of an existing cluster."""
    trial = [*PER_TRIAL, "runtime_env"]  # (runtime_env: each trial's actor's)
    valid = [name for name, p in params.items()
             if p.kind is not p.VAR_KEYWORD and name not in trial]
    for key in init:  # ray.init's **kwargs take its private _settings alone
        if key not in (*trial, *valid) and not str(key).startswith("_"):
            raise ConfigError(f"unknown search.ray key {key!r}; "
                              f"{did_you_mean(key, [*trial, *valid])}valid keys: per trial "
                              f"{', '.join(trial)}; for ray.init {', '.join(valid)}")
    address = init.get("address")
    if address is not None and not isinstance(address, str):
        raise ConfigError(f"search.ray.address must be a string (host:port, ray://host:port "
                          f"or auto), got {address!r}")
    if not isinstance(init.get("runtime_env") or {}, Mapping):
        raise ConfigError(f"search.ray.runtime_env must be a mapping (pip, env_vars, "
                          f"working_dir, ...), got {init['runtime_env']!r}")
    _check_uploads(init.get("runtime_env") or {})
    existing = address if "address" in init else os.environ.get("RAY_ADDRESS")
    named = "search.ray.address" if "address" in init else "RAY_ADDRESS"
    for key in LOCAL_ONLY:
        if key in init and existing not in (None, "", "local"):
            raise ConfigError(
                f"search.ray.{key} sets up a local cluster the search starts, and "
                f"{named}={existing!r} connects to an existing one (whose resources "
                f"`ray start` set): drop search.ray.{key}, or {named} to start a local "
                f"cluster")


def check_gpus_reserved(spec: Any, num_gpus: float, gpus: float) -> None:
    """Raise ``ConfigError`` for trials of Lightning's ``accelerator='auto'`` (``spec``, a
    trial's ``TrialSpec``: its trainer) that reserve no GPU (``num_gpus`` 0) on a cluster
    with ``gpus`` GPUs: Ray (2.60) hides no GPU from an actor that reserves none, so each
    trial would train on its node's GPUs, all of them, reserved by no trial and shared by
    those running at once (was: so, without a word).

    Example:
        >>> check_gpus_reserved(None, 0, 8)  # no trial's spec: nothing to check
    """
    if num_gpus or not gpus or spec is None or spec.objective is not None:
        return
    accelerator = spec.trainer.get("accelerator", "auto")
    if isinstance(accelerator, str) and accelerator.lower() == "auto":
        raise ConfigError(
            f"trainer.accelerator='auto' trains a trial on the GPUs its Ray actor sees, and "
            f"the trials reserve none (search.ray.num_gpus=0), where the cluster has {gpus:g} "
            f"GPUs: Ray hides no GPU from an actor that reserves none, so each trial would "
            f"train on its node's GPUs, all of them, reserved by no trial and shared by the "
            f"trials running at once. Set the trainer's accelerator: gpu (each trial reserves "
            f"its trainer.devices GPUs) or accelerator: cpu, or give search.ray.num_gpus (the "
            f"GPUs each trial reserves, which its actor sees alone)")


def _check_uploads(runtime_env: Mapping[str, Any]) -> None:
    """Refuse a local folder or file in ``runtime_env``'s ``working_dir`` or ``py_modules``:
    ``search.ray.runtime_env`` is each trial actor's, and Ray uploads local paths for a
    job alone (was: a local cluster started, then Ray's ``... is not a valid URI ...
    only supported at the job level (i.e., passed to `ray.init`)``, which no key of
    ``search.ray`` does)."""
    for key in ("working_dir", "py_modules"):
        value = runtime_env.get(key)
        values = [value] if isinstance(value, (str, os.PathLike)) else list(value or ())
        local = next((v for v in values if "://" not in str(v)), None)
        if local is not None:
            raise ConfigError(
                f"search.ray.runtime_env.{key} holds a local path, {local!r}, and "
                f"search.ray.runtime_env is each trial actor's, where Ray takes only a URI "
                f"(s3://, gs://, https://... of a zip): it uploads local paths for a job "
                f"alone. The search's current folder and PYTHONPATH are on the actors' "
                f"PYTHONPATH already; to upload it, call ray.init(address=..., "
                f"runtime_env={{{key!r}: ...}}) in your script before the search (its "
                f"actors take the job's runtime_env), or give a URI")


def same_cluster(address: str, live: str | None) -> bool:
    """Whether ``address`` names the cluster at ``live`` (``auto``, ``local`` and client
    ``ray://`` addresses: any)."""
    where, there = split_address(address), split_address(live or "")
    if where is None or address.startswith("ray://"):
        return True
    if there is None or where[1] != there[1]:
        return False
    if where[0] == there[0] or (_is_loopback(where[0]) and _is_loopback(there[0])):
        return True
    try:
        return socket.gethostbyname(where[0]) == socket.gethostbyname(there[0])
    except OSError:
        return False


def gist(err: BaseException) -> str:
    """The last line of a Ray error (the cause, below Ray's own traceback), cut short."""
    lines = [line.strip() for line in ANSI.sub("", str(err)).splitlines() if line.strip()]
    return (lines[-1].rstrip(".") if lines else type(err).__name__)[:400]


def cannot_import(module: str) -> str:
    """What to do about a ``module`` the trials use that the Ray actors cannot import."""
    path = getattr(sys.modules.get(module.split(".")[0]), "__file__", None)
    folder = None if path is None else os.path.dirname(path)
    if path is not None and os.path.basename(path) == "__init__.py":  # a package's
        folder = os.path.dirname(folder)
    here = "" if folder is None else f" (here from {path})"
    shared = {os.path.realpath(p) for p in (os.getcwd(), *os.environ.get(
        "PYTHONPATH", "").split(os.pathsep), *_installed()) if p}
    if folder is None or os.path.realpath(folder) in shared:  # installed, or on the path
        return (f"the Ray actors that run the trials cannot import module {module!r}{here}, "
                f"which the trials use: the cluster's nodes lack it; install it there (the "
                f"versions this process uses) or with search.ray.runtime_env (pip) (nothing "
                f"ran, nothing was written)")
    return (f"the Ray actors that run the trials cannot import module {module!r}{here}, "
            f"which the trials use: the actors get the search's current folder and PYTHONPATH, "
            f"not a sys.path change of the script; put its folder on PYTHONPATH"
            f"{'' if folder is None else f' (PYTHONPATH={folder})'}, or install it on the "
            f"cluster's nodes or with search.ray.runtime_env (pip; py_modules: a package's "
            f"folder) (nothing ran, nothing was written)")


def _installed() -> list[str]:
    """The folders installed packages are imported from (site-packages)."""
    paths = sysconfig.get_paths()
    return [paths["purelib"], paths["platlib"], *getattr(site, "getsitepackages", list)()]


def check_reachable(address: str, host: str, port: int,
                    named: str = "search.ray.address") -> None:
    """Raise ``ConfigError`` unless ``host:port`` accepts a connection (Ray itself retries
    an unreachable address for minutes); ``named``: where the address came from
    (``search.ray.address``, or Ray's ``RAY_ADDRESS``)."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as err:
        leave = f"leave {named} out" if named.startswith("search.") else f"unset {named}"
        raise ConfigError(
            f"no Ray cluster answers at {named}={address!r} ({err}); start one "
            f"with `ray start --head --port={port}` (add --node-ip-address=127.0.0.1 for "
            f"this machine only), give the address `ray start` printed, or {leave} to "
            f"start a local cluster") from err


def unconnected(address: object, err: BaseException,
                named: str = "search.ray.address") -> ConfigError:
    """The error of a ``ray.init`` that did not connect to the cluster at ``address`` (its
    port answered: ``check_reachable``), with what to check: the address, and, unless the
    search already sends a token, token authentication, which ``ray start`` turns on for a
    local cluster since Ray 2.59 and a plain ``ray.init(address=...)`` does not (Ray says
    ``InvalidAuthToken`` only in its warnings; was: the address alone was blamed);
    ``named``: where the address came from (``search.ray.address``, ``RAY_ADDRESS``).

    Example:
        >>> str(unconnected("127.0.0.1:6390", ConnectionError("Failed to connect")))[:72]
        "cannot connect to the Ray cluster at search.ray.address='127.0.0.1:6390'"
    """
    token = "" if os.environ.get("RAY_AUTH_MODE") == "token" else (
        "; if Ray's messages above say InvalidAuthToken, the cluster takes token "
        "authentication (`ray start`'s default for a local cluster since Ray 2.59): run the "
        "search with RAY_AUTH_MODE=token, the cluster's token in ~/.ray/auth_token or "
        "RAY_AUTH_TOKEN")
    return ConfigError(f"cannot connect to the Ray cluster at {named}={address!r}: "
                       f"{err}. Check the address with `ray status` on the head node{token}")
