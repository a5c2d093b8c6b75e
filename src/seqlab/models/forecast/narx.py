"""NARX: nonlinear autoregression with exogenous inputs, and its two modes (the notes' NARX).

    y_t = f(x_t, x_{t-1}, ..., x_{t-K_x+1}, y_{t-1}, ..., y_{t-K_y})     f: a feed-forward net (one tanh layer)

(the notes' formula; x are the exogenous inputs, ``exo_lags`` = K_x values up to and
including x_t, ``order`` = K_y past outputs).

* **open loop** (series-parallel): the lags are the *true* past values; every step is a
  one-step-ahead prediction, so training over a whole window is one batched call of f.
  This is how NARX is trained (``teacher_forced``).
* **closed loop** (parallel): the lags are the model's *own* predictions once the window
  is used up; each forecast step feeds the next.  This is how it forecasts (``forward``):
  the true future targets are never read.

The exogenous inputs x must be known ahead for closed-loop forecasting.  In the forecasting
task they are the calendar (hour of day, day of week), which is; the measured columns have
no known future, so they are all fed back as y.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.errors import UserError


class NARX(nn.Module):
    feeds_back = True

    def __init__(self, channels: int, horizon: int, y_lags: int, u_lags: int, covariates: int, hidden: int) -> None:
        super().__init__()
        if y_lags < 1 or u_lags < 0:
            raise UserError(f"NARX needs model.order >= 1 and model.exo_lags >= 0, got {y_lags} and {u_lags}")
        self.dy, self.du = y_lags, u_lags if covariates else 0  # K_y outputs; K_x inputs, x_t included
        self.horizon = horizon
        self.f = nn.Sequential(nn.Linear(y_lags * channels + self.du * covariates, hidden), nn.Tanh(),
                               nn.Linear(hidden, channels))

    def _inputs(self, y_lags: Tensor, u_lags: Tensor | None) -> Tensor:
        parts = [y_lags.flatten(-2)]
        if self.du:
            parts.append(u_lags.flatten(-2))
        return torch.cat(parts, -1)

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        """Closed loop: x (B, L, C) and the calendar of window + horizon -> (B, H, C)."""
        L = x.shape[1]
        if L < max(self.dy, self.du - 1):
            raise UserError(f"NARX lags (y {self.dy}, u {self.du}) exceed data.lookback={L}")
        history, out = x[:, -self.dy :], []
        for h in range(self.horizon):
            t = L + h
            u = cal[:, t - self.du + 1 : t + 1] if self.du else None
            y = self.f(self._inputs(history, u))
            out.append(y)
            history = torch.cat([history[:, 1:], y[:, None]], 1)
        return torch.stack(out, 1)

    def teacher_forced(self, x: Tensor, y: Tensor, cal: Tensor | None = None) -> tuple[Tensor, int]:
        """Open loop over window + horizon: the one-step predictions of z_s .. z_{L+H-1} and s."""
        z = torch.cat([x, y], 1)  # (B, T, C)
        s, T = max(self.dy, self.du - 1), z.shape[1]
        y_lags = z.unfold(1, self.dy, 1)[:, s - self.dy : T - self.dy].transpose(-1, -2)  # (B, T-s, K_y, C)
        u_lags = cal.unfold(1, self.du, 1)[:, s - self.du + 1 : T - self.du + 1].transpose(-1, -2) if self.du else None
        return self.f(self._inputs(y_lags, u_lags)), s
