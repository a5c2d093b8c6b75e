"""Transformer encoder and decoder layers (Vaswani et al. 2017) from seqlab's attention.

    encoder layer:  x = x + Drop(SelfAttn(LN(x)))            decoder layer:  x = x + Drop(CausalSelfAttn(LN(x)))
                    x = x + Drop(FFN(LN(x)))                                 x = x + Drop(CrossAttn(LN(x), memory))
                                                                             x = x + Drop(FFN(LN(x)))

Pre-norm (LayerNorm before each sub-layer, ``norm_first=True``, the default: it trains
without learning-rate warm-up tricks) or post-norm as in the paper (``norm_first=False``).
FFN(x) = W_2 ReLU(W_1 x + b_1) + b_2.  Masks are boolean, True = may attend
(see :mod:`seqlab.nn.attention`).
"""
from __future__ import annotations

import copy

from torch import Tensor, nn

from seqlab.nn.attention import MultiHeadAttention


class _Residual(nn.Module):
    """x + Drop(f(LN(x))) (pre-norm) or LN(x + Drop(f(x))) (post-norm) around one sub-layer."""

    def __init__(self, d_model: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.norm, self.drop, self.norm_first = nn.LayerNorm(d_model), nn.Dropout(dropout), norm_first

    def forward(self, x: Tensor, f) -> tuple[Tensor, object]:
        y, extra = f(self.norm(x) if self.norm_first else x)
        x = x + self.drop(y)
        return (x if self.norm_first else self.norm(x)), extra


def _ffn(d_model: int, d_ff: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = True):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ffn = _ffn(d_model, d_ff, dropout)
        self.sub = nn.ModuleList(_Residual(d_model, dropout, norm_first) for _ in range(2))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x, _ = self.sub[0](x, lambda y: self.attn(y, y, y, mask))
        x, _ = self.sub[1](x, lambda y: (self.ffn(y), None))
        return x


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = True):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ffn = _ffn(d_model, d_ff, dropout)
        self.sub = nn.ModuleList(_Residual(d_model, dropout, norm_first) for _ in range(3))

    def forward(self, x: Tensor, memory: Tensor, self_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """Returns the new x and, with ``need_weights``, the cross-attention map (B, Tq, Tsrc)."""
        x, _ = self.sub[0](x, lambda y: self.self_attn(y, y, y, self_mask))
        x, weights = self.sub[1](x, lambda y: self.cross_attn(y, memory, memory, memory_mask, need_weights))
        x, _ = self.sub[2](x, lambda y: (self.ffn(y), None))
        return x, weights


class _Stack(nn.Module):
    """N copies of one layer, plus the final LayerNorm that pre-norm needs."""

    def __init__(self, layer: nn.Module, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = nn.LayerNorm(layer.ffn[0].in_features) if layer.sub[0].norm_first else nn.Identity()


class TransformerEncoder(_Stack):
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class TransformerDecoder(_Stack):
    """Returns the output and, with ``need_weights``, the last layer's cross-attention map."""

    def forward(self, x: Tensor, memory: Tensor, self_mask=None, memory_mask=None, need_weights: bool = False):
        weights = None
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            x, weights = layer(x, memory, self_mask, memory_mask, need_weights and last)
        return self.norm(x), weights
