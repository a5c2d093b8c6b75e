"""Positional encodings: attention has no notion of order, so position is added to the input.

Sinusoidal (Vaswani et al. 2017):

    PE(pos, 2i) = sin(pos / 10000^(2i/d)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/d))

Learned: one trained vector per position up to ``max_len``.
Both take x (B, T, d) and return x + PE[:T] (then dropout).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _check_length(length: int, max_len: int) -> None:
    if length > max_len:
        raise ValueError(f"sequence length {length} exceeds the positional encoding's max_len={max_len}")


class SinusoidalPositionalEncoding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 4096, dropout: float = 0.0) -> None:
        super().__init__()
        position = torch.arange(max_len)[:, None]  # (L, 1)
        rate = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (d/2,)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * rate)
        pe[:, 1::2] = torch.cos(position * rate[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_length(offset + x.shape[1], self.pe.shape[0])
        return self.drop(x + self.pe[offset : offset + x.shape[1]])


class LearnedPositionalEncoding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 1024, dropout: float = 0.0) -> None:
        super().__init__()
        self.pe = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.pe.weight, std=0.02)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_length(offset + x.shape[1], self.pe.num_embeddings)
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        return self.drop(x + self.pe(positions))
