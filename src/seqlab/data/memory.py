"""The synthetic long-range memory problems, generated on the fly from a seed.

* **adding** (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015): T steps
  of two channels, a value ~ U(0, 1) and a marker that is 1 at two steps -- one in each half
  of the sequence; the target is the sum of the two marked values.  Always answering 1
  gives MSE = Var(u_1 + u_2) = 1/6 ≈ 0.167.
* **copy** (Arjovsky, Shah & Bengio 2016): 10 symbols from {1..8}, T − 1 blanks (0), the
  delimiter 9, then 10 blanks during which the 10 symbols must be output; every other
  output is a blank.  A memoryless model that outputs blanks and then guesses has a mean
  cross-entropy of 10 ln 8 / (T + 20).
* **selective** (selective copying, Gu & Dao 2023): 16 symbols from {1..8} at random
  positions among T blanks, then 16 markers (9) during which the symbols must be output in
  order; only those 16 outputs are scored.

``symbols`` sets how many symbols copy and selective copying recall (0: the standard 10 and
16); fewer make small versions of the problems, e.g. for tests.

A batch is ``(x, y)``: x (B, T', 2) float for adding, (B, T') long otherwise; y (B,) float
for adding, (B, T') long with −100 where nothing is scored.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from seqlab.errors import UserError

PROBLEMS = ("adding", "copy", "selective")
VOCAB = 10  # 0 blank, 1..8 symbols, 9 delimiter / marker
COPY_SYMBOLS, SELECTIVE_SYMBOLS = 10, 16


def adding(batch: int, length: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    values = torch.rand(batch, length, generator=g)
    half = length // 2
    first = torch.randint(0, half, (batch,), generator=g)
    second = torch.randint(half, length, (batch,), generator=g)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = markers[rows, second] = 1.0
    return torch.stack([values, markers], -1), values[rows, first] + values[rows, second]


def recalled(problem: str, symbols: int = 0) -> int:
    """How many symbols copy / selective copying recall: ``symbols``, or the standard 10 / 16 when 0."""
    return symbols or (COPY_SYMBOLS if problem == "copy" else SELECTIVE_SYMBOLS)


def copy(batch: int, length: int, g: torch.Generator, n: int = COPY_SYMBOLS) -> tuple[Tensor, Tensor]:
    symbols = torch.randint(1, 9, (batch, n), generator=g)
    x = torch.zeros(batch, length + 2 * n, dtype=torch.long)
    x[:, :n], x[:, n + length - 1] = symbols, 9
    y = torch.zeros_like(x)
    y[:, -n:] = symbols
    return x, y


def selective(batch: int, length: int, g: torch.Generator, n: int = SELECTIVE_SYMBOLS) -> tuple[Tensor, Tensor]:
    if length < n:
        raise UserError(f"selective copying of {n} symbols needs data.length >= {n}, got {length}")
    symbols = torch.randint(1, 9, (batch, n), generator=g)
    positions = torch.rand(batch, length, generator=g).argsort(1)[:, :n].sort(1).values  # (B, n), in order
    x = torch.zeros(batch, length + n, dtype=torch.long)
    x.scatter_(1, positions, symbols)
    x[:, length:] = 9
    y = torch.full_like(x, -100)
    y[:, length:] = symbols
    return x, y


GENERATORS = {"adding": adding, "copy": copy, "selective": selective}


def generate(problem: str, batch: int, length: int, seed: int, symbols: int = 0) -> tuple[Tensor, Tensor]:
    """One batch of ``problem`` at sequence length ``length``, fully determined by ``seed``."""
    if problem not in GENERATORS:
        raise UserError(f"data.problem must be one of {list(PROBLEMS)}, got {problem!r}")
    if length < 2:
        raise UserError(f"data.length must be at least 2, got {length}")
    if symbols < 0:
        raise UserError(f"data.symbols must be 0 (the standard count) or positive, got {symbols}")
    g = torch.Generator().manual_seed(seed)
    return adding(batch, length, g) if problem == "adding" else GENERATORS[problem](batch, length, g,
                                                                                   recalled(problem, symbols))


def baseline(problem: str, length: int, symbols: int = 0) -> float:
    """The memoryless baseline: MSE 1/6 (adding), cross-entropy n ln 8 / (T + 2n) (copy; n = 10 as standard),
    ln 8 (selective)."""
    n = recalled(problem, symbols)
    return {"adding": 1 / 6, "copy": n * math.log(8) / (length + 2 * n), "selective": math.log(8)}[problem]
