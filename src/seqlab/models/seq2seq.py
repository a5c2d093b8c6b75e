"""Encoder-decoder models: the notes' asynchronous sequence-to-sequence pattern.

    encoder:  h_t = f_1(h_{t-1}, x_t),  t = 1..T
    decoder:  s_t = f_2(s_{t-1}, y_{t-1}, c_t),   y_t ~ softmax(g(s_t, c_t, y_{t-1}))
    c_t = sum_j a_tj h_j,  a_t = attention(s_{t-1}, h_1..h_T)      (cross-attention)

* ``RecurrentSeq2Seq`` -- a (bidirectional) recurrent encoder of any seqlab cell, and a
  recurrent decoder that attends to it every step (Bahdanau et al. 2015: additive
  attention on the previous decoder state; dot / general scores as options).
* ``TransformerSeq2Seq`` -- the Transformer (Vaswani et al. 2017) with sinusoidal or
  learned positions.

Both are trained with teacher forcing (``forward`` reads the gold previous tokens) and
decode through one interface used by :mod:`seqlab.search`:
``encode(src, lengths) -> memory``, ``init_state(memory)``,
``decode_step(token, state, memory) -> (logits, state, attention)`` and
``reorder(state, memory, index)``.  Token id 0 is padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import Probability, Size
from seqlab.models.recurrent import RecurrentConfig, recurrent_layer
from seqlab.nn.attention import AdditiveAttention, DotAttention, GeneralAttention, causal_mask, padding_mask
from seqlab.nn.positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding
from seqlab.nn.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)


@dataclass
class Seq2SeqConfig:
    arch: Literal["rnn", "transformer"] = "rnn"
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru"] = "gru"  # rnn: the encoder and decoder cell (rnn_tanh | rnn_relu | lstm | gru)
    attention: Literal["additive", "dot", "general"] = "additive"  # rnn: additive | dot | general
    embed_size: Size = 256  # rnn: token embedding size
    hidden_size: Size = 512  # rnn: per direction in the encoder, and the decoder state
    enc_layers: Size = 1  # encoder layers
    bidirectional: bool = True  # rnn: a bidirectional encoder
    d_model: Size = 256  # transformer
    num_heads: Size = 8  # transformer: attention heads
    d_ff: Size = 512  # transformer: feed-forward width
    dec_layers: Size = 3  # transformer: decoder layers
    positions: Literal["sinusoidal", "learned"] = "sinusoidal"
    dropout: Probability = 0.3  # on embeddings and outputs (rnn), inside the layers (transformer)
    tie_embeddings: bool = False  # transformer: share the target embedding and the output layer


class RecurrentSeq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig, src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        h, e = cfg.hidden_size, cfg.embed_size
        enc_size = h * (2 if cfg.bidirectional else 1)
        self.src_embed = nn.Embedding(src_vocab, e, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab, e, padding_idx=0)
        enc = RecurrentConfig(cfg.cell, hidden_size=h, num_layers=cfg.enc_layers, dropout=cfg.dropout,
                              bidirectional=cfg.bidirectional)
        self.encoder = recurrent_layer(enc, e)
        self.bridge = nn.Linear(enc_size, h)  # s_0 = tanh(W [h_T(fwd); h_1(bwd)])
        self.attention = _attention(cfg.attention, h, enc_size)
        self.decoder = recurrent_layer(RecurrentConfig(cfg.cell, hidden_size=h), e + enc_size)
        self.out = nn.Linear(h + enc_size + e, tgt_vocab)
        self.drop = nn.Dropout(cfg.dropout)

    def encode(self, src: Tensor, lengths: Tensor) -> dict:
        keys, final = self.encoder(self.drop(self.src_embed(src)), lengths=lengths)  # (B, S, enc)
        return self.memory(keys, final, lengths)

    def memory(self, keys: Tensor, final, lengths: Tensor) -> dict:
        """What the decoder reads: the encoder states (B, S, enc), prepared for attention, their padding mask,
        and s_0 from the encoder's final state (``final``: (layers*dirs, B, H), or a tuple whose first is that)."""
        h_final = final[0] if isinstance(final, tuple) else final
        last = torch.cat(list(h_final[-2:]), -1) if self.encoder.bidirectional else h_final[-1]  # (B, enc)
        return {"keys": keys, "prepared": self.attention.prepare(keys), "mask": padding_mask(lengths, keys.shape[1]),
                "s0": torch.tanh(self.bridge(last))}

    def init_state(self, memory: dict) -> tuple:
        s0 = memory["s0"]
        return (s0,) + tuple(torch.zeros_like(s0) for _ in range(self.decoder.cell.num_states - 1))

    def _weights(self) -> tuple[Tensor, Tensor, Tensor, tuple]:
        """The decoder cell's input weights split into the embedding's and the context's columns."""
        w_ih, b_ih, w = self.decoder.cell_weights(0)
        e = self.tgt_embed.embedding_dim
        return w_ih[:, :e], w_ih[:, e:], self.decoder.cell.input_bias(b_ih, w), w

    def _step(self, xp_e: Tensor, state: tuple, memory: dict, w_c: Tensor, w: tuple):
        """s_t from s_{t-1}: attend with s_{t-1}, then one cell step on [e_t; c_t] (xp_e: e_t's projection)."""
        c, a = self.attention(state[0][:, None], memory["prepared"], memory["keys"], memory["mask"], True,
                              prepared=True)
        c = c[:, 0]  # (N, enc)
        state, _ = self.decoder.cell.step(xp_e + c @ w_c.t(), state, state[0], w)
        return state, c, a[:, 0]

    def decode_step(self, token: Tensor, state: tuple, memory: dict):
        """token (N,) -> logits (N, V), new state, attention over the source (N, S)."""
        e = self.drop(self.tgt_embed(token))  # (N, E)
        w_e, w_c, bias, w = self._weights()
        state, c, a = self._step(e @ w_e.t() + bias, state, memory, w_c, w)
        return self.out(self.drop(torch.cat([state[0], c, e], -1))), state, a

    def forward(self, src: Tensor, lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: tgt_in (B, T) starts with <bos>; returns logits (B, T, V).

        The same computation as calling :meth:`decode_step` for t = 1..T, with everything
        that does not depend on s_{t-1} taken out of the time loop: the embeddings' share of
        the decoder's input projection is one matmul over all steps, and the output layer
        one matmul over all (s_t, c_t, e_t) after the loop.
        """
        memory = self.encode(src, lengths)
        e = self.drop(self.tgt_embed(tgt_in))  # (B, T, E)
        w_e, w_c, bias, w = self._weights()
        xp_e = e @ w_e.t() + bias  # (B, T, G)
        state, states, contexts = self.init_state(memory), [], []
        for t in range(tgt_in.shape[1]):
            state, c, _ = self._step(xp_e[:, t], state, memory, w_c, w)
            states.append(state[0])
            contexts.append(c)
        return self.out(self.drop(torch.cat([torch.stack(states, 1), torch.stack(contexts, 1), e], -1)))

    @staticmethod
    def reorder(state: tuple, memory: dict, index: Tensor) -> tuple[tuple, dict]:
        return tuple(s.index_select(0, index) for s in state), {k: v.index_select(0, index) for k, v in memory.items()}


def _attention(kind: str, query_size: int, key_size: int) -> nn.Module:
    if kind == "additive":
        return AdditiveAttention(query_size, key_size, query_size)
    if kind == "general":
        return GeneralAttention(query_size, key_size)
    if kind == "dot":
        if query_size != key_size:
            raise UserError(f"model.attention='dot' needs equal query and key sizes, got {query_size} and {key_size} "
                            "(use bidirectional=false, or 'general')")
        return DotAttention()
    raise UserError(f"model.attention must be one of ['additive', 'dot', 'general'], got {kind!r}")


class TransformerSeq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig, src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        d = cfg.d_model
        if cfg.positions not in ("sinusoidal", "learned"):
            raise UserError(f"model.positions must be 'sinusoidal' or 'learned', got {cfg.positions!r}")
        pos = SinusoidalPositionalEncoding if cfg.positions == "sinusoidal" else LearnedPositionalEncoding
        self.src_embed, self.tgt_embed = nn.Embedding(src_vocab, d, padding_idx=0), nn.Embedding(tgt_vocab, d, padding_idx=0)
        self.src_pos, self.tgt_pos = pos(d, dropout=cfg.dropout), pos(d, dropout=cfg.dropout)
        self.encoder = TransformerEncoder(TransformerEncoderLayer(d, cfg.num_heads, cfg.d_ff, cfg.dropout), cfg.enc_layers)
        self.decoder = TransformerDecoder(TransformerDecoderLayer(d, cfg.num_heads, cfg.d_ff, cfg.dropout), cfg.dec_layers)
        self.out = nn.Linear(d, tgt_vocab)
        for embed in (self.src_embed, self.tgt_embed):  # N(0, 1/d): scaled by sqrt(d) they match the positions' size
            nn.init.normal_(embed.weight, std=d**-0.5)
            nn.init.zeros_(embed.weight[0])
        if cfg.tie_embeddings:
            self.out.weight = self.tgt_embed.weight
        self.scale = math.sqrt(d)

    def encode(self, src: Tensor, lengths: Tensor) -> dict:
        mask = padding_mask(lengths, src.shape[1])  # (B, 1, S)
        return {"memory": self.encoder(self.src_pos(self.src_embed(src) * self.scale), mask), "mask": mask}

    def _decode(self, tgt_in: Tensor, memory: dict, need_weights: bool = False):
        x = self.tgt_pos(self.tgt_embed(tgt_in) * self.scale)  # (B, T, d)
        h, a = self.decoder(x, memory["memory"], causal_mask(tgt_in.shape[1], tgt_in.device), memory["mask"],
                            need_weights)
        return self.out(h), a

    def forward(self, src: Tensor, lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self._decode(tgt_in, self.encode(src, lengths))[0]

    def init_state(self, memory: dict) -> Tensor:
        return memory["memory"].new_zeros(memory["memory"].shape[0], 0, dtype=torch.long)  # the prefix so far

    def decode_step(self, token: Tensor, state: Tensor, memory: dict):
        prefix = torch.cat([state, token[:, None]], 1)  # (N, t)
        logits, a = self._decode(prefix, memory, need_weights=True)
        return logits[:, -1], prefix, a[:, -1]

    @staticmethod
    def reorder(state: Tensor, memory: dict, index: Tensor) -> tuple[Tensor, dict]:
        return state.index_select(0, index), {k: v.index_select(0, index) for k, v in memory.items()}


def build_seq2seq(cfg: Seq2SeqConfig, src_vocab: int, tgt_vocab: int) -> nn.Module:
    if cfg.arch == "rnn":
        return RecurrentSeq2Seq(cfg, src_vocab, tgt_vocab)
    if cfg.arch == "transformer":
        return TransformerSeq2Seq(cfg, src_vocab, tgt_vocab)
    raise UserError(f"model.arch must be 'rnn' or 'transformer', got {cfg.arch!r}")
