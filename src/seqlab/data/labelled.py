"""Labelled sentences for sequence -> class tasks (sentiment and the like).

Formats (``data.format``; ``auto`` tells the first two apart by the file name):

* ``lines``: ``label<space or tab>text`` lines: the layout of the SST-2 files
  ``stsa.binary.*`` (``1 a stirring , funny ...``); blank lines are skipped;
* ``table``: CSV (``.csv``) or TSV (``.tsv``) with a header row naming the text and label
  columns (``data.text_column``, ``data.label_column``);
* ``splice``: the UCI splice-junction lines ``CLASS, NAME, SEQUENCE`` (:mod:`seqlab.data.splice`).

Labels are strings, any number of classes.  A line without text, a missing column, an
empty or non-UTF-8 file are UserErrors naming the file (and line).

Tokens: ``word`` (whitespace words, optionally lowercased), ``char`` (every character,
e.g. nucleotides) or ``bpe`` subwords trained on the training texts with HuggingFace ``tokenizers``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqlab.data.example import Example
from seqlab.data.splice import read_splice
from seqlab.data.text import read_text
from seqlab.data.vocab import Vocabulary
from seqlab.errors import UserError
from seqlab.fields import Count, Size


@dataclass
class TokensConfig:
    """How a text becomes token ids: the ``data.*`` fields the classifier and the biLM share."""

    tokens: Literal["word", "char", "bpe"] = "word"
    lowercase: bool = True  # lowercase the text before tokenising
    min_freq: Count = 1  # words seen fewer times are <unk>
    bpe_vocab_size: Size = 8000  # data.tokens=bpe: subword vocabulary size
    max_len: Count = 0  # tokens kept per text (0: all)


FORMATS = ("auto", "lines", "table", "splice")


def read_labelled(path: str | Path, text_column: str = "text", label_column: str = "label",
                  fmt: str = "auto") -> list[Example]:
    if fmt not in FORMATS:
        raise UserError(f"data.format must be one of {list(FORMATS)}, got {fmt!r}")
    path = Path(path)
    if fmt == "splice":
        return read_splice(path)
    text = read_text(path, "data")
    if fmt == "table" or (fmt == "auto" and path.suffix.lower() in (".csv", ".tsv")):
        return _read_table(path, text, "," if path.suffix.lower() == ".csv" else "\t", text_column, label_column)
    examples = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        if len(parts) < 2:
            raise UserError(f"{path} line {n}: a label without text ({line.strip()!r}); "
                            "expected 'label<space or tab>text'")
        examples.append(Example(parts[1], parts[0]))
    return examples


def _read_table(path: Path, text: str, delimiter: str, text_column: str, label_column: str) -> list[Example]:
    return _table(path, text, delimiter, {text_column: "data.text_column", label_column: "data.label_column"},
                  lambda rows: _examples(path, rows, text_column, label_column))


def read_table_texts(path: str | Path, text_column: str) -> list[str]:
    """The non-empty cells of a CSV (``.csv``) or TSV file's ``text_column``; other columns are not read."""
    path = Path(path)
    return _table(path, read_text(path, "data"), "," if path.suffix.lower() == ".csv" else "\t",
                  {text_column: "data.text_column"},
                  lambda rows: [t for t in ((row.get(text_column) or "").strip() for row in rows) if t])


def _table(path: Path, text: str, delimiter: str, columns: dict[str, str], take):
    """``take`` of the rows of a table whose header has each of ``columns`` (column -> its config key)."""
    try:
        rows = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        for column, key in columns.items():
            if column not in (rows.fieldnames or []):
                raise UserError(f"{path}: no column {column!r} ({key}); columns: "
                                f"{', '.join(map(repr, rows.fieldnames or []))}")
        return take(rows)
    except csv.Error as e:
        raise UserError(f"{path}: not a readable {'CSV' if delimiter == ',' else 'TSV'} file ({e})") from None


def _examples(path: Path, rows, text_column: str, label_column: str) -> list[Example]:
    examples = []
    for n, row in enumerate(rows, 2):
        body, label = (row.get(text_column) or "").strip(), (row.get(label_column) or "").strip()
        if not label or not body:
            raise UserError(f"{path} line {n}: empty {'label' if not label else 'text'}")
        examples.append(Example(body, label))
    if not examples:
        raise UserError(f"{path} has a header but no rows")
    return examples


class WordTokens:
    """Whitespace words (lowercased when asked) -> ids; words seen fewer than ``min_freq`` times are <unk>."""

    kind = "word"

    def __init__(self, vocab: Vocabulary, lowercase: bool) -> None:
        self.vocab, self.lowercase = vocab, lowercase
        self.pad = vocab.pad

    @classmethod
    def build(cls, texts: list[str], lowercase: bool, min_freq: int, size: int = 0) -> WordTokens:
        return cls(Vocabulary.build((cls.split(t, lowercase) for t in texts), min_freq), lowercase)

    @staticmethod
    def split(text: str, lowercase: bool) -> list[str]:
        return (text.lower() if lowercase else text).split()

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.split(text, self.lowercase)) or [self.vocab.unk]

    def __len__(self) -> int:
        return len(self.vocab)

    def to_json(self) -> dict:
        return {"kind": self.kind, "lowercase": self.lowercase, **self.vocab.to_json()}


class CharTokens(WordTokens):
    """Every character is a token (nucleotides, or text read letter by letter)."""

    kind = "char"

    @staticmethod
    def split(text: str, lowercase: bool) -> list[str]:
        return list(text.lower() if lowercase else text)


class BPETokens:
    """Byte-level BPE subwords (HuggingFace ``tokenizers``) trained on the training texts; <pad> is 0."""

    kind = "bpe"

    def __init__(self, subwords, lowercase: bool) -> None:
        self.subwords, self.lowercase = subwords, lowercase
        self.pad = subwords.pad

    @classmethod
    def build(cls, texts: list[str], lowercase: bool, min_freq: int, size: int = 8000) -> BPETokens:
        from seqlab.data.parallel import SubwordVocab

        return cls(SubwordVocab.train([t.lower() if lowercase else t for t in texts], size), lowercase)

    def encode(self, text: str) -> list[int]:
        return self.subwords.encode(text.lower() if self.lowercase else text) or [self.subwords.unk]

    def __len__(self) -> int:
        return len(self.subwords)

    def to_json(self) -> dict:
        return {"kind": self.kind, "lowercase": self.lowercase, "tokenizer": self.subwords.tokenizer.to_str()}


TOKENS = {"word": WordTokens, "char": CharTokens, "bpe": BPETokens}


def build_tokens(kind: str, texts: list[str], lowercase: bool, min_freq: int, size: int):
    if kind not in TOKENS:
        raise UserError(f"data.tokens must be one of {sorted(TOKENS)}, got {kind!r}")
    return TOKENS[kind].build(texts, lowercase, min_freq, size)


def tokens_from_json(d: dict):
    if d["kind"] == "bpe":
        from tokenizers import Tokenizer

        from seqlab.data.parallel import SubwordVocab

        return BPETokens(SubwordVocab(Tokenizer.from_str(d["tokenizer"])), d["lowercase"])
    return TOKENS[d["kind"]](Vocabulary.from_json(d), d["lowercase"])
