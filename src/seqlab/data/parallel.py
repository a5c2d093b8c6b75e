"""Parallel corpora for translation: aligned files, subword vocabularies, length-bucketed batches.

* :func:`read_parallel` reads two line-aligned UTF-8 files; a line-count mismatch or an
  empty source line is a UserError naming both counts or the line.
* :class:`SubwordVocab` wraps a HuggingFace ``tokenizers`` BPE model with the special
  tokens ``<pad>`` (0), ``<unk>``, ``<bos>``, ``<eos>``; one vocabulary for both languages
  (``joint``) or one per side.
* :func:`bucket_batches` groups sentence pairs of similar source length into batches of
  at most ``max_tokens`` tokens, in an order shuffled by a seeded generator per epoch
  (so an epoch can be resumed exactly).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from seqlab.data.batching import epoch_generator
from seqlab.data.text import read_json, read_text
from seqlab.errors import UserError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = [PAD, UNK, BOS, EOS]


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[tuple[str, str]]:
    src = read_text(src_path, "source").splitlines()
    tgt = read_text(tgt_path, "target").splitlines()
    if len(src) != len(tgt):
        raise UserError(f"parallel files differ in length: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}")
    for i, line in enumerate(src, 1):
        if not line.strip():
            raise UserError(f"{src_path}: line {i} is empty (every source line needs a sentence)")
    return list(zip(src, tgt))


class SubwordVocab:
    """Byte-level BPE (HuggingFace ``tokenizers``) with <pad>=0, <unk>, <bos>, <eos>."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.pad, self.unk, self.bos, self.eos = (tokenizer.token_to_id(s) for s in SPECIALS)

    @classmethod
    def train(cls, lines: list[str], vocab_size: int) -> SubwordVocab:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(lines, trainer)
        return cls(tok)

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, line: str) -> list[int]:
        return self.tokenizer.encode(line).ids

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.eos in ids:
            ids = ids[: ids.index(self.eos)]
        text = self.tokenizer.decode([i for i in ids if i not in (self.pad, self.bos)])
        return " ".join(text.split())  # one line, whatever bytes an untrained model emits

    def tokens(self, line: str) -> list[str]:
        """The subword pieces of a line, for labelling attention plots."""
        return [self.tokenizer.decode([i]).strip() or "_" for i in self.encode(line)]

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    @classmethod
    def from_json(cls, text: str) -> SubwordVocab:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))


def build_vocabs(pairs: list[tuple[str, str]], vocab_size: int, joint: bool) -> tuple[SubwordVocab, SubwordVocab]:
    if joint:
        vocab = SubwordVocab.train([s for pair in pairs for s in pair], vocab_size)
        return vocab, vocab
    return SubwordVocab.train([s for s, _ in pairs], vocab_size), SubwordVocab.train([t for _, t in pairs], vocab_size)


def save_vocabs(src: SubwordVocab, tgt: SubwordVocab, path: Path) -> None:
    path.write_text(json.dumps({"src": src.to_json(), "tgt": None if tgt is src else tgt.to_json()}))


def load_vocabs(path: Path) -> tuple[SubwordVocab, SubwordVocab]:
    spec = read_json(path)
    src = SubwordVocab.from_json(spec["src"])
    return src, (src if spec["tgt"] is None else SubwordVocab.from_json(spec["tgt"]))


def encode_pairs(pairs, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab, max_len: int):
    """(source ids, target ids with <bos> ... <eos>) per pair, each truncated to ``max_len``."""
    out = []
    for src, tgt in pairs:
        s = src_vocab.encode(src)[:max_len]
        t = [tgt_vocab.bos] + tgt_vocab.encode(tgt)[: max_len - 2] + [tgt_vocab.eos]
        out.append((s, t))
    return out


def pad_batch(seqs: list[list[int]], pad: int) -> tuple[Tensor, Tensor]:
    """Right-padded (B, T) int64 tensor and the (B,) lengths."""
    lengths = torch.tensor([len(s) for s in seqs])
    out = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths


def bucket_batches(lengths: list[int], max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices grouped by similar length, each batch at most ``max_tokens`` (padded) tokens, shuffled.

    The same (seed, epoch) gives the same batches in the same order.
    """
    g = epoch_generator(seed, epoch)
    noise = torch.rand(len(lengths), generator=g)  # break ties differently each epoch
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], noise[i].item()))
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if current and longest_if_added * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
