"""Forecasters: a window (B, L, C) -> a forecast (B, H, C'), every family behind one wrapper.

    kind          file           model
    repeat_last   baselines.py   the last value, repeated
    seasonal      baselines.py   the value one period earlier
    dlinear       baselines.py   moving-average decomposition + two linear maps
    ar            ar.py          AR(p), least squares (``fit=least_squares``) or trained
    tdnn          tdnn.py        time-delay network (dilated 1-D convolutions)
    narx          narx.py        NARX, trained open loop, forecasting closed loop
    rnn_direct    recurrent.py   recurrent encoder + linear head for all H steps
    rnn_seq2seq   recurrent.py   recurrent encoder-decoder, one step at a time
    segrnn        segrnn.py      segment-wise RNN with parallel multi-step decoding

:class:`Forecaster` adds what every family shares: per-window normalisation (``norm``),
channel independence (each channel a separate series through one shared model), and
the choice of output channels (all of them, or the target alone for mode MS).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import Count, Probability, Size, UnitInterval
from seqlab.models.forecast.revin import WindowNorm
from seqlab.models.recurrent import RecurrentConfig, check_recurrent

KINDS = ("repeat_last", "seasonal", "dlinear", "ar", "tdnn", "narx", "rnn_direct", "rnn_seq2seq", "segrnn")


@dataclass
class ForecastModelConfig(RecurrentConfig):
    kind: Literal["repeat_last", "seasonal", "dlinear", "ar", "tdnn", "narx", "rnn_direct", "rnn_seq2seq", "segrnn"] = "segrnn"
    norm: Literal["revin", "last", "none"] = "revin"  # per-window normalisation: revin | last | none
    revin_affine: bool = False  # revin: learn a per-channel scale and shift
    channel_independent: bool = True  # one model shared by every channel (segrnn, dlinear: always)
    loss: Literal["mse", "mae"] = "mse"
    fit: Literal["gradient", "least_squares"] = "gradient"  # ar: gradient | least_squares
    # recurrent models (rnn_direct, rnn_seq2seq, segrnn): the RecurrentConfig fields
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru", "min_gru", "min_lstm"] = "gru"
    hidden_size: Size = 256  # also the TDNN / NARX width
    dropout: Probability = 0.0  # on the recurrent models' outputs (and the TDNN's)
    teacher_forcing: UnitInterval = 1.0  # rnn_seq2seq: probability of feeding the truth in training
    segment: Size = 48  # segrnn: steps per segment
    order: Count = 24  # ar: p (0: by AIC up to data.lookback, with fit=least_squares);  narx: d_y
    exo_lags: Count = 24  # narx: d_u (calendar lags; 0: no exogenous inputs)
    kernel: Size = 3  # tdnn
    dilations: str = "1,2,4,8"  # tdnn
    moving_average: Size = 25  # dlinear
    period: Count = 0  # seasonal: rows per season (0: from the data's sampling interval)


class Forecaster(nn.Module):
    """A forecasting family with normalisation, channel independence and output channels."""

    def __init__(self, core: nn.Module, channels: int, outputs: list[int], norm: WindowNorm,
                 channel_independent: bool) -> None:
        super().__init__()
        self.core, self.norm, self.outputs = core, norm, outputs
        self.independent = channel_independent and not getattr(core, "handles_channels", False)
        self.channels = channels

    def _split(self, x: Tensor, cal: Tensor | None):
        """Channel independence: (B, T, C) -> (B*C, T, 1); the calendar repeated per channel."""
        if not self.independent:
            return x, cal
        B, T, C = x.shape
        x = x.transpose(1, 2).reshape(B * C, T, 1)
        return x, (cal.repeat_interleave(C, 0) if cal is not None else None)

    def _join(self, y: Tensor, batch: int) -> Tensor:
        if not self.independent:
            return y
        return y.reshape(batch, self.channels, -1).transpose(1, 2)

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        """x (B, L, C) -> forecast (B, H, len(outputs)); ``cal`` (B, L + H, 4) the known-ahead calendar."""
        stats = self.norm.statistics(x)
        xs, cs = self._split(self.norm.normalise(x, stats), cal)
        y = self.norm.denormalise(self._join(self.core(xs, cs), len(x)), stats)
        return y[..., self.outputs]

    def loss(self, x: Tensor, y: Tensor, cal: Tensor | None, kind: str = "mse") -> Tensor:
        """The training loss of windows x with futures y (B, H, C).

        Models that feed their outputs back (NARX, the encoder-decoder) are trained on their
        teacher-forced predictions of every channel; the others on their forecast of the outputs.
        """
        criterion = nn.functional.mse_loss if kind == "mse" else nn.functional.l1_loss
        if not hasattr(self.core, "teacher_forced"):
            return criterion(self(x, cal), y[..., self.outputs])
        stats = self.norm.statistics(x)
        xs, cs = self._split(self.norm.normalise(x, stats), cal)
        ys, _ = self._split(self.norm.normalise(y, stats), None)
        prediction, start = self.core.teacher_forced(xs, ys, cs)
        prediction = self.norm.denormalise(self._join(prediction, len(x)), stats)
        return criterion(prediction, torch.cat([x, y], 1)[:, start:])


def build(cfg: ForecastModelConfig, channels: int, lookback: int, horizon: int, outputs: list[int],
          period: int = 1, covariates: int = 4) -> Forecaster:
    """The forecaster ``cfg`` names, for windows of ``channels`` columns and ``covariates`` known-ahead inputs
    per step (NARX reads them; 0: none)."""
    from seqlab.models.forecast import ar, baselines, narx, recurrent, segrnn, tdnn

    if cfg.kind not in KINDS:
        raise UserError(f"model.kind must be one of {list(KINDS)}, got {cfg.kind!r}")
    if cfg.loss not in ("mse", "mae"):
        raise UserError(f"model.loss must be mse or mae, got {cfg.loss!r}")
    if cfg.fit not in ("gradient", "least_squares") or (cfg.fit == "least_squares" and cfg.kind != "ar"):
        raise UserError(f"model.fit must be gradient (or least_squares for model.kind=ar), got {cfg.fit!r}")
    if cfg.kind == "ar" and cfg.fit == "least_squares" and cfg.norm != "none":
        raise UserError("model.fit=least_squares fits the standardised series: it needs model.norm=none")
    check_recurrent(cfg)
    if cfg.bidirectional:
        raise UserError("model.bidirectional=true: a forecaster reads its look-back window in time order")
    if not 0 <= cfg.teacher_forcing <= 1:
        raise UserError(f"model.teacher_forcing must lie in [0, 1], got {cfg.teacher_forcing}")
    c = 1 if cfg.channel_independent and cfg.kind not in ("segrnn", "dlinear") else channels
    k = cfg.kind
    if k == "repeat_last":
        core = baselines.RepeatLast(horizon)
    elif k == "seasonal":
        core = baselines.SeasonalNaive(lookback, horizon, cfg.period or period)
    elif k == "dlinear":
        core = baselines.DLinear(lookback, horizon, cfg.moving_average)
    elif k == "ar":
        core = ar.AR(cfg.order, c, horizon)
    elif k == "tdnn":
        try:
            dilations = [int(d) for d in cfg.dilations.split(",")]
        except ValueError:
            raise UserError(f"model.dilations must be comma-separated integers, got {cfg.dilations!r}") from None
        core = tdnn.TDNN(c, lookback, horizon, cfg.hidden_size, cfg.kernel, dilations, cfg.dropout)
    elif k == "narx":
        core = narx.NARX(c, horizon, cfg.order, cfg.exo_lags, covariates, cfg.hidden_size)
        if lookback < max(core.dy, core.du - 1):
            raise UserError(f"NARX lags (model.order={core.dy}, model.exo_lags={core.du}) exceed data.lookback="
                            f"{lookback}")
    elif k == "rnn_direct":
        core = recurrent.DirectRNN(cfg, c, horizon)
    elif k == "rnn_seq2seq":
        core = recurrent.Seq2SeqRNN(cfg, c, horizon)
    else:
        core = segrnn.SegRNN(cfg, channels, lookback, horizon)
    norm = WindowNorm(cfg.norm, channels, cfg.revin_affine)
    return Forecaster(core, channels, outputs, norm, cfg.channel_independent)
