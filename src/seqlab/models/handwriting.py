"""Reading a strip of handwritten digits: an image read as a sequence of columns, two decoders.

    columns   x_1..x_W' = conv(image)        two 3x3 convolutions (batch-normalised), pooled to H/4 rows and
                                              W' = W/4 columns,
                                              each column's features flattened into one vector
    encoder   h_1..h_W' = BiRNN(x_1..x_W')    any seqlab.nn cell (the notes' bidirectional RNN)
    CTC       p(k | column t) = softmax(W h_t)              blank + 10 digits; every alignment summed
    attention s_j = f(s_{j-1}, y_{j-1}, c_j),  c_j = sum_t a_jt h_t,  a_j = attention(s_{j-1}, h_1..h_W')
              ("show, attend and tell" in small: the notes' one -> many pattern, emitting digits
              until <eos>; the decoder of :class:`seqlab.models.seq2seq.RecurrentSeq2Seq`)

Both take images (B, H, W) with their widths (B,) (right-padded with background) and digit
targets; both give ``loss`` and ``read`` (the digits, and per item the attention of each
emitted digit over the columns or the per-column posteriors, for plots).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.ctc import greedy_decode, prefix_beam_search
from seqlab.errors import UserError
from seqlab.fields import Probability, Size
from seqlab.models.recurrent import RecurrentConfig, recurrent_layer
from seqlab.models.seq2seq import RecurrentSeq2Seq, Seq2SeqConfig
from seqlab.search import beam_search, greedy_search

PAD, BOS, EOS = 0, 1, 2  # the attention decoder's symbols; digit d is 3 + d


@dataclass
class ReaderConfig(RecurrentConfig):
    decoder: Literal["ctc", "attention"] = "ctc"
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru", "min_gru", "min_lstm"] = "lstm"  # the column encoder's cell
    hidden_size: Size = 128  # per direction in the encoder; the attention decoder's state
    bidirectional: bool = True
    conv_channels: Size = 16  # first convolution; the second has twice as many
    dropout: Probability = 0.2  # on the column features and the decoder's outputs
    attention: Literal["additive", "dot", "general"] = "additive"  # attention decoder: additive | dot | general
    decoder_cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru"] = "gru"  # attention decoder: rnn_tanh | rnn_relu | lstm | gru
    embed_size: Size = 32  # attention decoder: the previous digit's embedding
    max_digits: Size = 16  # attention decoder: the longest output


class ColumnEncoder(nn.Module):
    """images (B, H, W), widths (B,) -> column states (B, W // 4, D), the final recurrent state, lengths W // 4.

    A column of the states covers 4 pixels of the image (a digit is 13-18 pixels wide)."""

    def __init__(self, cfg: ReaderConfig, height: int) -> None:
        super().__init__()
        c = cfg.conv_channels
        if c < 1:
            raise UserError(f"model.conv_channels must be at least 1, got {c}")
        self.conv = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2))
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = recurrent_layer(cfg, 2 * c * (height // 4))
        self.bidirectional = cfg.bidirectional
        self.output_size = cfg.hidden_size * (2 if cfg.bidirectional else 1)

    def forward(self, images: Tensor, widths: Tensor) -> tuple[Tensor, object, Tensor]:
        x = self.conv(images[:, None])  # (B, C, H / 4, W / 4)
        x = x.permute(0, 3, 1, 2).flatten(2)  # (B, W / 4, C * H / 4): one vector per column
        lengths = (widths // 4).clamp(min=1)
        out, final = self.rnn(self.drop(x), lengths=lengths)
        return out, final, lengths


class CTCReader(nn.Module):
    """Per-column log-probabilities over blank + 10 digits; the CTC loss sums every alignment."""

    metric = "cer"

    def __init__(self, cfg: ReaderConfig, height: int) -> None:
        super().__init__()
        self.encoder = ColumnEncoder(cfg, height)
        self.out = nn.Linear(self.encoder.output_size, 11)

    def forward(self, images: Tensor, widths: Tensor) -> tuple[Tensor, Tensor]:
        h, _, lengths = self.encoder(images, widths)
        return self.out(self.encoder.drop(h)).log_softmax(-1), lengths

    def loss(self, images: Tensor, widths: Tensor, targets: list[list[int]]) -> Tensor:
        log_probs, lengths = self(images, widths)
        flat = torch.tensor([d + 1 for digits in targets for d in digits], device=images.device)  # 0 is the blank
        target_lengths = torch.tensor([len(d) for d in targets], device=images.device)
        return F.ctc_loss(log_probs.transpose(0, 1), flat, lengths, target_lengths, blank=0, zero_infinity=True)

    @torch.no_grad()
    def read(self, images: Tensor, widths: Tensor, beam: int = 1) -> list[tuple[list[int], Tensor]]:
        """Each image's digits (greedy best path, or CTC prefix beam search) and posteriors (W', 11)."""
        log_probs, lengths = self(images, widths)
        out = []
        for lp, n in zip(log_probs, lengths.tolist()):
            lp = lp[:n].cpu()
            labels = prefix_beam_search(lp, beam) if beam > 1 else greedy_decode(lp)
            out.append(([k - 1 for k in labels], lp.exp()))
        return out


class AttentionReader(RecurrentSeq2Seq):
    """The column encoder in place of a source embedding and RNN; the decoder attends over the columns."""

    metric = "cer"

    def __init__(self, cfg: ReaderConfig, height: int) -> None:
        s2s = Seq2SeqConfig(cell=cfg.decoder_cell, attention=cfg.attention, embed_size=cfg.embed_size,
                            hidden_size=cfg.hidden_size, bidirectional=cfg.bidirectional, dropout=cfg.dropout)
        super().__init__(s2s, 1, 3 + 10)
        del self.src_embed
        self.encoder = ColumnEncoder(cfg, height)  # replaces the source RNN; the same output size
        self.max_digits = cfg.max_digits

    def encode(self, images: Tensor, widths: Tensor) -> dict:
        return self.memory(*self.encoder(images, widths))

    def loss(self, images: Tensor, widths: Tensor, targets: list[list[int]]) -> Tensor:
        """Teacher forcing: cross-entropy of every digit and of <eos>."""
        rows = [[BOS] + [3 + d for d in t] + [EOS] for t in targets]
        tgt = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long, device=images.device)
        for i, r in enumerate(rows):
            tgt[i, : len(r)] = torch.tensor(r)
        logits = self(images, widths, tgt[:, :-1])
        return F.cross_entropy(logits.transpose(1, 2), tgt[:, 1:], ignore_index=PAD)

    @torch.no_grad()
    def attention_of(self, images: Tensor, widths: Tensor, outputs: list[list[int]]) -> list[Tensor]:
        """The attention of each emitted digit (and of <eos>) over the columns: (len + 1, W') per image."""
        memory = self.encode(images, widths)
        lengths = memory["mask"][:, 0].sum(-1).tolist()
        steps = max(map(len, outputs)) + 1
        tokens = torch.full((len(outputs), steps), EOS, dtype=torch.long, device=images.device)
        for i, o in enumerate(outputs):
            tokens[i, : len(o)] = torch.tensor([3 + d for d in o], dtype=torch.long)
        state, token, rows = self.init_state(memory), torch.full_like(tokens[:, 0], BOS), []
        for j in range(steps):
            _, state, a = self.decode_step(token, state, memory)
            rows.append(a)
            token = tokens[:, j]
        weights = torch.stack(rows, 1).cpu()  # (B, steps, W')
        return [weights[i, : len(o) + 1, : lengths[i]] for i, o in enumerate(outputs)]

    @torch.no_grad()
    def read(self, images: Tensor, widths: Tensor, beam: int = 1) -> list[tuple[list[int], Tensor]]:
        """Each image's digits (greedy, or beam search) and the attention of each emitted digit over the columns."""
        args = (self, images, widths, BOS, EOS, self.max_digits + 1)
        found = greedy_search(*args) if beam == 1 else beam_search(*args, beam=beam, alpha=1.0)
        digits = [[t - 3 for t in out if t >= 3] for out in found]
        return list(zip(digits, self.attention_of(images, widths, digits)))


def build_reader(cfg: ReaderConfig, height: int) -> nn.Module:
    if cfg.decoder == "ctc":
        return CTCReader(cfg, height)
    if cfg.decoder == "attention":
        return AttentionReader(cfg, height)
    raise UserError(f"model.decoder must be ctc or attention, got {cfg.decoder!r}")
