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


def copy(batch: int, length: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    n = COPY_SYMBOLS
    symbols = torch.randint(1, 9, (batch, n), generator=g)
    x = torch.zeros(batch, length + 2 * n, dtype=torch.long)
    x[:, :n], x[:, n + length - 1] = symbols, 9
    y = torch.zeros_like(x)
    y[:, -n:] = symbols
    return x, y


def selective(batch: int, length: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    n = SELECTIVE_SYMBOLS
    if length < n:
        raise UserError(f"selective copying needs data.length >= {n}, got {length}")
    symbols = torch.randint(1, 9, (batch, n), generator=g)
    positions = torch.rand(batch, length, generator=g).argsort(1)[:, :n].sort(1).values  # (B, n), in order
    x = torch.zeros(batch, length + n, dtype=torch.long)
    x.scatter_(1, positions, symbols)
    x[:, length:] = 9
    y = torch.full_like(x, -100)
    y[:, length:] = symbols
    return x, y


GENERATORS = {"adding": adding, "copy": copy, "selective": selective}


def generate(problem: str, batch: int, length: int, seed: int) -> tuple[Tensor, Tensor]:
    """One batch of ``problem`` at sequence length ``length``, fully determined by ``seed``."""
    if problem not in GENERATORS:
        raise UserError(f"data.problem must be one of {list(PROBLEMS)}, got {problem!r}")
    if length < 2:
        raise UserError(f"data.length must be at least 2, got {length}")
    return GENERATORS[problem](batch, length, torch.Generator().manual_seed(seed))


def baseline(problem: str, length: int) -> float:
    """The memoryless baseline: MSE 1/6 (adding), cross-entropy 10 ln 8 / (T + 20) (copy), ln 8 (selective)."""
    return {"adding": 1 / 6, "copy": COPY_SYMBOLS * math.log(8) / (length + 2 * COPY_SYMBOLS),
            "selective": math.log(8)}[problem]
