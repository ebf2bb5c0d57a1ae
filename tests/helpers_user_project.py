"""A user's project without lightning_nas, as tests build it: the examples' own module files
and the user's own scripts, a LightningCLI script and one that loads an exported
``best.ckpt`` and trains on from it, which say what they built and scored (``USER`` lines).

Example:
    >>> import tempfile
    >>> sorted(p.name for p in user_project(Path(tempfile.mkdtemp())).glob("*.py"))
    ['user_cli.py', 'user_fixed_cli.py', 'user_load.py']
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.launcher import ROOT

__all__ = ["user_project"]

#: the user's own LightningCLI script (subclass mode, as examples/lightningcli/main.py),
#: saying what it built and scored
_USER_CLI = '''import json, torch
from lightning.pytorch.cli import LightningCLI
class CLI(LightningCLI):
    def _say(self, what):
        m = self.model
        print("USER " + json.dumps({"what": what, "params": sum(p.numel() for p in m.parameters()),
              "hparams": {k: v for k, v in m.hparams.items() if not k.startswith("_")},
              "metrics": {k: float(v) for k, v in self.trainer.callback_metrics.items()}}))
    def after_fit(self): self._say("fit")
    def after_validate(self): self._say("validate")
try:
    import lightning_nas
    raise SystemExit("lightning_nas importable")
except ModuleNotFoundError:
    pass
torch.set_num_threads(1)
CLI(save_config_callback=None)
'''

#: the user's own script: DigitsCNN.load_from_checkpoint(best.ckpt), validated, then trained
#: on from it by Trainer.fit(ckpt_path=...)
_USER_LOAD = '''import json, sys, torch
from lightning.pytorch import Trainer
from examples.digits.data import DigitsDataModule
from examples.digits.model import DigitsCNN
torch.set_num_threads(1)
try:
    import lightning_nas
    raise SystemExit("lightning_nas importable")
except ModuleNotFoundError:
    pass
ckpt = sys.argv[1]
plain = torch.load(ckpt, weights_only=True, map_location="cpu")  # no pickled object in it
model = DigitsCNN.load_from_checkpoint(ckpt)
settings = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                enable_model_summary=False, limit_train_batches=2, default_root_dir=sys.argv[2])
scores = Trainer(**settings).validate(model, datamodule=DigitsDataModule(), verbose=False)[0]
trainer = Trainer(max_epochs=plain["epoch"] + 2, **settings)
trainer.fit(DigitsCNN(**{k: v for k, v in model.hparams.items() if not k.startswith("_")}),
            datamodule=DigitsDataModule(), ckpt_path=ckpt)
print("USER " + json.dumps({"hparams": {k: v for k, v in model.hparams.items()
                                        if not k.startswith("_")}, "metrics": scores,
                            "epochs": [plain["epoch"], trainer.current_epoch]}))
'''


def user_project(tmp_path: Path) -> Path:
    """``tmp_path/user``, the user's project: the digits and LightningCLI examples' own
    module files and the user's scripts (``user_cli.py``, ``user_load.py``,
    ``user_fixed_cli.py``), nothing of lightning_nas."""
    user = tmp_path / "user"
    (user / "examples" / "digits").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "__init__.py", user / "examples")
    for name in ("__init__.py", "model.py", "data.py"):
        shutil.copy(ROOT / "examples" / "digits" / name, user / "examples" / "digits")
    (user / "examples" / "lightningcli").mkdir()
    for name in ("__init__.py", "model.py", "main.py"):
        shutil.copy(ROOT / "examples" / "lightningcli" / name, user / "examples" / "lightningcli")
    (user / "user_cli.py").write_text(_USER_CLI)
    (user / "user_load.py").write_text(_USER_LOAD)
    (user / "user_fixed_cli.py").write_text(_USER_CLI.replace(
        "CLI(save_config_callback=None)", "from examples.digits.data import DigitsDataModule\n"
        "from examples.digits.model import DigitsCNN\n"
        "CLI(DigitsCNN, DigitsDataModule, save_config_callback=None)"))
    return user
