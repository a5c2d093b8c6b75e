"""Sequence -> class (the notes' many-to-one pattern, e.g. sentiment analysis).

    e_t = E[x_t] (+ P[t])                        word, character or subword embedding; optional: a learned
                                                 vector per position (aligned sequences: DNA around a junction)
    c_t = [ReLU(Σ_j W^k_j e_{t+j} + b^k)]_k      optional: the notes' TDNN, 1-D convolutions of widths k,
                                                 |j| <= k // 2, concatenated (motifs: DNA)
    h_1..h_T = Encoder(e_1..e_T or c_1..c_T)     BiRNN of any seqlab.nn cell, or a Transformer
    s = Pool(h_1..h_T)                           last state | mean | max | additive attention
    p(y | x) = softmax(W s + b)

Dropout on the embeddings and on the pooled vector (``model.dropout``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import INT_MAX, Count, Probability, Range, Size
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.pooling import POOLINGS, AttentionPooling, build_pooling


@dataclass
class ClassifierConfig(EncoderConfig):
    embed_size: Size = 300  # word (or subword) embedding size
    pooling: Literal["last", "mean", "max", "center", "attention"] = "max"
    vectors: str = ""  # GloVe-format text file to initialise the embedding (its dimension = embed_size)
    freeze_vectors: bool = False  # keep model.vectors fixed in training
    conv_width: Count = 0  # > 0 (odd): a 1-D convolution of this width over the embeddings, before the encoder
    conv_widths: str = ""  # several widths (TDNN front end), e.g. "3,9,15": one convolution each, concatenated
    conv_channels: Size = 64  # output channels of each convolution (model.conv_width or model.conv_widths)
    positions: Annotated[int, Range(0, 2**20)] = 0  # > 0: a learned vector for each of the first N positions, added to the embeddings
    label_smoothing: Probability = 0.0  # training: label smoothing of the cross-entropy
    init_from: str = ""  # a `seqlab train bilm` run: start from its vocabulary, embedding and encoder (ULMFiT)
    contextual: str = ""  # a `seqlab train charlm` run: its two LMs' states at each word join the embeddings (frozen, copied in)


class SequenceClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig, vocab_size: int, num_classes: int, pad: int = 0,
                 contextual: nn.Module | None = None) -> None:
        """``contextual``: a :class:`~seqlab.models.charlm.BiCharLM`, frozen, whose word vectors join the embeddings
        (``forward``'s ``context`` then holds each sentence's characters)."""
        super().__init__()
        if cfg.pooling not in POOLINGS:
            raise UserError(f"model.pooling must be one of {sorted(POOLINGS)}, got {cfg.pooling!r}")
        widths = conv_widths(cfg)
        self.embed = nn.Embedding(vocab_size, cfg.embed_size, padding_idx=pad)
        self.position = nn.Embedding(cfg.positions, cfg.embed_size) if cfg.positions else None
        self.max_positions = cfg.positions or None  # the longest input with a position vector
        self.contextual = contextual
        size = cfg.embed_size
        if contextual is not None:
            size += contextual.output_size
            contextual.requires_grad_(False)
            contextual.eval()
        self.drop = nn.Dropout(cfg.dropout)
        self.convs = nn.ModuleList(nn.Conv1d(size, cfg.conv_channels, k, padding=k // 2) for k in widths)
        self.encoder = SequenceEncoder(cfg, cfg.conv_channels * len(widths) if widths else size)
        self.pool = build_pooling(cfg.pooling, self.encoder.output_size, self.encoder.bidirectional)
        self.out = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor, need_weights: bool = False, embedded: Tensor | None = None,
                context: dict | None = None):
        """tokens (B, T) right-padded, lengths (B,) -> class logits (B, C); with ``need_weights`` also the
        attention-pooling weights (B, T) (None for the other poolings).  ``embedded`` (B, T, E) stands in
        for the embeddings E[tokens] (attribution, :mod:`seqlab.models.attribution`).  ``context``: with
        char LMs, the sentences' characters (:func:`seqlab.models.charlm.collate_chars`)."""
        h = self.encoder(self.features(tokens, lengths, embedded, context), lengths)  # (B, T, D)
        mask = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]  # (B, T)
        if not need_weights:
            return self.out(self.drop(self.pool(h, mask)))
        pooled, weights = self.pool(h, mask, need_weights=True) if isinstance(self.pool, AttentionPooling) \
            else (self.pool(h, mask), None)
        return self.out(self.drop(pooled)), weights

    def features(self, tokens: Tensor, lengths: Tensor, embedded: Tensor | None = None,
                 context: dict | None = None) -> Tensor:
        """The encoder's input (B, T, I): embeddings (+ positions) (+ the char LMs' word vectors), through the
        convolutions if any.  ``embedded`` replaces E[x] (attribution: gradients with respect to the embeddings)."""
        T = tokens.shape[1]
        if self.position is not None and T > self.position.num_embeddings:
            raise UserError(f"an input of {T} tokens is longer than the model's {self.position.num_embeddings} "
                            "learned positions (model.positions)")
        e = self.embed(tokens) if embedded is None else embedded  # (B, T, E)
        mask = (torch.arange(T, device=tokens.device) < lengths[:, None])[..., None]  # (B, T, 1)
        if self.position is not None:  # not on padding, which a convolution would read at a sequence's end
            e = e + self.position.weight[:T] * mask
        if self.contextual is not None:
            if context is None:
                raise ValueError("a classifier with char LMs needs the sentences' characters (context)")
            e = torch.cat([e, self.contextual.frozen_vectors({**context, "lengths": lengths})], -1)
        e = self.drop(e)
        if self.convs:  # padded steps are zeroed again, so that they add nothing to real ones
            c = e.transpose(1, 2)
            e = torch.cat([torch.relu(conv(c)) for conv in self.convs], 1).transpose(1, 2) * mask
        return e


    def train(self, mode: bool = True):
        """As nn.Module's; the frozen char LMs stay in eval mode (no dropout in what they give)."""
        super().train(mode)
        if self.contextual is not None:
            self.contextual.eval()
        return self


def conv_widths(cfg: ClassifierConfig) -> list[int]:
    """The convolution widths of ``model.conv_width`` or ``model.conv_widths`` (odd, one of the two)."""
    if cfg.conv_width and cfg.conv_widths.strip():
        raise UserError(f"model.conv_width={cfg.conv_width} and model.conv_widths={cfg.conv_widths!r}: give one")
    try:
        widths = [int(k) for k in cfg.conv_widths.split(",")] if cfg.conv_widths.strip() else \
            ([cfg.conv_width] if cfg.conv_width else [])
    except ValueError:
        widths = None
    if widths is None or any(k < 1 or k % 2 == 0 or k > INT_MAX for k in widths):
        raise UserError(f"model.conv_widths must be odd widths separated by commas (e.g. 3,9,15), got "
                        f"{cfg.conv_widths!r}" if cfg.conv_widths.strip() else
                        f"model.conv_width must be 0 or odd, got {cfg.conv_width}")
    return widths
