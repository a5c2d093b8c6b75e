"""Recurrent language model: tokens -> embedding (or one-hot) -> recurrent stack -> linear decoder.

    e_t = E[x_t]                  (learned embedding; or the one-hot vector of x_t, as the notes contrast)
    h_t = RNN(e_t, h_{t-1})       (any seqlab.nn layer: RNN, LSTM and its variants, GRU)
    p(x_{t+1} | x_<=t) = softmax(W_hy h_t + b_y)

Dropout as in Zaremba et al. 2014: on the embedding, between recurrent layers, and
before the decoder (non-recurrent connections only); ``variational_dropout`` adds the
per-sequence masks on inputs and recurrent h inside the layers.  ``tie_weights`` shares
E and W_hy (Press & Wolf 2017; needs embed_size == hidden_size).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import NonNegative, Probability, Size
from seqlab.models.recurrent import WITH_TRANSFORMER, RecurrentConfig, check_heads, check_recurrent, recurrent_layer


@dataclass
class ModelConfig(RecurrentConfig):
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru", "min_gru", "min_lstm", "transformer"] = "lstm"
    num_layers: Size = 2  # stacked layers
    dropout: Probability = 0.0  # on the embedding, between layers and before the decoder (Zaremba et al. 2014)
    embedding: Literal["learned", "one_hot"] = "learned"
    embed_size: Size = 128  # embedding size (learned embedding)
    tie_weights: bool = False  # share the embedding and the output layer (Press & Wolf 2017; embed_size == hidden_size)
    init_range: NonNegative = 0.0  # > 0: every weight ~ U(-r, r) as Zaremba et al.; 0: torch defaults
    num_heads: Size = 4  # transformer: attention heads (d_model = hidden_size, FFN 4 * hidden_size)


class RecurrentLM(nn.Module):
    def __init__(self, cfg: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        if cfg.bidirectional:
            raise UserError("model.bidirectional=true: a language model reads left to right (it predicts the next token)")
        if cfg.embedding not in ("learned", "one_hot"):
            raise UserError(f"model.embedding must be 'learned' or 'one_hot', got {cfg.embedding!r}")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, cfg.embed_size) if cfg.embedding == "learned" else None
        self.rnn = recurrent_layer(cfg, cfg.embed_size if self.embed is not None else vocab_size)
        self.drop = nn.Dropout(cfg.dropout)
        self.decoder = nn.Linear(cfg.hidden_size, vocab_size)
        if cfg.tie_weights:
            if self.embed is None or cfg.embed_size != cfg.hidden_size:
                raise UserError("model.tie_weights needs a learned embedding with embed_size == hidden_size, "
                                f"got embedding={cfg.embedding!r}, embed_size={cfg.embed_size}, hidden_size={cfg.hidden_size}")
            self.decoder.weight = self.embed.weight
        if cfg.init_range > 0:
            for p in self.parameters():
                nn.init.uniform_(p, -cfg.init_range, cfg.init_range)

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, object]:
        """tokens (B, T) -> logits (B, T, V) and the final recurrent state."""
        h, state = self.states(tokens, state, final=True)  # (B, T, H)
        return self.decoder(self.drop(h)), state

    def states(self, tokens: Tensor, state=None, final: bool = False):
        """tokens (B, T) -> the top layer's h_t (B, T, H) (and with ``final`` the final recurrent state)."""
        if self.embed is None:
            e = F.one_hot(tokens, self.vocab_size).to(self.decoder.weight.dtype)  # (B, T, V)
        else:
            e = self.embed(tokens)  # (B, T, E)
        h, state = self.rnn(self.drop(e), state)
        return (h, state) if final else h

    def loss(self, tokens: Tensor, targets: Tensor, state=None) -> tuple[Tensor, object]:
        """Mean cross-entropy in nats per token, and the final state."""
        logits, state = self(tokens, state)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1)), state

    @torch.no_grad()
    def start(self, tokens: Tensor, window: int = 1024) -> tuple[Tensor, object]:
        """Read a prime (B, P): the logits after its last token (B, V) and the state to continue from.

        The prime is read ``window`` tokens at a time, the state carried from one window to the
        next, so that a long prime costs (window, V) logits, not (P, V)."""
        state = None
        for i in range(0, tokens.shape[1], window):
            logits, state = self(tokens[:, i : i + window], state)
        return logits[:, -1], state

    @torch.no_grad()
    def step_logits(self, token: Tensor, state=None) -> tuple[Tensor, object]:
        """One step of generation: token (B,) -> logits (B, V), new state."""
        logits, state = self(token[:, None], state)
        return logits[:, -1], state


class TransformerLM(nn.Module):
    """Decoder-only Transformer LM: embedding + positions -> causal self-attention layers -> decoder.

    The notes' closing comparison: the same task, attention instead of recurrence.  It
    carries no state between windows (``state`` is ignored and None is returned), so its
    context is the current window of ``train.bptt`` tokens; generation keeps the last
    ``max_len`` tokens as context.
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, max_len: int = 1024) -> None:
        super().__init__()
        from seqlab.nn.positional import SinusoidalPositionalEncoding
        from seqlab.nn.transformer import TransformerEncoder, TransformerEncoderLayer

        d = cfg.hidden_size
        check_heads(d, cfg.num_heads)
        self.vocab_size, self.max_len = vocab_size, max_len
        self.embed = nn.Embedding(vocab_size, d)
        nn.init.normal_(self.embed.weight, std=d**-0.5)
        self.pos = SinusoidalPositionalEncoding(d, max_len, cfg.dropout)
        self.blocks = TransformerEncoder(TransformerEncoderLayer(d, cfg.num_heads, 4 * d, cfg.dropout), cfg.num_layers)
        self.decoder = nn.Linear(d, vocab_size)
        if cfg.tie_weights:
            self.decoder.weight = self.embed.weight
        self.scale = d**0.5

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, None]:
        from seqlab.nn.attention import causal_mask

        x = self.pos(self.embed(tokens) * self.scale)  # (B, T, d)
        return self.decoder(self.blocks(x, causal_mask(tokens.shape[1], tokens.device))), None

    loss = RecurrentLM.loss

    @torch.no_grad()
    def start(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        context = tokens[:, -self.max_len :]
        return self(context)[0][:, -1], context

    @torch.no_grad()
    def step_logits(self, token: Tensor, state=None) -> tuple[Tensor, Tensor]:
        """``state`` is the context so far (B, t); returns the logits after appending ``token``."""
        context = token[:, None] if state is None else torch.cat([state, token[:, None]], 1)[:, -self.max_len :]
        logits, _ = self(context)
        return logits[:, -1], context


def build_lm(cfg: ModelConfig, vocab_size: int) -> nn.Module:
    check_recurrent(cfg, WITH_TRANSFORMER)
    return TransformerLM(cfg, vocab_size) if cfg.cell == "transformer" else RecurrentLM(cfg, vocab_size)
