"""The allowed values of every config and option field, declared in the field's type and checked in one pass.

A numeric field states its range, a field with a fixed set of values states them as a ``Literal``:

    lr: Positive = 2e-3                                          # finite and > 0
    dropout: Probability = 0.5                                   # in [0, 1)
    clip: Annotated[float, Range(0, low_open=True, off=0)] = 5   # > 0, or 0: off
    name: Literal["adamw", "sgd"] = "adamw"

:func:`check` walks a config (a tree of dataclasses) or a task's options dataclass and raises one
:class:`~seqlab.errors.UserError` for the first value outside what its field allows, naming the key, the
value and the range.  Every value is finite unless its range says otherwise.  A test
(tests/test_config_fuzz.py) holds every numeric field of every task to having a range, so that a new field
cannot be added without one.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Literal

from seqlab.errors import UserError

INT_MAX = 2**31 - 1  # sizes, counts and steps: beyond this no tensor index or loop is meant


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``<`` where open), finite; ``off`` lists values outside it that mean "off"."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    off: float | None = None

    def allows(self, value) -> bool:
        if value == self.off:
            return True
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            text = f"in {'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}" \
                   f"{')' if self.high_open else ']'}"
        elif self.low is not None:
            text = f"{'>' if self.low_open else '>='} {_number(self.low)}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '<='} {_number(self.high)}"
        else:
            text = "finite"
        return text if self.off is None else f"{text}, or {_number(self.off)} for off"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


Positive = Annotated[float, Range(0, low_open=True)]  # a rate, a scale: finite and > 0
NonNegative = Annotated[float, Range(0)]  # finite and >= 0 (0 usually: off)
Finite = Annotated[float, Range()]  # any finite number
Probability = Annotated[float, Range(0, 1, high_open=True)]  # a dropout rate, a momentum: [0, 1)
UnitInterval = Annotated[float, Range(0, 1)]  # a probability that may be 1: [0, 1]
Fraction = Annotated[float, Range(0, 1, low_open=True, high_open=True)]  # a share of a data set: (0, 1)
Mass = Annotated[float, Range(0, 1, low_open=True)]  # nucleus sampling mass: (0, 1]
Size = Annotated[int, Range(1, INT_MAX)]  # widths, lengths, batch sizes: >= 1
Count = Annotated[int, Range(0, INT_MAX)]  # counts and steps where 0 means none, off or all
Index = Annotated[int, Range(-INT_MAX, INT_MAX)]  # a column (negative: from the end)
Seed = Annotated[int, Range(0, 2**32 - 1)]  # what torch, numpy and random all accept


def constraint(kind) -> Range | tuple[str, ...] | None:
    """The Range of an annotated numeric type, the choices of a Literal, else None (``X | None``: X's)."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        kind = kinds[0] if len(kinds) == 1 else kind
    if typing.get_origin(kind) is Literal:
        return typing.get_args(kind)
    if typing.get_origin(kind) is Annotated:
        return next((m for m in kind.__metadata__ if isinstance(m, Range)), None)
    return None


def described(kind) -> str:
    """What a field allows, for help texts ("" for a free string or a bool)."""
    rule = constraint(kind)
    if isinstance(rule, Range):
        return rule.describe()
    return " | ".join(rule) if rule else ""


def hints(cls) -> dict:
    """A dataclass's field types with their Annotated ranges kept."""
    return typing.get_type_hints(cls, include_extras=True)


def check(cfg, prefix: str = "") -> None:
    """Raise a UserError naming the first field of ``cfg`` (and its sub-configs) whose value it does not allow.
    ``prefix="--"`` names an options dataclass's fields as the command line's flags (``top_p``: ``--top-p``)."""
    kinds = hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"--{f.name.replace('_', '-')}" if prefix == "--" else f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check(value, f"{key}.")
            continue
        rule = constraint(kinds[f.name])
        if rule is None or value is None:
            continue
        if isinstance(rule, Range):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not rule.allows(value):
                raise UserError(f"{key} must be {rule.describe()}, got {value!r}")
        elif value not in rule:
            raise UserError(f"{key} must be one of {', '.join(map(repr, rule))}, got {value!r}")
