"""Attention: additive (Bahdanau), dot and general (Luong), scaled dot-product, multi-head.

Every form computes, for queries q_i and keys/values (k_j, v_j),

    e_ij = score(q_i, k_j)
    a_ij = softmax_j(e_ij)  over the keys the mask allows      (the attention map)
    z_i  = sum_j a_ij v_j

with the scores of the notes:

    additive            e_ij = v^T tanh(W_q q_i + W_k k_j)      (the notes' e_t = v^T tanh(W_q q + W_x x_t))
    dot                 e_ij = q_i . k_j
    general             e_ij = q_i^T W k_j
    scaled dot-product  e_ij = q_i . k_j / sqrt(d)              (Z = softmax(Q K^T / sqrt(d')) V)

Self-attention passes the same sequence as queries and keys; cross-attention passes the
decoder states as queries and the encoder states as keys and values.

Masks follow ``torch.nn.functional.scaled_dot_product_attention``: a boolean tensor,
True where query i may attend to key j, broadcastable to (B, Tq, Tk) (multi-head:
(B, heads, Tq, Tk)).  :func:`padding_mask` and :func:`causal_mask` build the usual ones.
A query whose keys are all masked gets all-zero weights and a zero output.

Shapes: query (B, Tq, Dq), key (B, Tk, Dk), value (B, Tk, Dv) -> output (B, Tq, Dv) and,
with ``need_weights=True``, the map (B, Tq, Tk) (multi-head: averaged over heads unless
``average_heads=False``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B,) lengths -> (B, 1, T) bool, True on the real (non-padding) keys."""
    return (torch.arange(max_len, device=lengths.device) < lengths[:, None])[:, None, :]


def causal_mask(size: int, device=None) -> Tensor:
    """(T, T) bool, True where key j <= query i: position i sees only its past."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def has_empty_rows(mask: Tensor | None) -> bool:
    """Whether some query may attend to no key at all (the fused kernel would give NaN there)."""
    return mask is not None and not bool(mask.any(-1).all())


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """softmax over the last dim restricted to ``mask``; rows with no allowed key are all zero."""
    if mask is None:
        return scores.softmax(-1)
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.nan_to_num(scores.softmax(-1), nan=0.0)  # an all -inf row gives NaN: make it zero


class _ScoredAttention(nn.Module):
    """Attention whose score function is the only thing a subclass defines."""

    def scores(self, query: Tensor, key: Tensor) -> Tensor:  # (B, Tq, Tk)
        raise NotImplementedError

    def prepare(self, key: Tensor) -> Tensor:
        """What ``scores`` needs of the keys, computed once when many queries come one at a
        time (a decoder step by step); pass it back as ``key``.  Identity unless overridden."""
        return key

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                need_weights: bool = False, prepared: bool = False) -> tuple[Tensor, Tensor | None]:
        """``prepared=True``: ``key`` is ``self.prepare(key)``."""
        weights = masked_softmax(self.scores(query, key if prepared else self.prepare(key)), mask)  # (B, Tq, Tk)
        return weights @ value, (weights if need_weights else None)  # (B, Tq, Dv)


class AdditiveAttention(_ScoredAttention):
    """Bahdanau et al. 2015: e_ij = v^T tanh(W_q q_i + W_k k_j)."""

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(query_size, attn_size, bias=False)
        self.w_k = nn.Linear(key_size, attn_size, bias=True)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def prepare(self, key: Tensor) -> Tensor:
        return self.w_k(key)  # (B, Tk, A): W_k k_j does not depend on the query

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        hidden = torch.tanh(self.w_q(query)[:, :, None] + key[:, None])  # (B, Tq, Tk, A)
        return self.v(hidden).squeeze(-1)


class DotAttention(_ScoredAttention):
    """Luong et al. 2015 "dot": e_ij = q_i . k_j (query and key of one size)."""

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        return query @ key.transpose(1, 2)


class GeneralAttention(_ScoredAttention):
    """Luong et al. 2015 "general": e_ij = q_i^T W k_j."""

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        self.w = nn.Linear(key_size, query_size, bias=False)

    def prepare(self, key: Tensor) -> Tensor:
        return self.w(key)  # (B, Tk, Dq)

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        return query @ key.transpose(1, 2)


class ScaledDotProductAttention(_ScoredAttention):
    """Vaswani et al. 2017: softmax(Q K^T / sqrt(d)) V, through torch's fused kernel when no map is asked for."""

    def scores(self, query: Tensor, key: Tensor) -> Tensor:
        return query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])

    def forward(self, query, key, value, mask=None, need_weights=False, prepared=False):
        if need_weights or has_empty_rows(mask):
            # the explicit path: it returns the map, and gives fully masked rows zeros, not NaN
            return super().forward(query, key, value, mask, need_weights)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask), None


class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention over learned projections, then W_o.

    Parameters as ``torch.nn.MultiheadAttention`` (``in_proj_weight`` (3D, D),
    ``in_proj_bias``, ``out_proj``), so its weights load with ``load_state_dict``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim}, num_heads={num_heads}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def _heads(self, x: Tensor, k: int) -> Tensor:
        """Project with block k of the in-projection and split: (B, T, D) -> (B, h, T, D/h)."""
        d = self.embed_dim
        bias = None if self.in_proj_bias is None else self.in_proj_bias[k * d : (k + 1) * d]
        y = F.linear(x, self.in_proj_weight[k * d : (k + 1) * d], bias)  # (B, T, D)
        return y.view(*x.shape[:2], self.num_heads, d // self.num_heads).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                need_weights: bool = False, average_heads: bool = True) -> tuple[Tensor, Tensor | None]:
        q, k, v = self._heads(query, 0), self._heads(key, 1), self._heads(value, 2)  # (B, h, T, d)
        if mask is not None and mask.dim() == 3:
            mask = mask[:, None]  # (B, 1, Tq, Tk): the same for every head
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights or has_empty_rows(mask):
            weights = masked_softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), mask)  # (B, h, Tq, Tk)
            z = F.dropout(weights, dropout, self.training) @ v
        else:
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        z = z.transpose(1, 2).reshape(*query.shape[:2], self.embed_dim)  # (B, Tq, D)
        if weights is not None and average_heads:
            weights = weights.mean(1)
        return self.out_proj(z), (weights if need_weights else None)
