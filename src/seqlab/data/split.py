"""Holding out the last part of a training set for validation, when no validation file is given."""
from __future__ import annotations

from seqlab.errors import UserError


def hold_out(items: list, fraction: float, path: str, what: str = "examples") -> tuple[list, list]:
    """(the first 1 - ``fraction`` of ``items``, the rest); ``path`` and ``what`` name them in errors."""
    if not 0 < fraction < 1:
        raise UserError(f"data.valid_fraction must lie in (0, 1), got {fraction}")
    cut = len(items) - max(1, round(len(items) * fraction))
    if cut < 1:
        raise UserError(f"{path} has {len(items)} {what}: too few to hold out a validation part")
    return items[:cut], items[cut:]
