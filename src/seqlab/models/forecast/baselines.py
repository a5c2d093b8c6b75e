"""The baselines of every forecasting table: repeat-last, seasonal naive, and DLinear.

    repeat-last      y_{L+h} = x_L                                   (the random-walk forecast)
    seasonal naive   y_{L+h} = x_{L+h-P·k}, the same time one period P earlier (k = 1 + h // P)
    DLinear          x = trend + seasonal, trend = moving average of x (edges repeated);
                     y = W_t · trend + W_s · seasonal, two linear maps over time shared by the
                     channels (Zeng et al. 2023, "Are Transformers Effective for Time Series Forecasting?")

Every model maps a window (B, L, C) to a forecast (B, H, C).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.errors import UserError


class RepeatLast(nn.Module):
    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        return x[:, -1:].expand(-1, self.horizon, -1)


class SeasonalNaive(nn.Module):
    def __init__(self, lookback: int, horizon: int, period: int) -> None:
        super().__init__()
        if not 1 <= period <= lookback:
            raise UserError(f"the seasonal naive forecast needs 1 <= model.period <= data.lookback, got period "
                            f"{period} and lookback {lookback}")
        self.register_buffer("index", lookback - period + torch.arange(horizon) % period, persistent=False)

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        return x[:, self.index]


class MovingAverage(nn.Module):
    """The trend: a centred moving average of ``kernel`` steps, the series' ends repeated outward."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        if kernel < 1:
            raise UserError(f"model.moving_average must be at least 1, got {kernel}")
        self.kernel = kernel

    def forward(self, x: Tensor) -> Tensor:  # (B, L, C)
        left, right = (self.kernel - 1) // 2, self.kernel // 2
        padded = torch.cat([x[:, :1].expand(-1, left, -1), x, x[:, -1:].expand(-1, right, -1)], 1)
        return padded.unfold(1, self.kernel, 1).mean(-1)


class DLinear(nn.Module):
    def __init__(self, lookback: int, horizon: int, kernel: int = 25) -> None:
        super().__init__()
        self.trend = MovingAverage(kernel)
        self.w_seasonal, self.w_trend = nn.Linear(lookback, horizon), nn.Linear(lookback, horizon)
        for w in (self.w_seasonal, self.w_trend):  # start as the window's mean, as the reference does
            nn.init.constant_(w.weight, 1.0 / lookback)

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        trend = self.trend(x)
        seasonal = x - trend
        out = self.w_seasonal(seasonal.transpose(1, 2)) + self.w_trend(trend.transpose(1, 2))
        return out.transpose(1, 2)
