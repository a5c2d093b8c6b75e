"""Synchronous many-to-many tagging: one label per input step (NER, word segmentation, POS).

    x_t = [E_w[w_t] ; CharEnc(chars of w_t)]            word-level data (Lample et al. 2016)
    x_t = [E_c[c_t] ; E_b[c_{t-1} c_t] ; E_b[c_t c_{t+1}] ; lex_t]  segmentation: character unigram + bigrams
                                                         (+ optional word-list features lex_t)
    h_1..h_T = BiRNN(x_1..x_T)                           any seqlab.nn cell, or a Transformer
    emissions_t = W h_t + b                               (B, T, K)
    output: per-step softmax, or a linear-chain CRF over the whole sequence (seqlab.nn.crf)
    aux_loss > 0 (Plank et al. 2016): a second softmax on h_t predicts the frequency bin of w_t,
    floor(ln count(w_t)) in the training file, and its cross-entropy, times aux_loss, is added in training
    (aux_loss = 1: both tasks weigh the same, as in Plank et al.)

The character encoder of a word is a BiLSTM over its characters whose two final states
are concatenated (Lample et al.), or a CNN with max pooling over time (Ma & Hovy 2016).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import seqlab.nn as snn
from seqlab.errors import UserError
from seqlab.fields import Count, NonNegative, Probability, Size
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.crf import LinearChainCRF


@dataclass
class TaggerConfig(EncoderConfig):
    embed_size: Size = 100  # word (or character) embedding
    char_encoder: Literal["lstm", "cnn", "none"] = "lstm"  # word-level data: lstm | cnn | none
    char_embed_size: Size = 25  # character embedding size (word-level data)
    char_hidden_size: Size = 25  # per direction (lstm) / filters (cnn)
    bigram_embed_size: Count = 50  # segmentation: character bigrams (0: off)
    output: Literal["crf", "softmax"] = "crf"
    word_dropout: Probability = 0.0  # training: a word seen once is replaced by <unk> with this probability
    aux_loss: NonNegative = 0.0  # > 0: weight of Plank et al.'s auxiliary loss (predict floor(ln count) of each word)
    contextual: str = ""  # a `seqlab train charlm` run: its two LMs' states at each word join the features (copied in)
    contextual_finetune: bool = False  # train the char LMs with the tagger (default: frozen)


class CharEncoder(nn.Module):
    """Characters of each word (N, W) -> one vector per word (N, output_size)."""

    def __init__(self, kind: str, num_chars: int, embed_size: int, hidden_size: int) -> None:
        super().__init__()
        self.kind = kind
        self.embed = nn.Embedding(num_chars, embed_size, padding_idx=0)
        if kind == "lstm":
            self.rnn = snn.LSTM(embed_size, hidden_size, batch_first=True, bidirectional=True)
            self.output_size = 2 * hidden_size
        else:
            self.conv = nn.Conv1d(embed_size, hidden_size, kernel_size=3, padding=1)
            self.output_size = hidden_size

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        e = self.embed(chars)  # (N, W, C)
        if self.kind == "lstm":
            _, (h, _) = self.rnn(e, lengths=lengths)  # h (2, N, H): both directions' final states
            return torch.cat([h[0], h[1]], -1)
        y = self.conv(e.transpose(1, 2)).transpose(1, 2)  # (N, W, F)
        mask = torch.arange(chars.shape[1], device=chars.device) < lengths[:, None]
        return y.masked_fill(~mask[..., None], float("-inf")).amax(1)


class Tagger(nn.Module):
    def __init__(self, cfg: TaggerConfig, sizes: dict, transitions=None, contextual: nn.Module | None = None) -> None:
        """``sizes``: {'words', 'tags'} and 'chars' (word-level) or 'bigrams' (segmentation); with
        ``cfg.aux_loss`` also 'frequency_bins'.  ``contextual``: a :class:`~seqlab.models.charlm.BiCharLM`
        whose word vectors join the features (frozen unless ``cfg.contextual_finetune``)."""
        super().__init__()
        for name, allowed in (("char_encoder", ("lstm", "cnn", "none")), ("output", ("crf", "softmax"))):
            if getattr(cfg, name) not in allowed:
                raise UserError(f"model.{name} must be one of {list(allowed)}, got {getattr(cfg, name)!r}")
        self.embed = nn.Embedding(sizes["words"], cfg.embed_size, padding_idx=0)
        size = cfg.embed_size
        self.chars = None
        if "chars" in sizes and cfg.char_encoder != "none":
            self.chars = CharEncoder(cfg.char_encoder, sizes["chars"], cfg.char_embed_size, cfg.char_hidden_size)
            size += self.chars.output_size
        self.bigrams = None
        if "bigrams" in sizes and cfg.bigram_embed_size > 0:
            self.bigrams = nn.Embedding(sizes["bigrams"], cfg.bigram_embed_size, padding_idx=0)
            size += 2 * cfg.bigram_embed_size
        size += sizes.get("lexicon", 0)  # segmentation: word-list features (seqlab.tasks.tag_features.CharFeatures)
        self.contextual, self.finetune = contextual, cfg.contextual_finetune
        if contextual is not None:
            size += contextual.output_size
            contextual.requires_grad_(self.finetune)
            contextual.train(self.finetune)  # frozen LMs read in eval mode (no dropout), as train() keeps them
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = SequenceEncoder(cfg, size)
        self.emit = nn.Linear(self.encoder.output_size, sizes["tags"])
        self.crf = LinearChainCRF(sizes["tags"], *(transitions or (None, None, None))) if cfg.output == "crf" else None
        self.aux_weight = cfg.aux_loss
        self.aux = nn.Linear(self.encoder.output_size, sizes["frequency_bins"]) if cfg.aux_loss > 0 else None

    def emissions(self, batch: dict) -> Tensor:
        """batch: words (B, T), lengths (B,), and chars (B, T, W) + char_lengths (B, T), or bigrams (B, T, 2)."""
        return self.emit(self.drop(self.states(batch)))  # (B, T, K)

    def states(self, batch: dict) -> Tensor:
        """The encoder's output h_t of every step (B, T, H)."""
        x = [self.embed(batch["words"])]  # (B, T, E)
        if self.chars is not None:
            real = batch["char_lengths"] > 0  # (B, T): the real words
            per_word = self.chars(batch["chars"][real], batch["char_lengths"][real])  # (N, C)
            full = per_word.new_zeros(*real.shape, per_word.shape[-1])
            full[real] = per_word
            x.append(full)
        if self.bigrams is not None:
            x.append(self.bigrams(batch["bigrams"]).flatten(2))  # (B, T, 2 * E_b)
        if "lexicon" in batch:
            x.append(batch["lexicon"])  # (B, T, 2 * (max_len - 1)) binary
        if self.contextual is not None and self.finetune:
            x.append(self.contextual.word_vectors(batch))  # (B, T, 2 H_lm)
        elif self.contextual is not None:  # frozen: no graph through the char LMs, each sentence's vectors kept
            x.append(self.contextual.frozen_vectors(batch))
        return self.encoder(self.drop(torch.cat(x, -1)), batch["lengths"])

    def train(self, mode: bool = True):
        """As nn.Module's; frozen char LMs stay in eval mode (no dropout in what they give)."""
        super().train(mode)
        if self.contextual is not None and not self.finetune:
            self.contextual.eval()
        return self

    def loss(self, batch: dict, tags: Tensor, bins: Tensor | None = None) -> Tensor:
        """Mean negative log-likelihood per sentence (CRF) or cross-entropy per token (softmax); with the
        auxiliary output and ``bins`` (B, T: each word's frequency bin) plus aux_loss times its cross-entropy, summed
        over the words and divided like the tagging loss (by the sentences with a CRF, the tokens without)."""
        h, mask = self.states(batch), batch["mask"]
        e = self.emit(self.drop(h))
        loss = self.crf(e, tags, mask).mean() if self.crf is not None else F.cross_entropy(e[mask], tags[mask])
        if self.aux is not None and bins is not None:  # normalised like the tagging loss: per sentence (CRF), per token
            aux = F.cross_entropy(self.aux(self.drop(h))[mask], bins[mask], reduction="sum")
            loss = loss + self.aux_weight * aux / (len(tags) if self.crf is not None else mask.sum())
        return loss

    def sentence_losses(self, e: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Per sentence (B,): the CRF's negative log-likelihood, or the mean cross-entropy of its tokens."""
        if self.crf is not None:
            return self.crf(e, tags, mask)
        ce = F.cross_entropy(e.transpose(1, 2), tags, reduction="none")  # (B, T)
        return (ce * mask).sum(1) / mask.sum(1)

    @torch.no_grad()
    def paths(self, e: Tensor, mask: Tensor) -> list[list[int]]:
        """The tag ids of each sentence from its emissions: Viterbi (CRF) or the per-step argmax."""
        if self.crf is not None:
            return self.crf.decode(e, mask)
        best = e.argmax(-1).tolist()
        return [row[:n] for row, n in zip(best, mask.sum(1).tolist())]
