"""Sequence -> vector: the many-to-one readouts of the notes, all respecting padding.

Each pooling takes the encoder's states ``h`` (B, T, D) and ``mask`` (B, T) bool (True on
real steps) and returns (B, D); padded steps never change the result.

* ``last``      -- the final state: h at t = len-1; for a bidirectional layer the forward
  half at len-1 and the backward half at t = 0, i.e. both directions' final states.
* ``mean``      -- (1/len) sum_t h_t over the real steps.
* ``max``       -- the elementwise max over the real steps.
* ``center``    -- the state at the middle step, t = len // 2: for aligned sequences whose
  signal sits at a fixed place (a splice junction between positions 30 and 31 of 60), the
  bidirectional state there has read everything up to it from both sides.
* ``attention`` -- additive attention with a learned query (Bahdanau-style scoring,
  as in Yang et al. 2016): e_t = v^T tanh(W h_t + b), a = softmax(e) over the real
  steps, pooled = sum_t a_t h_t.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.nn.attention import masked_softmax


class LastPooling(nn.Module):
    def __init__(self, size: int, bidirectional: bool = False) -> None:
        super().__init__()
        self.bidirectional = bidirectional

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        last = (mask.sum(1) - 1).clamp(min=0)  # (B,)
        forward = h[torch.arange(h.shape[0], device=h.device), last]  # (B, D)
        if not self.bidirectional:
            return forward
        half = h.shape[-1] // 2
        return torch.cat([forward[:, :half], h[:, 0, half:]], -1)


class MeanPooling(nn.Module):
    def __init__(self, size: int, bidirectional: bool = False) -> None:
        super().__init__()

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        m = mask[..., None].to(h.dtype)  # (B, T, 1)
        return (h * m).sum(1) / m.sum(1).clamp(min=1)


class MaxPooling(nn.Module):
    def __init__(self, size: int, bidirectional: bool = False) -> None:
        super().__init__()

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        return h.masked_fill(~mask[..., None], float("-inf")).amax(1)


class CenterPooling(nn.Module):
    def __init__(self, size: int, bidirectional: bool = False) -> None:
        super().__init__()

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        middle = mask.sum(1) // 2  # (B,)
        return h[torch.arange(h.shape[0], device=h.device), middle]


class AttentionPooling(nn.Module):
    def __init__(self, size: int, bidirectional: bool = False, attn_size: int | None = None) -> None:
        super().__init__()
        self.w = nn.Linear(size, attn_size or size)
        self.v = nn.Linear(attn_size or size, 1, bias=False)

    def forward(self, h: Tensor, mask: Tensor, need_weights: bool = False):
        e = self.v(torch.tanh(self.w(h))).squeeze(-1)  # (B, T)
        a = masked_softmax(e, mask)  # (B, T), zero on padding
        pooled = (a[..., None] * h).sum(1)  # (B, D)
        return (pooled, a) if need_weights else pooled


POOLINGS = {"last": LastPooling, "mean": MeanPooling, "max": MaxPooling, "center": CenterPooling,
            "attention": AttentionPooling}


def build_pooling(name: str, size: int, bidirectional: bool) -> nn.Module:
    if name not in POOLINGS:
        raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {name!r}")
    return POOLINGS[name](size, bidirectional)
