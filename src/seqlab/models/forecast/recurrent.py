"""Recurrent forecasters on any seqlab.nn cell: an encoder with a direct head, and an encoder-decoder.

(a) **direct**: h_L = RNN(x_1..x_L);  ŷ_{L+1..L+H} = W h_L + b, all H steps at once.
(b) **encoder-decoder** (recursive multi-step): the encoder's final state starts a decoder that
    emits one step at a time, ŷ_{t} = W g_t, g_t = cell(ŷ_{t-1}, g_{t-1}).  In training the
    decoder is fed the true y_{t-1} (teacher forcing) -- or, with ``teacher_forcing`` p < 1,
    the truth with probability p and its own prediction otherwise (scheduled sampling,
    Bengio et al. 2015).  Forecasting always feeds back its own predictions.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.models.recurrent import recurrent_layer


class DirectRNN(nn.Module):
    def __init__(self, cfg, channels: int, horizon: int) -> None:
        super().__init__()
        self.rnn = recurrent_layer(cfg, channels)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, horizon * channels)
        self.horizon, self.channels = horizon, channels

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(self.drop(out[:, -1])).view(len(x), self.horizon, self.channels)


class Seq2SeqRNN(nn.Module):
    feeds_back = True

    def __init__(self, cfg, channels: int, horizon: int) -> None:
        super().__init__()
        self.encoder, self.decoder = recurrent_layer(cfg, channels), recurrent_layer(cfg, channels)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, channels)
        self.horizon, self.teacher_forcing = horizon, cfg.teacher_forcing

    def _step(self, previous: Tensor, state):
        out, state = self.decoder(previous, state)
        return self.head(self.drop(out)), state

    def forward(self, x: Tensor, cal: Tensor | None = None) -> Tensor:
        _, state = self.encoder(x)
        previous, out = x[:, -1:], []
        for _ in range(self.horizon):
            previous, state = self._step(previous, state)
            out.append(previous)
        return torch.cat(out, 1)

    def teacher_forced(self, x: Tensor, y: Tensor, cal: Tensor | None = None) -> tuple[Tensor, int]:
        """Predictions of y_1..y_H with the truth (or, scheduled, sometimes the prediction) fed in."""
        _, state = self.encoder(x)
        inputs = torch.cat([x[:, -1:], y[:, :-1]], 1)
        if self.teacher_forcing >= 1.0:  # every input known: the decoder runs as one sequence
            out, _ = self.decoder(inputs, state)
            return self.head(self.drop(out)), x.shape[1]
        previous, out = inputs[:, :1], []
        for t in range(self.horizon):
            prediction, state = self._step(previous, state)
            out.append(prediction)
            if t + 1 < self.horizon:
                use_truth = torch.rand(len(x), 1, 1, device=x.device) < self.teacher_forcing
                previous = torch.where(use_truth, inputs[:, t + 1 : t + 2], prediction.detach())
        return torch.cat(out, 1), x.shape[1]
