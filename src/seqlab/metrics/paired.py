"""Two models scored on the same cross-validation folds: the fold-paired difference and its standard error.

With the same K test parts, a_k and b_k are paired, and the fold-to-fold spread that both
share (an easy fold is easy for both) cancels in the differences d_k = a_k - b_k:

    d̄ = (1/K) Σ_k d_k,    SE(d̄) = s_d / √K,    s_d² = (1/(K-1)) Σ_k (d_k - d̄)²

"a beats b" is read here as d̄ > 2 SE(d̄) (about a paired t-test at 5% for K = 10; the folds'
training parts overlap, so the true spread is somewhat larger -- Nadeau & Bengio 2003).
"""
from __future__ import annotations

import math


def paired_difference(a: list[float], b: list[float]) -> dict:
    """d̄, SE(d̄), d̄ / SE and the folds won, tied and lost by ``a`` against ``b`` (per-fold scores, in order)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"paired scores need two lists of one length >= 2, got {len(a)} and {len(b)}")
    d = [x - y for x, y in zip(a, b)]
    k = len(d)
    mean = sum(d) / k
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (k - 1) / k)
    return {"mean": mean, "se": se, "t": mean / se if se > 0 else math.copysign(math.inf, mean) if mean else 0.0,
            "folds": k, "wins": sum(x > 0 for x in d), "ties": sum(x == 0 for x in d),
            "losses": sum(x < 0 for x in d), "beats": mean > 2 * se}
