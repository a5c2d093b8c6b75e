"""Prediction input: lines streamed from a file (or stdin) in bounded memory.

``seqlab predict`` never reads its whole input at once: :func:`input_lines` yields one line
at a time and reads at most ``max_chars`` + 1 characters of a line before refusing it, so a
10 MB line without a newline costs no more than the limit; :func:`numbered_chunks` hands a
task a few hundred lines at a time with the number of the first, so that its errors name
the line of the input, not of the chunk.  Memory is then bounded by one chunk of lines and
its outputs, however many lines come (measured in ``benchmarks/predict_stream.py``).
"""
from __future__ import annotations

import glob
import gzip
import io
import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from seqlab.errors import UserError

MAX_CHARS = 1_000_000  # the default limit on one input line (--max-chars)
CHUNK = 256  # lines a task predicts at a time


def _open(path: str | None, what: str):
    if path is None:
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline=None)
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{what}: no such file: {file}")
    if file.suffix == ".gz":
        return gzip.open(file, "rt", encoding="utf-8", newline=None)
    return open(file, encoding="utf-8", newline=None)


def input_lines(path: str | None, max_chars: int = MAX_CHARS, what: str = "--input") -> Iterator[str]:
    """The lines of ``path`` (None: stdin) without their line ends, one at a time.

    A line longer than ``max_chars`` characters, bytes that are not UTF-8 and a damaged gzip
    file are UserErrors naming the line; a file with no text at all is one too (stdin may be empty).
    """
    if max_chars < 1:
        raise UserError(f"--max-chars must be at least 1, got {max_chars}")
    name = path or "stdin"
    stream = _open(path, what)
    n, seen_text = 0, False
    with stream:
        while True:
            n += 1
            try:
                line = stream.readline(max_chars + 1)
            except UnicodeDecodeError as e:
                raise UserError(f"{what}: {name} is not UTF-8 text (line {n}, byte {e.start} of its chunk)") from None
            except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
                raise UserError(f"{what}: {name} is not a whole gzip file ({e})") from None
            if not line:
                break
            if line.endswith("\n"):
                line = line[:-1]
            elif len(line) > max_chars:
                raise UserError(f"{what}: line {n} of {name} is longer than {max_chars:,} characters "
                                f"(--max-chars raises the limit; memory grows with it)")
            seen_text = seen_text or bool(line.strip())
            yield line
    if path is not None and not seen_text:
        raise UserError(f"{what}: {path} is empty")


def input_paths(values: Iterable[str] | None, what: str = "--input") -> list[str]:
    """The files that ``--input`` values name, in order: a path, a glob (``strips/*.png``, sorted), or ``-``
    (stdin).  A glob that matches nothing and a missing file are UserErrors naming the value."""
    paths = []
    for value in values or ():
        if value == "-" or Path(value).is_file() or not glob.has_magic(value):
            if value != "-" and not Path(value).is_file():
                raise UserError(f"{what}: no such file: {value}")
            paths.append(value)
            continue
        matches = sorted(p for p in glob.glob(value) if Path(p).is_file())
        if not matches:
            raise UserError(f"{what}: no file matches {value}")
        paths += matches
    return paths


def lines_of(paths: list[str], max_chars: int = MAX_CHARS, what: str = "--input") -> Iterator[str]:
    """The lines of each of ``paths`` in turn (``-``, or no path at all: stdin), as :func:`input_lines`."""
    return itertools.chain.from_iterable(input_lines(None if p == "-" else p, max_chars, what) for p in paths or ["-"])


def numbered_chunks(lines: Iterable[str], size: int = CHUNK) -> Iterator[tuple[int, list[str]]]:
    """``(number of the first line, up to size lines)`` from ``lines``, in order; numbers start at 1."""
    chunk, first = [], 1
    for n, line in enumerate(lines, 1):
        if not chunk:
            first = n
        chunk.append(line)
        if len(chunk) == size:
            yield first, chunk
            chunk = []
    if chunk:
        yield first, chunk


def check_sentences(lines: list[str], first: int = 1) -> None:
    """Input for prediction: one sentence per line; an empty line is a UserError naming it
    (``first``: the number of ``lines[0]`` in the input)."""
    for i, line in enumerate(lines, first):
        if not line.strip():
            raise UserError(f"input line {i} is empty: give one sentence per line")


def check_lengths(lengths: Iterable[int], limit: int | None, first: int = 1, what: str = "the model") -> None:
    """A UserError naming the first input line with more than ``limit`` tokens (None: no limit)."""
    if limit is None:
        return
    for i, n in enumerate(lengths, first):
        if n > limit:
            raise UserError(f"input line {i} has {n:,} tokens; {what} reads at most {limit:,}")
