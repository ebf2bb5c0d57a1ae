"""The checks of a resumed GDAS search's temperature schedule against its checkpoint's:
its length (``check_tau_schedule``: ``tau_epochs``, else ``max_epochs``) and its other
settings (``check_tau_settings``: ``tau_max``, ``tau_min``, ``tau_schedule``). Each warns,
naming what keeps the checkpoint's schedule: the argument from Python (``TAU_EPOCHS``), the
key from ``lightning-nas oneshot`` (``CLI_TAU_EPOCHS``). ``DifferentiableNAS`` makes them when
a resumed fit's training starts: not in a fit resumed at its training's end, which anneals
nothing (only its final search and export run).

Example:
    >>> check_tau_schedule(4, 4, 4)  # the same schedule: nothing to say
    >>> check_tau_settings({"tau_min": 0.1}, {"tau_min": 0.1})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.user_warnings import warn_rank_zero
from lightning_nas.wording import counted

__all__ = ["CLI_TAU_EPOCHS", "TAU_EPOCHS", "TAU_SETTINGS", "check_tau_schedule",
           "check_tau_settings"]

#: what keeps a resumed GDAS search's temperature schedule (``check_tau_schedule``), as
#: Python sets it and as ``lightning-nas oneshot`` does (was: the argument, from either)
TAU_EPOCHS, CLI_TAU_EPOCHS = "DifferentiableNAS(tau_epochs={})", "--oneshot.tau_epochs={}"


def check_tau_schedule(stored: int | None, now: int, max_epochs: int | None,
                       setting: str = TAU_EPOCHS) -> None:
    """Warn when a resumed GDAS search anneals its temperature over another number of epochs
    (``now``: ``tau_epochs``, else ``max_epochs``) than the checkpoint's search did
    (``stored``; None for a checkpoint that does not say): the epochs left go on from
    another point of another schedule, so the search is not the one a run that long makes
    from the start. ``setting``: how the warning names what keeps the checkpoint's schedule
    (``TAU_EPOCHS``, or from ``lightning-nas oneshot`` ``CLI_TAU_EPOCHS``), formatted with
    its length.

    Example:
        >>> check_tau_schedule(4, 4, 4)  # the same schedule: nothing to say
    """
    if stored is None or stored == now:
        return
    warn_rank_zero(f"GDAS resumed from a checkpoint whose temperature decayed over "
                   f"{counted(stored, 'epoch')}, now over {now} (max_epochs={max_epochs}): "
                   f"the epochs left anneal on another schedule, so the search is neither "
                   f"the checkpoint's nor the one a run of {counted(now, 'epoch')} makes "
                   f"from the start; "
                   f"{setting.format(stored)} keeps the checkpoint's schedule")


#: the GDAS settings of its temperature schedule besides its length (``check_tau_settings``)
TAU_SETTINGS = ("tau_max", "tau_min", "tau_schedule")


def check_tau_settings(stored: Mapping[str, Any] | None, now: Mapping[str, Any],
                       setting: str = TAU_EPOCHS) -> None:
    """Warn when a resumed GDAS search has another ``tau_max``, ``tau_min`` or
    ``tau_schedule`` (``now``) than the checkpoint's search had (``stored``: its
    hyperparameters; None, or a key it lacks: not compared), naming each key with the old
    and the new value: the epochs left go on from another point of another schedule (was:
    taken without a word). A warning, not a refusal: changing them on resume is allowed
    (they take effect from the resumed epoch on). ``setting``: as ``check_tau_schedule``'s,
    its key made each one's.

    Example:
        >>> check_tau_settings({"tau_max": 10.0}, {"tau_max": 10.0})  # the same: nothing
    """
    differ = [key for key in TAU_SETTINGS if key in (stored or {}) and key in now
              and stored[key] != now[key]]
    if not differ:
        return
    if setting.startswith("--"):  # the command's keys: --oneshot.tau_max=10.0
        keep = " ".join(setting.replace("tau_epochs", key).format(stored[key]) for key in differ)
    else:  # one call: DifferentiableNAS(tau_max=10.0, tau_schedule='exponential')
        keep = setting.split("(")[0] + f"({', '.join(f'{k}={stored[k]!r}' for k in differ)})"
    warn_rank_zero("GDAS resumed from a checkpoint of another temperature schedule: "
                   + "; ".join(f"{key} {stored[key]!r}, now {now[key]!r}" for key in differ)
                   + ": the epochs left anneal from another point of another schedule, so "
                   f"the search is neither the checkpoint's nor the one these settings make "
                   f"from the start; {keep} "
                   f"{'keep' if keep.count('--') > 1 else 'keeps'} the checkpoint's schedule")
