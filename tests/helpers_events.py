"""Reading the event files a real ``TensorBoardLogger`` (tensorboardX) writes: their summary
values, a scalar's values, the hyperparameters of each session (TensorBoard's HParams view).

Example:
    >>> event_values(b"")
    []
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

__all__ = ["event_hparams", "event_scalars", "event_values", "folder_scalars"]


def event_values(data: bytes) -> list[Any]:
    """The summary values of the event file ``data``, in order."""
    from tensorboardX.proto import event_pb2

    values, at = [], 0
    while at < len(data):
        (size,) = struct.unpack("Q", data[at:at + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[at + 12:at + 12 + size])
        at += 16 + size  # length, its crc, the record, its crc
        values += list(event.summary.value)
    return values


def event_hparams(data: bytes) -> list[dict[str, Any]]:
    """Each ``session_start_info``'s hyperparameters in the event file ``data``, in order."""
    from tensorboardX.proto import plugin_hparams_pb2

    sessions = []
    for value in event_values(data):
        if value.tag == "_hparams_/session_start_info":
            plugin = plugin_hparams_pb2.HParamsPluginData()
            plugin.ParseFromString(value.metadata.plugin_data.content)
            sessions.append({key: getattr(item, item.WhichOneof("kind"))
                             for key, item in plugin.session_start_info.hparams.items()})
    return sessions


def event_scalars(data: bytes, tag: str) -> list[float]:
    """The values of the scalar ``tag`` in the event file ``data``, in order."""
    return [value.simple_value for value in event_values(data) if value.tag == tag]


def folder_scalars(folder: Path, tag: str) -> list[float]:
    """The values of the scalar ``tag`` in ``folder``'s event files, read as TensorBoard
    reads one run: every ``tfevents`` file, in name order."""
    files = sorted(p for p in folder.iterdir() if "tfevents" in p.name)
    return [v for path in files for v in event_scalars(path.read_bytes(), tag)]
