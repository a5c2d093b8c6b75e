"""Stratified, seeded splits for data without an official split (cross-validation, a validation draw).

Both keep each class's share in every part (scikit-learn's ``StratifiedKFold`` and
``train_test_split``, shuffled with the given seed), so a file sorted by class -- as the
UCI splice file is -- still gives parts that look like the whole.
"""
from __future__ import annotations

from seqlab.errors import UserError


def stratified_folds(labels: list[str], k: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """``k`` (train, test) index lists: the test parts are disjoint, cover every index and keep the class shares."""
    from sklearn.model_selection import StratifiedKFold

    if k < 2:
        raise UserError(f"--folds must be at least 2, got {k}")
    smallest = min(labels.count(c) for c in set(labels))
    if smallest < k:
        raise UserError(f"{k} folds need at least {k} examples of every class; the rarest has {smallest}")
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(labels, labels)
    return [(sorted(train.tolist()), sorted(test.tolist())) for train, test in folds]


def stratified_hold_out(labels: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(kept, held-out) indices: a seeded draw of ``fraction`` of the items with each class's share."""
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise UserError(f"data.valid_fraction must lie in (0, 1), got {fraction}")
    try:
        kept, held = train_test_split(list(range(len(labels))), test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as e:  # too few examples of a class to keep one on each side
        raise UserError(f"a stratified hold-out of {fraction} is not possible here: {e}") from None
    return sorted(kept), sorted(held)
