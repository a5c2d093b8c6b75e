"""Decoding CTC outputs (Graves et al. 2006), and the edit distance that scores them.

A CTC model emits, at every frame t, a distribution over the labels and a blank.  A path
(one symbol per frame) maps to a label sequence by B: merge repeated symbols, then drop
the blanks -- so ``a a - a b`` reads ``a a b`` and a label is repeated only across a blank.

* **greedy** (best path): the most probable symbol of every frame, through B.
* **prefix beam search** (Hannun et al. 2014): keeps the ``beam`` most probable label
  prefixes, each with two probabilities -- of the paths that end in a blank (p_b) and of
  those that end in its last label (p_nb) -- so that the paths B maps to the same prefix
  are summed, not just the best one.  With beam 1 it keeps one prefix; when each frame's
  top symbol has probability above ½ that prefix is the greedy one.
"""
from __future__ import annotations

import math

from torch import Tensor

NEG_INF = -math.inf


def collapse(path: list[int], blank: int = 0) -> list[int]:
    """B: merge repeats, then drop blanks."""
    out, previous = [], None
    for s in path:
        if s != previous and s != blank:
            out.append(s)
        previous = s
    return out


def greedy_decode(log_probs: Tensor, blank: int = 0) -> list[int]:
    """log_probs (T, V) -> the labels of the best path."""
    return collapse(log_probs.argmax(-1).tolist(), blank)


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _add(beams: dict, prefix: tuple, pb: float = NEG_INF, pnb: float = NEG_INF) -> None:
    """Add path probabilities (log) ending in blank / in the last label to ``prefix``'s."""
    cell = beams.setdefault(prefix, [NEG_INF, NEG_INF])
    cell[0], cell[1] = _logadd(cell[0], pb), _logadd(cell[1], pnb)


def prefix_beam_search(log_probs: Tensor, beam: int = 8, blank: int = 0) -> list[int]:
    """log_probs (T, V) -> the most probable label sequence found by a prefix beam of width ``beam``."""
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    lp = log_probs.double().tolist()
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, NEG_INF)}  # prefix -> (log p_b, log p_nb)
    for frame in lp:
        nxt: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            _add(nxt, prefix, pb=total + frame[blank])  # a blank: the prefix stays, now ending in blank
            last = prefix[-1] if prefix else None
            for c, lc in enumerate(frame):
                if c == blank:
                    continue
                if c == last:
                    _add(nxt, prefix, pnb=pnb + lc)  # a repeat merged into the last label
                    _add(nxt, prefix + (c,), pnb=pb + lc)  # a new label, after a blank
                else:
                    _add(nxt, prefix + (c,), pnb=total + lc)
        best = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)[:beam]
        beams = {prefix: (pb, pnb) for prefix, (pb, pnb) in best}
    return list(max(beams.items(), key=lambda kv: _logadd(*kv[1]))[0])


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning a into b."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]
