"""The linear recurrence h_t = a_t ⊙ h_{t-1} + b_t over a whole sequence, as a chunked (two-level) scan.

The recurrence of minGRU and minLSTM (:mod:`seqlab.nn.minrnn`) once their gates are computed from
x_t alone.  Instead of T dependent steps, time is cut into N chunks of C ≈ √T steps:

1. inside every chunk, all chunks at once: the local states l_t (the recurrence started from 0 at
   the chunk's start) and the running products P_t = Π a_k since the chunk's start -- C steps on
   (N, B, H) tensors;
2. across chunks: the state entering chunk j, s_j = P_end(j−1) ⊙ s_{j−1} + l_end(j−1) -- N steps on (B, H);
3. everywhere at once: h_t = l_t + P_t ⊙ s_(chunk of t).

About 2√T dependent steps instead of T, each over a large tensor, and no logarithms: a_t ∈ (0, 1)
only shrinks the products, so float32 is safe (the log-space form of Heinsen 2023 is
:func:`seqlab.nn.minrnn.log_scan`; both are tested against the plain recurrence).

Backward (derived by hand, beside the forward): with δ_t = dL/dh_t accumulated from the future,

    δ_t = g_t + a_{t+1} ⊙ δ_{t+1}      (g_t: the gradient arriving at h_t from outside)
    dL/db_t = δ_t,   dL/da_t = δ_t ⊙ h_{t−1},   dL/dh_0 = a_1 ⊙ δ_1

-- the same linear recurrence run backwards in time, so it reuses the forward's chunked scan.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def chunked_scan(a: Tensor, b: Tensor, h0: Tensor | None, reverse: bool = False) -> Tensor:
    """h (T, B, H) from a, b (T, B, H) time-major and h0 (B, H) or None (zeros); no autograd.

    ``reverse``: run from t = T down to 1, h_t = a_t ⊙ h_{t+1} + b_t (h0 then enters at t = T).
    """
    steps = a.shape[0]
    chunk = max(1, math.isqrt(steps - 1) + 1)
    n = -(-steps // chunk)
    pad = n * chunk - steps
    if pad:  # a = 1, b = 0 outside the sequence (after its end, or before its start in reverse)
        ones, zeros = a.new_ones((pad,) + a.shape[1:]), b.new_zeros((pad,) + b.shape[1:])
        a, b = (torch.cat([ones, a]), torch.cat([zeros, b])) if reverse else (torch.cat([a, ones]), torch.cat([b, zeros]))
    a4, b4 = a.view(n, chunk, *a.shape[1:]), b.view(n, chunk, *b.shape[1:])  # (N, C, B, H)
    order = range(chunk - 1, -1, -1) if reverse else range(chunk)
    back = 1 if reverse else -1  # where the previous step of the recurrence sits
    local, prod = torch.empty_like(b4), torch.empty_like(a4)
    first = order[0]
    local[:, first], prod[:, first] = b4[:, first], a4[:, first]
    for c in order[1:]:  # 1. every chunk from a zero state, all chunks at once; P_t, the running product
        torch.addcmul(b4[:, c], a4[:, c], local[:, c + back], out=local[:, c])
        torch.mul(a4[:, c], prod[:, c + back], out=prod[:, c])
    entering = torch.empty_like(local[:, 0])  # (N, B, H): the state entering each chunk
    chunks = range(n - 1, -1, -1) if reverse else range(n)
    entering[chunks[0]] = 0 if h0 is None else h0
    last = order[-1]
    for j in chunks[1:]:  # 2. the carries across chunks
        torch.addcmul(local[j + back, last], prod[j + back, last], entering[j + back], out=entering[j])
    h = local.addcmul_(prod, entering[:, None]).view(n * chunk, *a.shape[1:])  # 3.
    return h[pad:] if reverse else h[:steps]


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor | None) -> Tensor:
        h = chunked_scan(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, g: Tensor):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.empty_like(a)  # δ_t = g_t + a_{t+1} δ_{t+1}: the scan run backwards, a shifted by one
        a_next[:-1], a_next[-1] = a[1:], 0
        delta = chunked_scan(a_next, g.contiguous(), None, reverse=True)  # (T, B, H)
        d_a = torch.empty_like(a)  # δ_t ⊙ h_{t−1}
        torch.mul(delta[1:], h[:-1], out=d_a[1:])
        d_a[0] = 0 if h0 is None else delta[0] * h0
        d_h0 = a[0] * delta[0] if ctx.needs_input_grad[2] else None
        return d_a, delta, d_h0


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """h_t = a_t ⊙ h_{t−1} + b_t for t = 1..T: a, b (T, B, H) time-major, h0 (B, H) or None (zeros) -> h (T, B, H)."""
    if a.shape != b.shape or a.dim() != 3:
        raise ValueError(f"a and b must both be (T, B, H), got {tuple(a.shape)} and {tuple(b.shape)}")
    if h0 is not None and h0.shape != a.shape[1:]:
        raise ValueError(f"h0 must be (B, H) = {tuple(a.shape[1:])}, got {tuple(h0.shape)}")
    a, b = a.contiguous(), b.contiguous()
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (a, b, h0)):
        return _LinearScan.apply(a, b, h0)
    return chunked_scan(a, b, h0)
