"""A segment-wise recurrent forecaster after SegRNN (Lin et al. 2023, arXiv:2308.11200).

Two changes make an RNN fit long windows and horizons:

* **segment-wise iterations**: the look-back window of each channel is cut into segments of
  w steps; each segment, embedded by a linear map and ReLU, is one recurrent step, so
  L = 720 takes 720 / w steps instead of 720;
* **parallel multi-step forecasting (PMF)**: the final state h_n starts one recurrent step
  per output segment, all at once, whose input is a positional embedding (which segment of
  the horizon) joined to a channel embedding (which series); a linear map turns each
  output into w forecast values.

    e_k = ReLU(W_e x_{segment k} + b_e),   h_n = RNN(e_1..e_n)
    o_j = cell([pos_j ; chan_c], h_n),      ŷ_{segment j} = W_o dropout(o_j) + b_o

Channels are independent (one model for all, told apart only by the channel embedding).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.models.recurrent import recurrent_layer


class SegRNN(nn.Module):
    handles_channels = True  # channel independence is built in (the channel embedding)

    def __init__(self, cfg, channels: int, lookback: int, horizon: int) -> None:
        super().__init__()
        w, d = cfg.segment, cfg.hidden_size
        if w < 1 or lookback % w:
            raise UserError(f"model.segment must divide data.lookback, got segment {w} and lookback {lookback}")
        self.w, self.horizon, self.out_segments = w, horizon, math.ceil(horizon / w)
        self.embed = nn.Sequential(nn.Linear(w, d), nn.ReLU())
        self.rnn = recurrent_layer(cfg, d)
        self.pos = nn.Parameter(torch.randn(self.out_segments, d // 2))
        self.chan = nn.Parameter(torch.randn(channels, d - d // 2))
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(d, w)

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        B, L, C = x.shape
        m = self.out_segments
        segments = x.transpose(1, 2).reshape(B * C, L // self.w, self.w)
        _, h = self.rnn(self.embed(segments))  # (layers, B*C, d), or (h, c) for an LSTM
        queries = torch.cat([self.pos.expand(C, m, -1), self.chan[:, None].expand(C, m, -1)], -1)  # (C, m, d)
        queries = queries.expand(B, C, m, -1).reshape(B * C * m, 1, -1)
        h = tuple(s.repeat_interleave(m, 1) for s in h) if isinstance(h, tuple) else h.repeat_interleave(m, 1)
        out, _ = self.rnn(queries, h)  # one step per output segment, all in parallel
        y = self.head(self.drop(out[:, 0])).view(B, C, m * self.w)[:, :, : self.horizon]
        return y.transpose(1, 2)
