"""Nucleotide sequences with a class: the UCI splice-junction format (biological sequences -> class).

Each line is ``CLASS, INSTANCE-NAME, SEQUENCE`` (spaces after the commas), e.g.::

    EI,    ATRINS-DONOR-521,    CCAGCTGCATCACAGGAGGCCAGCGAGCAGGTCTGTTCCAAGGGCCTTCGAGCCAGTCTG

Letters are IUPAC nucleotide codes, upper or lower case.  A, C, G and T are kept; the
ambiguity codes (R Y S W K M B D H V N -- in the UCI file D, N, S and R occur, in 15 of
3,190 sequences) all become the one *unknown* symbol ``N``: too rare to learn an embedding
each, and a model should not read meaning into which ambiguity the sequencer reported.
Any other letter is an error naming its line and column.  Every sequence must have the
length of the file's first (60 in the UCI file: positions -30..+30 around the junction).
"""
from __future__ import annotations

from pathlib import Path

from seqlab.data.example import Example
from seqlab.data.files import read_text
from seqlab.errors import UserError

BASES = "ACGT"
AMBIGUOUS = "RYSWKMBDHVN"  # IUPAC ambiguity codes, all read as N
UNKNOWN = "N"


def read_splice(path: str | Path) -> list[Example]:
    """The labelled sequences of a UCI splice-format file: ``Example(text=sequence, label=class)``."""
    path = Path(path)
    examples, length = [], None
    for n, line in enumerate(read_text(path, "data").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[0] or not parts[2]:
            raise UserError(f"{path} line {n}: expected 'CLASS, NAME, SEQUENCE', got {line.strip()[:60]!r}")
        label, sequence = parts[0], parts[2]
        offset = line.rindex(sequence) + 1  # the sequence's first column in the line
        examples.append(Example(nucleotides(sequence, f"{path} line {n}", offset), label))
        length = length or len(sequence)
        if len(sequence) != length:
            raise UserError(f"{path} line {n}: a sequence of {len(sequence)} nucleotides; the file's first has "
                            f"{length}")
    if not examples:
        raise UserError(f"{path} holds no sequences")
    return examples


def nucleotides(sequence: str, where: str, first_column: int = 1) -> str:
    """``sequence`` in upper case with every ambiguity code as N; a non-IUPAC letter is an error at ``where``."""
    out = []
    for i, ch in enumerate(sequence.upper()):
        if ch in BASES:
            out.append(ch)
        elif ch in AMBIGUOUS:
            out.append(UNKNOWN)
        else:
            raise UserError(f"{where} column {first_column + i}: {sequence[i]!r} is not an IUPAC nucleotide code "
                            f"({BASES} or {AMBIGUOUS})")
    return "".join(out)
