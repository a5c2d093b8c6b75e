"""The autoregressive model AR(K) of the notes: each value a linear function of the K before it.

    y_t = w_0 + Σ_{k=1..K} w_k y_{t-k} + ε_t,   ε_t ~ N(0, σ²)

Fitted in closed form (ordinary least squares over every t with p predecessors, the fit of
``statsmodels.tsa.ar_model.AutoReg(trend="c")``), or trained by gradient descent as a layer
like any other.  Forecasts are recursive: each predicted value becomes a lag of the next.
One (w_0, w) per channel; with one channel and channel independence, one shared by all.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.errors import UserError


class AR(nn.Module):
    def __init__(self, order: int, channels: int, horizon: int) -> None:
        super().__init__()
        if order < 1:
            raise UserError(f"model.order must be at least 1, got {order}")
        self.order, self.horizon = order, horizon
        self.w = nn.Parameter(torch.zeros(channels, order))  # w[:, k-1] multiplies y_{t-k}
        self.w0 = nn.Parameter(torch.zeros(channels))

    def step(self, lags: Tensor) -> Tensor:
        """lags (B, K, C), oldest first -> y_t (B, C)."""
        return self.w0 + (lags.flip(1) * self.w.T).sum(1)

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        if x.shape[1] < self.order:
            raise UserError(f"AR({self.order}) needs a window of at least {self.order} steps, got {x.shape[1]}")
        lags, out = x[:, -self.order :], []
        for _ in range(self.horizon):
            y = self.step(lags)
            out.append(y)
            lags = torch.cat([lags[:, 1:], y[:, None]], 1)
        return torch.stack(out, 1)

    @torch.no_grad()
    def fit_least_squares(self, series: list[Tensor]) -> None:
        """Set (w_0, w) by least squares on ``series``: a list of (N, C) tensors (pooled when C = 1)."""
        channels = self.w.shape[0]
        for ch in range(channels):
            rows, targets = [], []
            for z in series:
                cols = range(z.shape[1]) if channels == 1 else [ch]
                for k in cols:
                    y = z[:, k].double()
                    if len(y) <= self.order:
                        raise UserError(f"AR({self.order}) needs more than {self.order} training rows, got {len(y)}")
                    lags = y.unfold(0, self.order, 1)[:-1].flip(1)  # row t: y_{t-1} .. y_{t-K}
                    rows.append(torch.cat([torch.ones(len(lags), 1, dtype=y.dtype), lags], 1))
                    targets.append(y[self.order :])
            design, target = torch.cat(rows), torch.cat(targets)
            solution = torch.linalg.lstsq(design, target[:, None], driver="gelsd").solution[:, 0]
            self.w0[ch], self.w[ch] = solution[0], solution[1:]
