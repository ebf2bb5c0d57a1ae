"""A small, configurable CNN for scikit-learn's 8x8 digits.

``DigitsCNN`` is an ordinary LightningModule: every architecture choice is an
``__init__`` argument, which is all a search needs to fill it in. The spatial size is
tracked while the blocks are built, so any combination of the bundled search space
(kernel 3/5/7, stride 1/2/3, pool 2/3/4, 2-4 layers) works on 8x8 inputs.

Example:
    >>> import torch
    >>> model = DigitsCNN(num_layers=3, kernel_size=5, stride=2, width=16)
    >>> model(torch.rand(4, 1, 8, 8)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

__all__ = ["ACTIVATIONS", "DigitsCNN"]

#: Activation names accepted by ``DigitsCNN`` and the modules they build.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}

_IMAGE_SIZE = 8
_NUM_CLASSES = 10


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _pool_out(size: int, pool: int) -> int:
    # MaxPool2d(kernel=pool, stride=pool, ceil_mode=True), as PyTorch computes it.
    out = -(-(size - pool) // pool) + 1
    if (out - 1) * pool >= size:
        out -= 1
    return out


class DigitsCNN(LightningModule):
    """Conv blocks, global average pooling and a linear classifier for 8x8 digits.

    Each of the ``num_layers`` blocks is ``Conv2d -> BatchNorm2d -> activation ->
    MaxPool2d``. The pool window is capped at the current feature-map size and the
    pooling is skipped once the map is 1x1, so deep or strided settings never fail.

    Args:
        num_layers: Number of convolutional blocks.
        kernel_size: Convolution kernel size (padding is ``kernel_size // 2``).
        stride: Convolution stride.
        pool_size: Max-pooling window and stride (``ceil_mode=True``).
        activation: One of ``relu``, ``gelu``, ``sigmoid``, ``tanh``.
        width: Channels of every convolution.
        lr: Adam learning rate.

    Example:
        >>> import torch
        >>> model = DigitsCNN(num_layers=2, kernel_size=3, activation="gelu", width=32)
        >>> model(torch.rand(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        num_layers: int = 2,
        kernel_size: int = 3,
        stride: int = 1,
        pool_size: int = 2,
        activation: str = "relu",
        width: int = 32,
        lr: float = 1e-2,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; valid names: {', '.join(ACTIVATIONS)}"
            )
        for name, value in (
            ("num_layers", num_layers),
            ("kernel_size", kernel_size),
            ("stride", stride),
            ("pool_size", pool_size),
            ("width", width),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.save_hyperparameters()
        self.lr = lr

        layers: list[nn.Module] = []
        in_channels, size = 1, _IMAGE_SIZE
        padding = kernel_size // 2
        for _ in range(num_layers):
            layers += [
                nn.Conv2d(in_channels, width, kernel_size, stride=stride, padding=padding),
                nn.BatchNorm2d(width),
                ACTIVATIONS[activation](),
            ]
            size = _conv_out(size, kernel_size, stride, padding)
            pool = min(pool_size, size)
            if pool > 1:
                layers.append(nn.MaxPool2d(pool, ceil_mode=True))
                size = _pool_out(size, pool)
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, _NUM_CLASSES)
        )
        self.val_acc = MulticlassAccuracy(num_classes=_NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits of shape ``(N, 10)`` for images of shape ``(N, 1, 8, 8)``."""
        return self.head(self.features(x))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.val_acc(logits, y)
        # sync_dist: under DDP each rank validates its share of the set (no-op on one device)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("val_acc", self.val_acc, on_epoch=True, prog_bar=True)  # synced torchmetric
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)
