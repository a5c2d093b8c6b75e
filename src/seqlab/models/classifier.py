"""Sequence -> class (the notes' many-to-one pattern, e.g. sentiment analysis).

    e_t = E[x_t]                                 word or subword embedding
    h_1..h_T = Encoder(e_1..e_T)                 BiRNN of any seqlab.nn cell, or a Transformer
    s = Pool(h_1..h_T)                           last state | mean | max | additive attention
    p(y | x) = softmax(W s + b)

Dropout on the embeddings and on the pooled vector (``model.dropout``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.pooling import POOLINGS, build_pooling


@dataclass
class ClassifierConfig(EncoderConfig):
    embed_size: int = 300  # word (or subword) embedding size
    pooling: str = "max"  # last | mean | max | attention
    vectors: str = ""  # GloVe-format text file to initialise the embedding (its dimension = embed_size)
    freeze_vectors: bool = False  # keep model.vectors fixed in training


class SequenceClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig, vocab_size: int, num_classes: int, pad: int = 0) -> None:
        super().__init__()
        if cfg.pooling not in POOLINGS:
            raise UserError(f"model.pooling must be one of {sorted(POOLINGS)}, got {cfg.pooling!r}")
        self.embed = nn.Embedding(vocab_size, cfg.embed_size, padding_idx=pad)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = SequenceEncoder(cfg, cfg.embed_size)
        self.pool = build_pooling(cfg.pooling, self.encoder.output_size, self.encoder.bidirectional)
        self.out = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens (B, T) right-padded, lengths (B,) -> class logits (B, C)."""
        mask = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]  # (B, T)
        h = self.encoder(self.drop(self.embed(tokens)), lengths)  # (B, T, D)
        return self.out(self.drop(self.pool(h, mask)))
