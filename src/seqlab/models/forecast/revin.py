"""Per-window normalisation of a forecaster's input, undone on its output.

* ``revin``: reversible instance normalisation (Kim et al. 2022): each window's channels are
  z-scored with their own mean and standard deviation over the look-back, optionally with
  a learned scale and shift; the forecast is mapped back with the same statistics.
* ``last``: the window's last value is subtracted and added back (as in SegRNN and NLinear).
* ``none``.

Either way the forecast stays on the scale of the input, so a shift of level between the
training years and the test years does not reach the model.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.errors import UserError

NORMS = ("revin", "last", "none")


class WindowNorm(nn.Module):
    def __init__(self, kind: str, channels: int, affine: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        if kind not in NORMS:
            raise UserError(f"model.norm must be one of {list(NORMS)}, got {kind!r}")
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine and kind == "revin" else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine and kind == "revin" else None

    def statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(shift, scale), each (B, 1, C), of the windows x (B, L, C)."""
        if self.kind == "revin":
            return x.mean(1, keepdim=True), (x.var(1, keepdim=True, unbiased=False) + self.eps).sqrt()
        if self.kind == "last":
            return x[:, -1:], torch.ones_like(x[:, -1:])
        return torch.zeros_like(x[:, -1:]), torch.ones_like(x[:, -1:])

    def normalise(self, x: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        z = (x - stats[0]) / stats[1]
        return z * self.weight + self.bias if self.weight is not None else z

    def denormalise(self, z: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        if self.weight is not None:
            z = (z - self.bias) / (self.weight + self.eps * self.eps)
        return z * stats[1] + stats[0]
