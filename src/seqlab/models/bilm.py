"""A bidirectional language model over sentences: the pretraining objective of a classifier's encoder.

    e_t = E[x_t]
    h→_t, h←_t = BiRNN(e_1..e_T)                  the classifier's encoder, the same parameter names
    p(x_{t+1} | x_1..x_t) = softmax(W h→_t + b)   forward: each state predicts the next token
    p(x_{t-1} | x_t..x_T) = softmax(W h←_t + b)   backward: each state predicts the previous one

The two directions share the embedding and the softmax (ELMo, Peters et al. 2018); the loss is
the mean cross-entropy over every predicted token of both directions (a sentence of n tokens
gives n - 1 targets each way).  ``embed.*`` and ``encoder.*`` are named as in
:class:`seqlab.models.classifier.SequenceClassifier`, so a classifier starts from them
(``model.init_from``) and fine-tunes with its own pooling and output layer (ULMFiT, Howard &
Ruder 2018).  One layer only when bidirectional: in a stacked BiRNN the second layer's forward
direction reads the first layer's backward states, which have seen the token it predicts.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import Probability, Size
from seqlab.models.encoder import EncoderConfig, SequenceEncoder


@dataclass
class BiLMConfig(EncoderConfig):
    embed_size: Size = 300  # word (or character) embedding size
    dropout: Probability = 0.5  # on the embeddings and on the states before the softmax


# the fields that decide the shapes and meaning of the pretrained weights: a classifier starting
# from a biLM run must have the same values
ARCHITECTURE = ("cell", "variant", "hidden_size", "num_layers", "bidirectional", "embed_size")


class BiLM(nn.Module):
    def __init__(self, cfg: BiLMConfig, vocab_size: int, pad: int = 0) -> None:
        super().__init__()
        if cfg.cell == "transformer":
            raise UserError("model.cell=transformer: the biLM needs a recurrent encoder (a Transformer encoder "
                            "sees every token, including the one to predict)")
        if cfg.bidirectional and cfg.num_layers > 1:
            raise UserError(f"model.num_layers={cfg.num_layers} with model.bidirectional=true: the biLM has one "
                            "layer (a stacked BiRNN's upper layers see the token each direction predicts)")
        self.embed = nn.Embedding(vocab_size, cfg.embed_size, padding_idx=pad)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = SequenceEncoder(cfg, cfg.embed_size)
        self.hidden_size = cfg.hidden_size
        self.decoder = nn.Linear(cfg.hidden_size, vocab_size)  # shared by the two directions

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        """tokens (B, T) right-padded, lengths (B,) -> forward logits (B, T, V), position t predicting x_{t+1},
        and backward logits (B, T, V), position t predicting x_{t-1} (None for a one-way encoder)."""
        h = self.drop(self.encoder(self.drop(self.embed(tokens)), lengths))  # (B, T, H or 2H)
        H = self.hidden_size
        backward = self.decoder(h[..., H:]) if self.encoder.bidirectional else None
        return self.decoder(h[..., :H]), backward

    def loss_sum(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        """The summed cross-entropy (nats) over every predicted token of both directions, and their count."""
        forward, backward = self(tokens, lengths)
        T = tokens.shape[1]
        # position t predicts within the sentence when t + 1 < length (forward: x_{t+1}; backward at t + 1: x_t)
        inside = (torch.arange(T - 1, device=tokens.device) < lengths[:, None] - 1)  # (B, T - 1)
        total = F.cross_entropy(forward[:, :-1][inside], tokens[:, 1:][inside], reduction="sum")
        count = int(inside.sum())
        if backward is not None:
            total = total + F.cross_entropy(backward[:, 1:][inside], tokens[:, :-1][inside], reduction="sum")
            count *= 2
        return total, count
