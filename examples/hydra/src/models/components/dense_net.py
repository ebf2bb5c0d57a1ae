"""``DenseNet``: three hidden Linear-BatchNorm-ReLU blocks and a linear head.

Example:
    >>> import torch
    >>> DenseNet(lin1_size=32, lin2_size=16, lin3_size=8)(torch.rand(4, 1, 8, 8)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DenseNet"]


class DenseNet(nn.Module):
    """A multi-layer perceptron over flattened images.

    Args:
        input_size: features of a flattened input (64 for 8x8 digits).
        lin1_size, lin2_size, lin3_size: widths of the hidden layers.
        output_size: classes.
    """

    def __init__(self, input_size: int = 64, lin1_size: int = 64, lin2_size: int = 128,
                 lin3_size: int = 64, output_size: int = 10) -> None:
        super().__init__()
        sizes = [input_size, lin1_size, lin2_size, lin3_size]
        blocks: list[nn.Module] = []
        for n_in, n_out in zip(sizes, sizes[1:], strict=False):
            blocks += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
        self.model = nn.Sequential(*blocks, nn.Linear(lin3_size, output_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(N, ...)``."""
        return self.model(x.flatten(1))
