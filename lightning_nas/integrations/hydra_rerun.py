"""The command line that trains one job of a sweep again (``rerun_line``), written to be
read and pasted into a shell: each override with only the quotes it needs.

A job's overrides hold Hydra's quotes around every string (``model='a'``, as
``hydra_grammar.format_value`` writes them); ``readable_override`` drops them where Hydra
parses the bare text to the same value (``model=a``; not ``'1'``, ``'true'``, ``'a, b'``,
which bare are an int, a bool, a sweep: Hydra's quotes are kept there, or made double
where that reads better), and ``shell_word`` quotes a word for the shell only where the
shell would change it (``'model=a b'``; ``"x='a, b'"`` rather than the single quotes
within single quotes that ``shlex.quote`` writes).

``alone_line`` trains the job from its own composed config (``JOB_DIR/.hydra``) instead:
no config group of the search, hence no need of the lightning_nas sweeper; with what of the
sweep config's ``hydra`` node shapes a job (``job_settings``: its run dir, Hydra's job
group options, ``env_set``, ``callbacks``, ...) and the job's config group choices
(``task_choices``); ``alone_note`` says what no command line carries.

Example:
    >>> rerun_line("src/train.py", ["model='a'", "+note='a, b'", "lr=0.1"])
    'python src/train.py model=a "+note=\\'a, b\\'" lr=0.1 hydra.mode=RUN'
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Quote
from hydra.core.utils import JobRuntime
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from lightning_nas.arch import flatten_arch
from lightning_nas.integrations.hydra_grammar import format_value

__all__ = ["alone_line", "alone_note", "job_settings", "readable_override", "rerun_line",
           "shell_word", "task_choices", "with_threads"]

#: characters that stay special within a shell's double quotes (``!``: history expansion)
_IN_DOUBLE_QUOTES = '"$`\\!'

_PARSER: OverridesParser | None = None

#: the options of ``config_args`` that name the sweep's primary config (with their value)
_CONFIG_OPTIONS = ("--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd")

#: entries of ``job_settings`` that are no override of the line: its job's config folder,
#: and what the line cannot carry (``alone_note``)
_NOT_OVERRIDES = ("hydra.output_subdir", "not_carried")

#: what Hydra sets in each run whatever a command line says (``num``, ``id``: a launcher)
_PER_RUN = re.compile(r"\$\{hydra[:.]job\.(config_name|override_dirname|num|id)\}")

#: Hydra's logging nodes, whose edits in the sweep's config ``_logging_edits`` carries
_LOGGING = ("hydra.job_logging", "hydra.hydra_logging")

#: Hydra's own config groups whose option shapes a job (not the sweep's sweeper and
#: launcher; ``hydra/callbacks``: the ``hydra.callbacks`` node is carried instead)
_JOB_GROUPS = ("hydra/job_logging", "hydra/hydra_logging", "hydra/env", "hydra/output")


def rerun_line(script: str, overrides: Sequence[str], config_args: Sequence[str] = ()) -> str:
    """The command line that trains one job of a sweep once (its config group sets
    MULTIRUN, hence ``hydra.mode=RUN``), quoted for the shell; ``script`` is the task as
    ``task_script`` gives it (a script or ``-m`` module after ``python``, else a command);
    ``config_args`` are the sweep's ``--config-name`` / ``--config-path`` / ``--config-dir``
    options. Each override is ``readable_override``'s, each word ``shell_word``'s (was:
    ``shlex.join``, which quoted Hydra's quotes again: ``'model='"'"'a'"'"''``).

    Example:
        >>> rerun_line("src/train.py", ["model.lr=0.1", "seed=1"], ["--config-name", "big"])
        'python src/train.py --config-name big model.lr=0.1 seed=1 hydra.mode=RUN'
        >>> rerun_line("-m src.train", ["seed=1"]), rerun_line("train_command", ["seed=1"])
        ('python -m src.train seed=1 hydra.mode=RUN', 'train_command seed=1 hydra.mode=RUN')
    """
    module = script.startswith("-m ")
    python = "python " if module or script.endswith(".py") else ""
    words = ["-m", script[3:]] if module else [script]
    words += [*config_args, *(readable_override(o) for o in overrides)]
    return f"{python}{' '.join(shell_word(w) for w in words)} hydra.mode=RUN"


def alone_line(script: str, job_dir: str, config_args: Sequence[str],
               settings: Mapping[str, Any], choices: Mapping[str, str] | None = None) -> str:
    """The command line that trains one job of a sweep once from the job's own composed
    config (``job_dir``'s ``.hydra/config.yaml``: the task's config, all overrides applied,
    without the search's config group, so without the lightning_nas sweeper): ``script`` as
    in ``rerun_line``, the job's config folder as ``--config-path``, the Hydra overrides of
    ``config_args`` that shape a job (not its config options), then ``settings``
    (``job_settings``: what the sweep's config set in ``hydra`` and ``config.yaml`` lacks;
    a given override of one wins, but for ``hydra.searchpath``, whose setting holds the
    command line's entries and the sweep's config folders besides), and ``choices``, the
    job's own config group choices (``task_choices``: a task's
    ``${hydra:runtime.choices.<group>}`` reads them; Hydra adds its own groups' to them).

    Example:
        >>> alone_line("t.py", "/m/0", ["--config-name", "train"], {"hydra.run.dir": "a/${x}"})
        "python t.py --config-path /m/0/.hydra --config-name config 'hydra.run.dir=a/${x}'"
    """
    given = [a for a, before in zip(config_args, ["", *config_args], strict=False)
             if not a.startswith(_CONFIG_OPTIONS) and before not in _CONFIG_OPTIONS
             and not (_key(a) == "hydra.searchpath" and _key(a) in settings)]
    keys = {_key(a) for a in given}
    folder = os.path.join(job_dir, str(settings.get("hydra.output_subdir", ".hydra")))
    settings = {**settings, "hydra.runtime.choices": dict(choices or {})}
    given += [f"{'++' if isinstance(value, Mapping) or key.startswith(_LOGGING) else ''}"
              f"{key}={format_value(value)}"  # ++: keys added to Hydra's node where new
              for key, value in settings.items()
              if value != {} and key not in keys and key not in _NOT_OVERRIDES]
    line = rerun_line(script, given, ["--config-path", folder, "--config-name", "config"])
    return line.removesuffix(" hydra.mode=RUN")  # config.yaml sets no mode: RUN


def with_threads(line: str, threads: int | None) -> str:
    """``line`` run with ``OMP_NUM_THREADS=threads`` where the sweep set its job's threads
    (meta ``job_threads``): a run alone takes every core, and on CPU another count sums in
    another order; as it is where ``threads`` is None.

    Example:
        >>> with_threads("python t.py x=2", 2), with_threads("python t.py x=2", None)
        ('OMP_NUM_THREADS=2 python t.py x=2', 'python t.py x=2')
    """
    return line if threads is None else f"OMP_NUM_THREADS={threads} {line}"


def job_settings(config: DictConfig, loader: Any = None) -> dict[str, Any] | None:
    """The settings of the sweep's ``hydra`` node that shape a job and that its
    ``config.yaml`` lacks: ``hydra.run.dir`` (as written: it may name the task's keys and
    ``${now:...}``), ``hydra.job.chdir`` where set, then where the sweep's config differs
    from Hydra's defaults (``_node_settings``): the options of Hydra's job groups
    (``hydra/job_logging``, ...) and the search path that finds them, ``hydra.job.env_set``
    (not the variables ``env_copy`` copied: their values are copied again), ``env_copy``,
    ``hydra.callbacks``, ``hydra.verbose`` and a ``hydra.job.name`` the config set; with
    Hydra's config ``loader`` (the sweep's), the config's edits of the ``job_logging`` and
    ``hydra_logging`` nodes over their options' own (``_logging_edits``); and
    ``hydra.output_subdir`` (the job's config folder); None where that is null (the jobs
    wrote no config). ``alone_line`` adds the job's config group choices. Not carried, as
    Hydra sets them in each run whatever a command line says: the rest of
    ``hydra.runtime``, ``hydra.job.config_name``, ``override_dirname``, ``num`` and ``id``
    (``not_carried``: where the job's config or ``hydra.run.dir`` reads one of the last
    four, said by ``alone_note``); nor a key the config deletes from a logging node.

    Example:
        >>> job_settings(OmegaConf.create({"hydra": {"run": {"dir": "out/${name}"},
        ...                                "job": {"chdir": None}, "output_subdir": ".hydra"}}))
        {'hydra.run.dir': 'out/${name}', 'hydra.output_subdir': '.hydra'}
    """
    hydra = OmegaConf.to_container(config.hydra, resolve=False)
    subdir = OmegaConf.select(config, "hydra.output_subdir", default=None)
    if subdir is None:
        return None
    settings = {"hydra.run.dir": hydra.get("run", {}).get("dir")}
    if hydra.get("job", {}).get("chdir") is not None:
        settings["hydra.job.chdir"] = hydra["job"]["chdir"]
    settings = {k: v for k, v in settings.items() if v is not None}
    if said := _not_carried(config):
        settings["not_carried"] = said
    edits = {} if loader is None else _logging_edits(hydra, loader)
    return {**settings, **_node_settings(hydra), **edits, "hydra.output_subdir": str(subdir)}


def alone_note(settings: Mapping[str, Any]) -> str | None:
    """What to say beside a ``rerun_alone`` line of ``settings`` (``job_settings``): the
    values the job's config reads that Hydra sets in each run (``not_carried``); None
    where it reads none.

    Example:
        >>> alone_note({"not_carried": ["name: ${hydra:job.num}"]}).split(": ", 1)[1]
        "name: ${hydra:job.num} (the line's run reads its own)"
    """
    said = settings.get("not_carried")
    return (f"the job's config reads what Hydra sets in each run, which a command line does "
            f"not set: {'; '.join(said)} (the line's run reads its own)") if said else None


def task_choices(job: DictConfig) -> dict[str, str]:
    """The task's config group choices of a job, from its Hydra config (a ``JobReturn``'s
    ``hydra_cfg``: ``hydra.runtime.choices``): not Hydra's own groups, nor one chosen null.

    Example:
        >>> task_choices(OmegaConf.create({"hydra": {"runtime": {"choices": {
        ...     "model": "a", "extra": None, "hydra/launcher": "basic"}}}}))
        {'model': 'a'}
    """
    choices = OmegaConf.select(job, "hydra.runtime.choices", default=None) or {}
    return {str(group): str(choice) for group, choice in choices.items()
            if choice is not None and not str(group).startswith("hydra/")}


def readable_override(override: str) -> str:
    """``override`` as the shortest shell word of those Hydra parses to the same value: its
    strings bare, as given, or in Hydra's double quotes (``x="!x"``: within the shell's
    single quotes); as it is where it does not parse, or holds no value to rewrite.

    Example:
        >>> readable_override("model='a'"), readable_override("x='1'")
        ('model=a', "x='1'")
    """
    head, sep, _ = override.partition("=")
    given = _parsed(override)
    if not sep or given is None or not _plain(given[1]):
        return override
    same = [text for text in (f"{head}={format_value(given[1], None)}", override,
                              f"{head}={format_value(given[1], Quote.double)}")
            if _parsed(text) == given]
    return min(same, key=lambda text: len(shell_word(text)))


def shell_word(word: str) -> str:
    """``word`` as a shell reads it back: as it is where nothing in it is special to the
    shell, in double quotes where it holds single quotes and nothing that double quotes
    leave special, else as ``shlex.quote`` writes it.

    Example:
        >>> shell_word("model=a"), shell_word("x=a b"), shell_word("x='a, b'")
        ('model=a', "'x=a b'", '"x=\\'a, b\\'"')
    """
    quoted = shlex.quote(word)
    if quoted == word or "'" not in word:
        return quoted
    return f'"{word}"' if not any(c in _IN_DOUBLE_QUOTES for c in word) else quoted


def _parsed(override: str) -> tuple[tuple[Any, ...], Any] | None:
    """``(kind, key, package, repr of the value)`` and the value, as Hydra parses
    ``override`` (the ``repr`` tells ``1`` from ``'1'``, ``1.0`` and ``True``); None where it
    does not parse."""
    global _PARSER
    if _PARSER is None:
        _PARSER = OverridesParser.create()
    try:
        got = _PARSER.parse_override(override)
        value = got.value()
    except HydraException:
        return None
    return (got.type, got.key_or_group, got.package, repr(value)), value


def _key(override: str) -> str:
    """The key (or config group) an override sets, without its ``+``/``~``."""
    return override.split("=", 1)[0].lstrip("+~")


def _plain(value: Any) -> bool:
    """Whether ``value`` is of the kinds ``format_value`` writes (no sweep, no deletion)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, (str, bool, int, float))


