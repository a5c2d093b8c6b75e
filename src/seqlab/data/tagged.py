"""Tagged sentences for synchronous tagging: CoNLL column files and segmented text.

* CoNLL (``data.format=conll``): one token per line, columns separated by whitespace, a
  blank line between sentences, ``-DOCSTART-`` lines skipped; the token and tag columns
  are chosen by index (``data.token_column``, ``data.tag_column``; negative counts from
  the end).  Every non-blank line must have as many columns as the first one.  The tags'
  scheme (IOB1, IOB2, BIOES, or plain tags such as POS) is detected, and mixed schemes
  are an error naming where each was seen.
* segmented text (``data.format=segmented``, the SIGHAN layout): one sentence per line,
  words separated by whitespace; each character becomes a token tagged B/M/E/S.
* CoNLL-U (``data.format=conllu``, Universal Dependencies): :mod:`seqlab.data.conllu`.

Errors (wrong column count, empty file, non-UTF-8, mixed schemes) name the file and line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seqlab.data.files import read_text
from seqlab.data.tagschemes import bmes, detect_scheme, is_chunk_tagset
from seqlab.errors import UserError


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    line: int  # where it starts in its file
    words: list[str] = field(default_factory=list)  # segmented text: the gold words


@dataclass
class TaggedFile:
    sentences: list[Sentence]
    scheme: str  # iob1 | iob2 | bioes | bmes | plain
    path: str


def read_conll(path: str | Path, token_column: int = 0, tag_column: int = -1) -> TaggedFile:
    text = read_text(path, "data")
    sentences, tokens, tags, start, width = [], [], [], 0, None
    for n, line in enumerate(text.splitlines(), 1):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if tokens:
                sentences.append(Sentence(tokens, tags, start))
            tokens, tags = [], []
            continue
        width = width or len(cols)
        if len(cols) != width:
            raise UserError(f"{path} line {n}: {len(cols)} columns, but the file's first token line has {width}")
        try:
            token, tag = cols[token_column], cols[tag_column]
        except IndexError:
            raise UserError(f"{path} line {n}: no column {token_column if abs(token_column) >= width else tag_column} "
                            f"(the line has {width} columns; see data.token_column / data.tag_column)") from None
        start = start if tokens else n
        tokens.append(token)
        tags.append(tag)
    if tokens:
        sentences.append(Sentence(tokens, tags, start))
    if not sentences:
        raise UserError(f"{path} holds no sentences")
    all_tags = {t for s in sentences for t in s.tags}
    if not is_chunk_tagset(all_tags):
        return TaggedFile(sentences, "plain", str(path))
    scheme = detect_scheme([s.tags for s in sentences], [f"{path} line {s.line}" for s in sentences])
    return TaggedFile(sentences, scheme, str(path))


def read_segmented(path: str | Path) -> TaggedFile:
    text = read_text(path, "data")
    sentences = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if words:
            chars = [ch for w in words for ch in w]
            sentences.append(Sentence(chars, bmes(words), n, words))
    if not sentences:
        raise UserError(f"{path} holds no sentences")
    return TaggedFile(sentences, "bmes", str(path))


def conll_lines(tokens: list[str], *columns: list[str]) -> list[str]:
    """One sentence as CoNLL lines (token and the given columns), ending with a blank line."""
    return [" ".join(cols) for cols in zip(tokens, *columns)] + [""]
