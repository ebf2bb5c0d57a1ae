"""The model hyperparameters an exported ``best.ckpt`` of a config run holds: those a plain
LightningCLI run of ``best_config.yaml`` would have saved.

LightningCLI (subclass mode, the shape of ``best_config.yaml``: ``model: {class_path, ...}``)
builds the model with its config as the given hyperparameters, so its checkpoints hold
``_class_path`` and ``_instantiator`` beside the arguments; its ``--ckpt_path`` reads them
back into the ``model`` section, and refuses arguments without ``_class_path`` there
("Parsing of ckpt_path hyperparameters failed!"). A trial of a section of plain values saves
what the module's ``save_hyperparameters()`` saves (and the trial's plain arguments), so the
export adds the two keys, as LightningCLI's checkpoint has them: ``python your_cli.py
validate --config best_config.yaml --ckpt_path best.ckpt`` then reads it, and
``MyModule.load_from_checkpoint(path)`` builds it through LightningCLI's instantiator (with
jsonargparse, which LightningCLI needs too). So do ``lightning-nas fit CONFIG``'s and a config
run's ``lightning-nas finetune``'s ``best.ckpt`` (``TrialSpec.cli_model``), which users take
away; a search trial's own checkpoints are left as they trained.

Example:
    >>> ckpt = {"hyper_parameters": {"width": 8}}
    >>> as_lightningcli(ckpt, {"class_path": "m.Net", "init_args": {"width": 8}})
    True
    >>> ckpt["hyper_parameters"]["_class_path"], ckpt["hyper_parameters"]["width"]
    ('m.Net', 8)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from lightning_nas.arch import is_plain
from lightning_nas.config.hparams import CLI_INSTANTIATOR
from lightning_nas.config.nodes import is_hydra

__all__ = ["as_lightningcli"]


def as_lightningcli(checkpoint: dict[str, Any], section: Any) -> bool:
    """Give ``checkpoint``'s model hyperparameters the ``_class_path`` and ``_instantiator``
    a LightningCLI run of the config's model ``section`` saves; whether it changed them.

    Left as they are: a section that is no ``class_path`` node (a Hydra node, none), no
    hyperparameters, ones holding objects (LightningCLI reads them ``weights_only``), ones
    that already name an instantiator (built as LightningCLI builds it), or without
    jsonargparse (``load_from_checkpoint`` would need it).

    Args:
        checkpoint: the loaded checkpoint, changed in place.
        section: the ``model`` section of ``best_config.yaml`` (of the config a fit or
            fine-tune trained: ``TrialSpec.cli_model``), a node or an import path.
    """
    if isinstance(section, str):  # `model: pkg.Net`, as LightningCLI reads it
        section = {"class_path": section}
    hparams = checkpoint.get("hyper_parameters")
    if (not isinstance(section, Mapping) or is_hydra(section)
            or not isinstance(section.get("class_path"), str)
            or not isinstance(hparams, dict) or not hparams or not is_plain(hparams)
            or "_instantiator" in hparams or "_class_path" in hparams
            or importlib.util.find_spec("jsonargparse") is None):
        return False
    checkpoint["hyper_parameters"] = {"_class_path": section["class_path"], **hparams,
                                      "_instantiator": CLI_INSTANTIATOR}
    return True
