"""CoNLL-U, the format of Universal Dependencies: read tagged sentences, write predictions back into the file.

A sentence is a block of lines ended by a blank line: comment lines (``# text = ...``), then one line per word
of ten TAB-separated fields, ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC`` (a FORM may hold a space).
A multiword token (ID ``3-4``: the surface form of words 3 and 4) and an empty node (ID ``8.1``) are not words
of the sentence: they are skipped for tagging and written back unchanged.  The tag is the ``upos`` or the
``xpos`` field (``data.tag_field``).  A word line with other than ten fields is a one-line error naming the file
and the line.  See https://universaldependencies.org/format.html.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from seqlab.data.files import read_text
from seqlab.data.tagged import Sentence, TaggedFile
from seqlab.errors import UserError

FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
TAG_FIELDS = {"upos": 3, "xpos": 4}
FORM = 1


def is_word(line: str) -> bool:
    """A line of a word (an integer ID), not a comment, a multiword token (``3-4``) or an empty node (``8.1``)."""
    return line.split("\t", 1)[0].isdigit()


def word_fields(line: str, where: str) -> list[str]:
    """The ten fields of a word line; any other count is a UserError naming ``where`` (file and line)."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != len(FIELDS):
        raise UserError(f"{where}: a CoNLL-U word line has 10 TAB-separated fields, this one {len(fields)}")
    return fields


def blocks(lines: Iterable[str], first: int = 1) -> Iterator[tuple[int, list[str]]]:
    """The sentences of CoNLL-U lines: (the number of its first line, its lines without the blank line ending it)."""
    block, start = [], first
    for n, line in enumerate(lines, first):
        if line.strip():
            if not block:
                start = n
            block.append(line.rstrip("\r\n"))
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def words(block: list[str], start: int, path: str, tag_field: str) -> tuple[list[str], list[str]]:
    """The FORMs of a sentence's words and their tags (``tag_field``)."""
    column = TAG_FIELDS[tag_field]
    forms, tags = [], []
    for n, line in enumerate(block, start):
        if is_word(line):
            fields = word_fields(line, f"{path} line {n}")
            forms.append(fields[FORM])
            tags.append(fields[column])
    return forms, tags


def read_conllu(path: str | Path, tag_field: str = "upos") -> TaggedFile:
    """The tagged sentences of a CoNLL-U file (its words' FORMs and ``tag_field``)."""
    if tag_field not in TAG_FIELDS:
        raise UserError(f"data.tag_field must be one of {list(TAG_FIELDS)}, got {tag_field!r}")
    sentences = []
    for start, block in blocks(read_text(path, "data").splitlines()):
        forms, tags = words(block, start, str(path), tag_field)
        if forms:
            sentences.append(Sentence(forms, tags, start))
    if not sentences:
        raise UserError(f"{path} holds no CoNLL-U sentences (word lines: ID, FORM, ... 10 TAB-separated fields)")
    return TaggedFile(sentences, "plain", str(path))


def with_tags(block: list[str], tags: list[str], tag_field: str) -> list[str]:
    """The sentence's lines with the tags written into ``tag_field`` of its word lines; every other byte kept."""
    column, out, next_tag = TAG_FIELDS[tag_field], [], iter(tags)
    for line in block:
        if is_word(line):
            fields = line.split("\t")
            fields[column] = next(next_tag)
            line = "\t".join(fields)
        out.append(line)
    return out


def sentence_lines(tokens: list[str], tags: list[str], tag_field: str) -> list[str]:
    """A plain sentence as CoNLL-U word lines (ID, FORM, the tag; the other fields ``_``)."""
    out = []
    for i, (token, tag) in enumerate(zip(tokens, tags), 1):
        fields = [str(i), token] + ["_"] * (len(FIELDS) - 2)
        fields[TAG_FIELDS[tag_field]] = tag
        out.append("\t".join(fields))
    return out
