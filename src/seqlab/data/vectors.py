"""Pretrained word vectors in the GloVe text format: ``word v1 v2 ... vd`` per line.

:func:`load_vectors` fills an embedding matrix for a vocabulary: rows of words found in
the file take their vectors (tried as written, then lowercased); the others keep their
random initialisation.  A line with the wrong number of values, or a non-number, is a
UserError naming the file and the line.
"""
from __future__ import annotations

from pathlib import Path

import torch

from seqlab.errors import UserError


def load_vectors(path: str | Path, vocab, weight: torch.Tensor) -> int:
    """Copy the vectors of ``vocab``'s words from ``path`` into ``weight`` (V, d); returns how many were found."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model.vectors: no such file: {path}")
    dim, found = weight.shape[1], 0
    wanted = {}
    for i, word in enumerate(vocab.itos):
        wanted.setdefault(word, i)
        wanted.setdefault(word.lower(), i)
    with open(path, encoding="utf-8", errors="strict") as f:
        try:
            for n, line in enumerate(f, 1):
                parts = line.rstrip("\n").rstrip().split(" ")
                if len(parts) != dim + 1:
                    raise UserError(f"{path} line {n}: {len(parts) - 1} values, expected {dim} "
                                    f"(model.embed_size={dim})")
                if parts[0] in wanted:
                    try:
                        values = [float(v) for v in parts[1:]]
                    except ValueError:
                        raise UserError(f"{path} line {n}: a value is not a number") from None
                    weight[wanted.pop(parts[0])] = torch.tensor(values, dtype=weight.dtype)
                    found += 1
        except UnicodeDecodeError:
            raise UserError(f"{path} is not UTF-8 text (near line {n + 1})") from None
    return found
