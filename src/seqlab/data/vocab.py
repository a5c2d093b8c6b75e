"""A symbol <-> id table with padding and unknown symbols, for words, characters and labels.

``Vocabulary.build(sequences, min_freq)`` counts symbols over the training sequences;
``<pad>`` is id 0 and ``<unk>`` id 1 unless ``specials=()`` (a label set: every id is a
real label, and an unseen one is an error, not <unk>).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

PAD, UNK = "<pad>", "<unk>"


class Vocabulary:
    def __init__(self, itos: list[str], specials: tuple[str, ...] = (PAD, UNK), counts: dict | None = None) -> None:
        self.itos, self.specials = list(itos), tuple(specials)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.counts = counts or {}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_freq: int = 1,
              specials: tuple[str, ...] = (PAD, UNK)) -> Vocabulary:
        counts = Counter(s for seq in sequences for s in seq)
        kept = sorted((s for s, n in counts.items() if n >= min_freq and s not in specials),
                      key=lambda s: (-counts[s], s))
        return cls(list(specials) + kept, specials, {s: counts[s] for s in kept})

    @property
    def pad(self) -> int:
        return self.stoi[PAD]

    @property
    def unk(self) -> int:
        return self.stoi[UNK]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.stoi

    def encode(self, symbols: Iterable[str]) -> list[int]:
        unk = self.stoi.get(UNK)
        return [self.stoi.get(s, unk) for s in symbols]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_json(self) -> dict:
        return {"itos": self.itos, "specials": list(self.specials)}

    @classmethod
    def from_json(cls, d: dict) -> Vocabulary:
        return cls(d["itos"], tuple(d["specials"]))