def _node_settings(hydra: Mapping[str, Any]) -> dict[str, Any]:
    """What the sweep's ``hydra`` node (a plain, unresolved container) sets apart from
    Hydra's defaults that a job reads: the options of ``_JOB_GROUPS`` that are not Hydra's
    ``default``, and where there are such, or the node has a ``searchpath``, the search
    path they are found on (``_search_path``); ``hydra.job.env_set`` less the variables
    ``env_copy`` copied into it (their values, at the sweep's start, are not written: the
    line copies them again), ``env_copy``, ``hydra.callbacks``, ``hydra.verbose``, and a
    ``hydra.job.name`` that is not the one Hydra gives the task."""
    job = hydra.get("job") or {}
    choices = (hydra.get("runtime") or {}).get("choices") or {}
    settings: dict[str, Any] = {group: choices[group] for group in _JOB_GROUPS
                                if choices.get(group, "default") != "default"}
    if settings or hydra.get("searchpath"):
        settings["hydra.searchpath"] = _search_path(hydra)
    copied = list(job.get("env_copy") or [])
    settings.update({
        "hydra.job.env_set": {k: v for k, v in (job.get("env_set") or {}).items()
                              if k not in copied},
        "hydra.job.env_copy": copied, "hydra.callbacks": hydra.get("callbacks"),
        "hydra.verbose": hydra.get("verbose"),
        "hydra.job.name": None if job.get("name") == _task_name() else job.get("name")})
    return {key: value for key, value in settings.items() if value}


