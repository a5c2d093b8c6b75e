"""Parallel corpora for translation: aligned files, encoded as subword pairs.

* :func:`read_parallel` reads two line-aligned UTF-8 files; a line-count mismatch or an
  empty source line is a UserError naming both counts or the line.
* :func:`encode_pairs`: (source ids, <bos> target ids <eos>) with the vocabularies of
  :class:`seqlab.data.tokens.SubwordVocab`; the batches: :func:`seqlab.data.batching.bucket_batches`.
"""
from __future__ import annotations

from pathlib import Path

from seqlab.data.files import read_text
from seqlab.data.tokens import SubwordVocab
from seqlab.errors import UserError


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[tuple[str, str]]:
    src = read_text(src_path, "source").splitlines()
    tgt = read_text(tgt_path, "target").splitlines()
    if len(src) != len(tgt):
        raise UserError(f"parallel files differ in length: {src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}")
    for i, line in enumerate(src, 1):
        if not line.strip():
            raise UserError(f"{src_path}: line {i} is empty (every source line needs a sentence)")
    return list(zip(src, tgt))


def encode_pairs(pairs, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab, max_len: int):
    """(source ids, target ids with <bos> ... <eos>) per pair, each truncated to ``max_len``."""
    out = []
    for src, tgt in pairs:
        s = src_vocab.encode(src)[:max_len]
        t = [tgt_vocab.bos] + tgt_vocab.encode(tgt)[: max_len - 2] + [tgt_vocab.eos]
        out.append((s, t))
    return out
