"""The time-delay neural network (TDNN) of the notes, as a forecaster.

A fixed window of delayed inputs x_{t-d·k} .. x_t feeds one shared nonlinear layer, slid
along the series: a 1-D convolution over time.  Stacking convolutions with growing
dilations (1, 2, 4, ...) widens the delays seen without more weights.  The features of
every remaining position are flattened into a linear map to the H forecast steps::

    h^1_t = tanh(Σ_k W^1_k x_{t - d_1 k} + b^1),  h^2_t = tanh(Σ_k W^2_k h^1_{t - d_2 k} + b^2), ...
    ŷ = W_out · [h^n_t for every valid t] + b_out
"""
from __future__ import annotations

from torch import Tensor, nn

from seqlab.errors import UserError


class TDNN(nn.Module):
    def __init__(self, channels: int, lookback: int, horizon: int, hidden: int, kernel: int,
                 dilations: list[int], dropout: float = 0.0) -> None:
        super().__init__()
        layers, size, length = [], channels, lookback
        for d in dilations:
            if kernel < 1 or d < 1:
                raise UserError(f"model.kernel and model.dilations must be positive, got {kernel} and {dilations}")
            layers += [nn.Conv1d(size, hidden, kernel, dilation=d), nn.Tanh()]
            size, length = hidden, length - (kernel - 1) * d
        if length < 1:
            raise UserError(f"the TDNN's delays (kernel {kernel}, dilations {dilations}) span more than "
                            f"data.lookback={lookback} steps")
        self.layers, self.drop = nn.Sequential(*layers), nn.Dropout(dropout)
        self.head = nn.Linear(size * length, horizon * channels)
        self.horizon, self.channels = horizon, channels

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        h = self.drop(self.layers(x.transpose(1, 2)).flatten(1))
        return self.head(h).view(len(x), self.horizon, self.channels)