def _search_path(hydra: Mapping[str, Any]) -> list[str]:
    """The sweep's config search path as ``hydra.searchpath`` takes it: its primary config
    folder (the line's is the job's ``.hydra``), its ``--config-dir`` and its own
    ``hydra.searchpath``, each as Hydra found it (``file://`` ones absolute); the node's
    ``searchpath`` as written where Hydra recorded no sources."""
    found = []
    for source in (hydra.get("runtime") or {}).get("config_sources") or []:
        provider, schema, path = source["provider"], source["schema"], source["path"]
        if provider in ("main", "command-line") or provider.startswith("hydra.searchpath"):
            found.append(f"file://{os.path.abspath(path)}" if schema == "file"
                         else f"{schema}://{path}")
    return found or list(hydra.get("searchpath") or [])


def _logging_edits(hydra: Mapping[str, Any], loader: Any) -> dict[str, Any]:
    """The edits the sweep's config makes in Hydra's logging nodes (``_LOGGING``: the
    template's ``job_logging.handlers.file.filename``) over their options' own content, as
    ``loader`` composes those options alone (on the sweep's search path): ``_edits``."""
    choices = (hydra.get("runtime") or {}).get("choices") or {}
    overrides = [f"{group}={choices[group]}" for group in
                 ("hydra/job_logging", "hydra/hydra_logging") if choices.get(group)]
    if found := _search_path(hydra):
        overrides.append(f"hydra.searchpath={format_value(found)}")
    own = loader.load_configuration(None, overrides, RunMode.RUN, from_shell=False)
    own = OmegaConf.to_container(own.hydra, resolve=False)
    edits: dict[str, Any] = {}
    for node in _LOGGING:
        name = node.split(".")[1]
        edits.update(_edits(own.get(name), hydra.get(name), node))
    return edits


