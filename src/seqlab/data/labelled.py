"""Labelled sentences for sequence -> class tasks (sentiment and the like).

Formats (``data.format``; ``auto`` tells the first two apart by the file name):

* ``lines``: ``label<space or tab>text`` lines: the layout of the SST-2 files
  ``stsa.binary.*`` (``1 a stirring , funny ...``); blank lines are skipped;
* ``table``: CSV (``.csv``) or TSV (``.tsv``) with a header row naming the text and label
  columns (``data.text_column``, ``data.label_column``);
* ``splice``: the UCI splice-junction lines ``CLASS, NAME, SEQUENCE`` (:mod:`seqlab.data.splice`).

Labels are strings, any number of classes.  A line without text, a missing column, an
empty or non-UTF-8 file are UserErrors naming the file (and line).

How the texts become token ids (``data.tokens``: word, char or bpe): :mod:`seqlab.data.tokens`.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqlab.data.example import Example
from seqlab.data.files import read_text
from seqlab.data.splice import read_splice
from seqlab.errors import UserError
from seqlab.fields import Fraction

FORMATS = ("auto", "lines", "table", "splice")


@dataclass
class LabelledFileConfig:
    """Where labelled sentences come from: the ``data.*`` fields that classify and conditional_lm share."""

    path: str = ""  # training file: 'label text' lines, or .csv/.tsv with a header
    valid: str = ""  # validation file (default: the last valid_fraction of the training file)
    valid_fraction: Fraction = 0.1  # without data.valid: this part of the training file is held out
    format: Literal["auto", "lines", "table"] = "auto"  # auto (.csv/.tsv: table, else lines) | lines ('label text') | table
    text_column: str = "text"  # .csv/.tsv only
    label_column: str = "label"  # .csv/.tsv only


def read_examples(cfg: LabelledFileConfig, path: str | Path) -> list[Example]:
    """The labelled sentences of ``path``, read as ``cfg`` says."""
    return read_labelled(path, cfg.text_column, cfg.label_column, cfg.format)


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
