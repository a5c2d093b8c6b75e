"""A language model conditioned on a class: one label in, a sentence out (the notes' one -> many pattern).

    p(w_1..w_T | y) = prod_t p(w_t | w_<t, y)
    e_y = E_label[y]                                  the label's embedding
    h_0 = tanh(W_0 e_y)                                (model.condition = state | both) the initial state
    x_t = [E[w_{t-1}]; e_y]                            (model.condition = input | both) e_y joins every input
    h_t = f(h_{t-1}, x_t),  p(w_t | ...) = softmax(W h_t + b)

Sentences are framed as <bos> w_1 .. w_T <eos>; ``generate`` samples from <bos> until <eos>.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.fields import Probability, Size
from seqlab.generate import SampleConfig, next_token
from seqlab.models.recurrent import RecurrentConfig, recurrent_layer

CONDITIONS = ("state", "input", "both")


@dataclass
class ConditionalLMConfig(RecurrentConfig):
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru"] = "lstm"
    hidden_size: Size = 512
    num_layers: Size = 1
    embed_size: Size = 256
    label_size: Size = 32  # the label embedding e_y
    condition: Literal["state", "input", "both"] = "both"  # state (h_0 from e_y) | input (e_y beside every word) | both
    dropout: Probability = 0.3  # on the embeddings and before the output layer


class ConditionalLM(nn.Module):
    def __init__(self, cfg: ConditionalLMConfig, vocab_size: int, classes: int) -> None:
        super().__init__()
        if cfg.condition not in CONDITIONS:
            raise UserError(f"model.condition must be one of {list(CONDITIONS)}, got {cfg.condition!r}")
        if cfg.bidirectional:
            raise UserError("model.bidirectional=true: a language model reads left to right")
        if cfg.cell not in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
            raise UserError(f"model.cell must be rnn_tanh, rnn_relu, lstm or gru for a conditional LM, got {cfg.cell!r}")
        self.cfg = cfg
        self.embed = nn.Embedding(vocab_size, cfg.embed_size, padding_idx=0)
        self.label = nn.Embedding(classes, cfg.label_size)
        joins = cfg.condition in ("input", "both")
        self.rnn = recurrent_layer(cfg, cfg.embed_size + (cfg.label_size if joins else 0))
        self.init = nn.Linear(cfg.label_size, cfg.num_layers * cfg.hidden_size) if cfg.condition != "input" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden_size, vocab_size)

    def initial_state(self, labels: Tensor):
        """The state before <bos>: h_0 = tanh(W_0 e_y) per layer (c_0 = 0 for an LSTM), or None (zeros)."""
        if self.init is None:
            return None
        h0 = torch.tanh(self.init(self.label(labels)))  # (B, L * H)
        h0 = h0.view(len(labels), self.cfg.num_layers, self.cfg.hidden_size).transpose(0, 1).contiguous()
        return (h0, torch.zeros_like(h0)) if self.cfg.cell == "lstm" else h0

    def forward(self, tokens: Tensor, labels: Tensor, state=None, lengths: Tensor | None = None):
        """tokens (B, T), labels (B,) -> logits (B, T, V) and the final state (from ``state``, or h_0 of the label)."""
        x = self.drop(self.embed(tokens))
        if self.cfg.condition in ("input", "both"):
            x = torch.cat([x, self.drop(self.label(labels))[:, None].expand(-1, x.shape[1], -1)], -1)
        if state is None:
            state = self.initial_state(labels)
        h, state = self.rnn(x, state, lengths=lengths)
        return self.out(self.drop(h)), state

    def loss(self, tokens: Tensor, labels: Tensor, lengths: Tensor, reduction: str = "mean") -> Tensor:
        """Cross-entropy of w_1..w_T, <eos> given <bos> w_1..w_T (``tokens`` framed, 0-padded; ``lengths``
        count <bos> .. <eos>).  ``reduction='none'``: the summed loss of each sentence (B,)."""
        logits, _ = self(tokens[:, :-1], labels, lengths=lengths - 1)
        nll = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], ignore_index=0, reduction="none")  # (B, T - 1)
        return nll.sum(1) if reduction == "none" else nll.sum() / (lengths - 1).sum()

    @torch.no_grad()
    def generate(self, label: int, bos: int, eos: int, max_len: int, cfg: SampleConfig, count: int = 1,
                 generator: torch.Generator | None = None) -> list[list[int]]:
        """``count`` sentences sampled given ``label`` (token ids without <bos> / <eos>)."""
        cfg.check()
        self.eval()
        device = self.out.weight.device
        labels = torch.full((count,), label, dtype=torch.long, device=device)
        generator = generator or torch.Generator().manual_seed(cfg.seed)
        token, state = torch.full((count,), bos, dtype=torch.long, device=device), None
        out, done = [], torch.zeros(count, dtype=torch.bool, device=device)
        for _ in range(max_len):
            logits, state = self(token[:, None], labels, state)
            token = next_token(logits[:, -1], cfg, generator)
            out.append(token)
            done |= token == eos
            if done.all():
                break
        rows = torch.stack(out, 1).tolist()
        return [row[: row.index(eos)] if eos in row else row for row in rows]
