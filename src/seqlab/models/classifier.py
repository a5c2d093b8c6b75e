"""Sequence -> class (the notes' many-to-one pattern, e.g. sentiment analysis).

    e_t = E[x_t]                                 word, character or subword embedding
    c_t = ReLU(Σ_j W_j e_{t+j} + b)              optional: a 1-D convolution, |j| <= width // 2 (motifs: DNA)
    h_1..h_T = Encoder(e_1..e_T or c_1..c_T)     BiRNN of any seqlab.nn cell, or a Transformer
    s = Pool(h_1..h_T)                           last state | mean | max | additive attention
    p(y | x) = softmax(W s + b)

Dropout on the embeddings and on the pooled vector (``model.dropout``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import Count, Size
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.pooling import POOLINGS, AttentionPooling, build_pooling


@dataclass
class ClassifierConfig(EncoderConfig):
    embed_size: Size = 300  # word (or subword) embedding size
    pooling: Literal["last", "mean", "max", "attention"] = "max"
    vectors: str = ""  # GloVe-format text file to initialise the embedding (its dimension = embed_size)
    freeze_vectors: bool = False  # keep model.vectors fixed in training
    conv_width: Count = 0  # > 0 (odd): a 1-D convolution of this width over the embeddings, before the encoder
    conv_channels: Size = 64  # its output channels (model.conv_width > 0)
    init_from: str = ""  # a `seqlab train bilm` run: start from its vocabulary, embedding and encoder (ULMFiT)


class SequenceClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig, vocab_size: int, num_classes: int, pad: int = 0) -> None:
        super().__init__()
        if cfg.pooling not in POOLINGS:
            raise UserError(f"model.pooling must be one of {sorted(POOLINGS)}, got {cfg.pooling!r}")
        if cfg.conv_width < 0 or (cfg.conv_width and (cfg.conv_width % 2 == 0 or cfg.conv_channels < 1)):
            raise UserError(f"model.conv_width must be 0 or odd with model.conv_channels >= 1, got "
                            f"{cfg.conv_width} and {cfg.conv_channels}")
        self.embed = nn.Embedding(vocab_size, cfg.embed_size, padding_idx=pad)
        self.drop = nn.Dropout(cfg.dropout)
        self.conv = nn.Conv1d(cfg.embed_size, cfg.conv_channels, cfg.conv_width, padding=cfg.conv_width // 2) \
            if cfg.conv_width else None
        self.encoder = SequenceEncoder(cfg, cfg.conv_channels if self.conv is not None else cfg.embed_size)
        self.pool = build_pooling(cfg.pooling, self.encoder.output_size, self.encoder.bidirectional)
        self.out = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor, need_weights: bool = False):
        """tokens (B, T) right-padded, lengths (B,) -> class logits (B, C); with ``need_weights`` also the
        attention-pooling weights (B, T) (None for the other poolings)."""
        mask = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]  # (B, T)
        e = self.drop(self.embed(tokens))  # (B, T, E)
        if self.conv is not None:  # padded steps are zeroed again, so that they add nothing to real ones
            e = torch.relu(self.conv(e.transpose(1, 2))).transpose(1, 2) * mask[..., None]
        h = self.encoder(e, lengths)  # (B, T, D)
        if not need_weights:
            return self.out(self.drop(self.pool(h, mask)))
        pooled, weights = self.pool(h, mask, need_weights=True) if isinstance(self.pool, AttentionPooling) \
            else (self.pool(h, mask), None)
        return self.out(self.drop(pooled)), weights
