"""The autoregressive model AR(K) of the notes: each value a linear function of the K before it.

    y_t = w_0 + Σ_{k=1..K} w_k y_{t-k} + ε_t,   ε_t ~ N(0, σ²)

Fitted in closed form (ordinary least squares over every t with p predecessors, the fit of
``statsmodels.tsa.ar_model.AutoReg(trend="c")``), or trained by gradient descent as a layer
like any other.  The order K can be chosen by Akaike's information criterion (:func:`aic_order`, the
choice of ``statsmodels.tsa.ar_model.ar_select_order(ic="aic")``).  Forecasts are recursive: each predicted value becomes a lag of the next.
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
            raise UserError(f"model.order must be at least 1 (0 chooses it by AIC with model.fit=least_squares), "
                            f"got {order}")
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


def _design(y: Tensor, order: int, first: int) -> tuple[Tensor, Tensor]:
    """Rows [1, y_{t-1} .. y_{t-order}] and targets y_t for t = first .. len(y) - 1."""
    lags = torch.stack([y[first - k : len(y) - k] for k in range(1, order + 1)], 1) if order else y[first:, None][:, :0]
    return torch.cat([torch.ones(len(y) - first, 1, dtype=y.dtype), lags], 1), y[first:]


@torch.no_grad()
def aic_order(series: list[Tensor], max_order: int) -> int:
    """The order in 1..max_order with the lowest AIC = n log(SSR / n) + 2 (K + 1), every order fitted on the same
    targets (those after the first ``max_order`` rows of each series, as ``ar_select_order`` does); channels
    pooled."""
    best, best_aic = 1, float("inf")
    columns = [z[:, k].double() for z in series for k in range(z.shape[1])]
    if min(len(y) for y in columns) <= max_order + 1:
        raise UserError(f"model.order=0 (by AIC up to {max_order}) needs more than {max_order + 1} training rows")
    for order in range(1, max_order + 1):
        parts = [_design(y, order, max_order) for y in columns]
        design, target = torch.cat([d for d, _ in parts]), torch.cat([t for _, t in parts])
        solution = torch.linalg.lstsq(design, target[:, None], driver="gelsd").solution
        ssr = float((design @ solution - target[:, None]).pow(2).sum())
        aic = len(target) * torch.log(torch.tensor(ssr / len(target))).item() + 2 * (order + 1)
        if aic < best_aic - 1e-12:
            best, best_aic = order, aic
    return best
