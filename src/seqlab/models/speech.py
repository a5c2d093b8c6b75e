"""Acoustic models over feature frames: isolated digits (many -> one) and connected digits (CTC).

    x_1..x_T          log-mel or MFCC frames (optionally k consecutive frames stacked: T/k steps)
    h_1..h_T          a bidirectional encoder of any seqlab.nn cell (models/encoder.py)
    isolated:         p(digit | x) = softmax(W · Pool(h_1..h_T) + b)       pooling as for sentences
    connected (CTC):  p_t(· | x) = softmax(W h_t + b) over blank + the labels, at every step;
                      trained with the CTC loss (torch.nn.functional.ctc_loss), which sums over
                      every alignment of the label sequence to the T steps
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.pooling import POOLINGS, build_pooling


@dataclass
class SpeechModelConfig(EncoderConfig):
    pooling: str = "mean"  # isolated digits: last | mean | max | attention
    stack: int = 1  # consecutive frames joined into one step (CTC models: 2 halves the steps)


def stack_frames(x: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(B, T, D) -> (B, ceil(T/k), k·D): k consecutive frames side by side (the last zero-padded)."""
    if k == 1:
        return x, lengths
    B, T, D = x.shape
    pad = -T % k
    x = torch.cat([x, x.new_zeros(B, pad, D)], 1) if pad else x
    return x.reshape(B, (T + pad) // k, k * D), (lengths + k - 1) // k


class _Acoustic(nn.Module):
    def __init__(self, cfg: SpeechModelConfig, features: int) -> None:
        super().__init__()
        if cfg.stack < 1:
            raise UserError(f"model.stack must be at least 1, got {cfg.stack}")
        self.k = cfg.stack
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = SequenceEncoder(cfg, features * cfg.stack)

    def encode(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x, lengths = stack_frames(x, lengths, self.k)
        return self.drop(self.encoder(x, lengths)), lengths  # (B, T', D), (B,)


class DigitClassifier(_Acoustic):
    """Features (B, T, D) with lengths -> logits (B, classes)."""

    def __init__(self, cfg: SpeechModelConfig, features: int, classes: int = 10) -> None:
        super().__init__(cfg, features)
        if cfg.pooling not in POOLINGS:
            raise UserError(f"model.pooling must be one of {sorted(POOLINGS)}, got {cfg.pooling!r}")
        self.pool = build_pooling(cfg.pooling, self.encoder.output_size, self.encoder.bidirectional)
        self.out = nn.Linear(self.encoder.output_size, classes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        h, lengths = self.encode(x, lengths)
        mask = torch.arange(h.shape[1], device=h.device) < lengths[:, None]  # (B, T')
        return self.out(self.pool(h, mask))


class CTCModel(_Acoustic):
    """Features (B, T, D) with lengths -> per-step log-probabilities (B, T', 1 + labels) and T' lengths; 0 = blank."""

    def __init__(self, cfg: SpeechModelConfig, features: int, labels: int = 10) -> None:
        super().__init__(cfg, features)
        self.out = nn.Linear(self.encoder.output_size, labels + 1)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        h, lengths = self.encode(x, lengths)
        return self.out(h).log_softmax(-1), lengths
