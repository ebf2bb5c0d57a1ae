"""How a resume's ``ckpt_path`` is said and checked, in the caller's words: the command
line's (``--ckpt_path last``, ``lightning-nas fit`` and ``finetune``, within
``config_words``) or Python's (``ckpt_path='last'``, ``finetune()`` and ``fit_config()``;
was: the command line's from Python too), and a value of another type refused naming it.

Example:
    >>> from lightning_nas.search.setting_checks import config_words
    >>> ckpt_said("last")
    "ckpt_path='last'"
    >>> with config_words():
    ...     ckpt_said("last"), leave_out()
    ('--ckpt_path last', 'leave --ckpt_path out')
"""

from __future__ import annotations

import os
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.search.setting_checks import in_words

__all__ = ["EPOCHS_SAID", "check_ckpt_path", "ckpt_said", "leave_out", "without_ckpt_path"]

#: where a Python caller set a resumed run's ``max_epochs`` (the command line's:
#: ``--max_epochs, --trainer.max_epochs``)
EPOCHS_SAID = {"fine-tune": "max_epochs=, trainer={'max_epochs': ...}",
               "fit": "the config's trainer.max_epochs"}


def ckpt_said(ckpt_path: Any) -> str:
    """``ckpt_path`` as the caller gave it: ``--ckpt_path last`` on the command line
    (``config_words``), ``ckpt_path='last'`` from Python (was: the command line's words
    from Python too).

    Example:
        >>> ckpt_said("last")
        "ckpt_path='last'"
    """
    return in_words(f"--ckpt_path {ckpt_path}", f"ckpt_path={str(ckpt_path)!r}")


def leave_out() -> str:
    """How the caller leaves ``ckpt_path`` out, in its words.

    Example:
        >>> leave_out()
        'leave ckpt_path out (None)'
    """
    return in_words("leave --ckpt_path out", "leave ckpt_path out (None)")


def without_ckpt_path(kind: str) -> str:
    """The call of a ``kind`` (``fine-tune``, ``fit``) without ``ckpt_path``, in the
    caller's words.

    Example:
        >>> without_ckpt_path("fine-tune")
        'finetune(...) without ckpt_path'
    """
    return in_words("the same command without --ckpt_path",
                    f"{'finetune' if kind == 'fine-tune' else 'fit_config'}(...) without "
                    f"ckpt_path")


def check_ckpt_path(ckpt_path: Any, kind: str) -> None:
    """Refuse a ``ckpt_path`` that is neither ``"last"``, a path nor None (was: a bare
    ``TypeError`` of ``os.fspath``, naming no argument).

    Raises:
        ConfigError: naming the value and what to give.

    Example:
        >>> check_ckpt_path(3, "fine-tune")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: ckpt_path must be 'last' or the path of a \
checkpoint file (str or os.PathLike) of an interrupted fine-tune, or None; got int 3
    """
    if ckpt_path is None or isinstance(ckpt_path, (str, os.PathLike)):
        return
    raise ConfigError(f"ckpt_path must be 'last' or the path of a checkpoint file (str or "
                      f"os.PathLike) of an interrupted {kind}, or None; got "
                      f"{type(ckpt_path).__name__} {ckpt_path!r}")