def _edits(option: Any, swept: Any, path: str) -> dict[str, Any]:
    """``{dotted key: value}`` that make ``option`` (a node as its option writes it) the
    sweep's ``swept``, at the deepest mapping whose keys hold no dot (a logger's name may:
    ``lightning.pytorch``, then its mapping whole); a key ``swept`` lacks is not said."""
    if swept == option or swept is None:
        return {}
    if not isinstance(swept, Mapping) or not isinstance(option, Mapping) or \
            any("." in str(key) for key in swept):
        return {path: swept}
    edits: dict[str, Any] = {}
    for key, value in swept.items():
        edits.update(_edits(option.get(key), value, f"{path}.{key}"))
    return edits


def _not_carried(config: DictConfig) -> list[str]:
    """Where the sweep's job config (its keys but ``hydra``, and ``hydra.run.dir``) reads a
    value Hydra sets in each run (``_PER_RUN``): ``KEY: ${...}`` each."""
    tree = OmegaConf.to_container(config, resolve=False)
    hydra = tree.pop("hydra", None) or {}
    leaves = {**flatten_arch(tree), "hydra.run.dir": (hydra.get("run") or {}).get("dir")}
    return [f"{key}: {found.group(0)}" for key, value in leaves.items()
            for found in _PER_RUN.finditer(str(value))]


def _task_name() -> str | None:
    """The job name Hydra gives the running task (from its script), None outside one."""
    try:
        return JobRuntime.instance().get("name")
    except KeyError:
        return None
