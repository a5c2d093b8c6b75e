"""Time series from CSV: reading, the standard splits, z-scores from the training rows, sliding windows.

The layout is that of the ETT files: a header, a date/time column, numeric columns::

    date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT
    2016-07-01 00:00:00,5.827,2.009,1.599,0.462,4.203,1.340,30.531

Splits follow the reference loaders (Informer, Autoformer, DLinear, PatchTST):

* ``ett-hour``: 12/4/4 months of hours, 8,640 / 2,880 / 2,880 rows (the rest of the file unused);
* ``ett-minute``: the same months at 15 minutes, 4x the rows;
* ``ratio``: the first 70% / next 10% / last 20% of the rows (``Dataset_Custom``);
* ``auto``: ``ett-hour`` for ETTh*.csv, ``ett-minute`` for ETTm*.csv, else ``ratio``.

A window is ``lookback`` rows of input followed by ``horizon`` rows to forecast.  The
windows of a split are those whose *forecast* starts inside the split, so validation and
test windows reach ``lookback`` rows back into the split before them, as in the loaders:
a split of ``n`` rows has ``n - horizon + 1`` windows (the training split
``n - lookback - horizon + 1``).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

import torch

from seqlab.errors import UserError

SPLITS = ("train", "valid", "test")


@dataclass
class Series:
    """A multivariate series: ``values[t, c]`` is column ``columns[c]`` at ``times[t]``."""

    path: str
    times: list[datetime]
    columns: list[str]
    values: torch.Tensor  # (N, C) float64

    @cached_property
    def step(self) -> timedelta:
        """The sampling interval (the median gap between rows)."""
        gaps = sorted(b - a for a, b in zip(self.times[:50_000], self.times[1:50_001]))
        return gaps[len(gaps) // 2] if gaps else timedelta(hours=1)

    def column(self, name: str) -> int:
        if name not in self.columns:
            raise UserError(f"{self.path}: no column {name!r}; columns: {', '.join(self.columns)}")
        return self.columns.index(name)


def _number(cell: str) -> float:
    value = float(cell)
    if not math.isfinite(value):
        raise ValueError(cell)
    return value


def read_series(path: str | Path, time_column: str = "date", fill: bool = False) -> Series:
    """Read a CSV series; a bad cell is an error naming its line and column (``fill``: carry the last value)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text (a CSV file is expected)") from None
    except csv.Error as e:
        raise UserError(f"{path}: not a readable CSV file ({e})") from None
    if not rows or not rows[0]:
        raise UserError(f"{path} is empty (a CSV with a header line is expected)")
    header = [name.strip() for name in rows[0]]
    if time_column not in header:
        raise UserError(f"{path}: no time column {time_column!r} in the header ({', '.join(map(repr, header))}); "
                        "set data.time_column")
    t_col = header.index(time_column)
    columns = [name for i, name in enumerate(header) if i != t_col]
    if not columns:
        raise UserError(f"{path}: no value columns besides {time_column!r}")
    times, values = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise UserError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        try:
            time = datetime.fromisoformat(row[t_col].strip())
        except ValueError:
            raise UserError(f"{path}:{line}: {time_column} {row[t_col]!r} is not a date/time") from None
        if times and time <= times[-1]:
            raise UserError(f"{path}:{line}: {time_column} {row[t_col]!r} is not after the previous row's "
                            f"{times[-1]} (the series must be in time order, without repeats)")
        record = []
        for i, cell in enumerate(row):
            if i == t_col:
                continue
            try:
                record.append(_number(cell))
            except ValueError:
                if not (fill and values):
                    hint = "" if fill else " (data.fill=true carries the last value forward)"
                    raise UserError(f"{path}:{line}: column {header[i]} holds {cell!r}, not a number{hint}") from None
                record.append(values[-1][len(record)])
        times.append(time)
        values.append(record)
    if not values:
        raise UserError(f"{path} has a header but no rows")
    return Series(str(path), times, columns, torch.tensor(values, dtype=torch.float64))


def split_borders(series: Series, kind: str = "auto", train_fraction: float = 0.7,
                  test_fraction: float = 0.2) -> dict[str, tuple[int, int]]:
    """The rows ``[begin, end)`` of each split (the forecast targets of its windows lie there)."""
    n, name = len(series.values), Path(series.path).name
    if kind == "auto":
        kind = "ett-hour" if name.startswith("ETTh") else "ett-minute" if name.startswith("ETTm") else "ratio"
    if kind in ("ett-hour", "ett-minute"):
        month = 30 * 24 * (4 if kind == "ett-minute" else 1)
        ends = [12 * month, 16 * month, 20 * month]
        if n < ends[-1]:
            raise UserError(f"{series.path} has {n} rows; data.split={kind} needs {ends[-1]} (20 months); "
                            "use data.split=ratio")
    elif kind == "ratio":
        if not (0 < train_fraction < 1 and 0 < test_fraction < 1 and train_fraction + test_fraction < 1):
            raise UserError(f"data.train_fraction and data.test_fraction must be in (0, 1) with a sum below 1, "
                            f"got {train_fraction} and {test_fraction}")
        train, test = int(n * train_fraction), int(n * test_fraction)
        ends = [train, n - test, n]
    else:
        raise UserError(f"data.split must be auto, ett-hour, ett-minute or ratio, got {kind!r}")
    return {"train": (0, ends[0]), "valid": (ends[0], ends[1]), "test": (ends[1], ends[2])}


@dataclass
class Normaliser:
    """z-scores with the mean and (population) standard deviation of the training rows."""

    mean: torch.Tensor  # (C,)
    std: torch.Tensor

    @classmethod
    def fit(cls, values: torch.Tensor) -> Normaliser:
        std = values.std(0, unbiased=False)
        return cls(values.mean(0), torch.where(std > 0, std, torch.ones_like(std)))

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.mean.to(values)) / self.std.to(values)

    def inverse(self, values: torch.Tensor, columns: list[int] | None = None) -> torch.Tensor:
        mean, std = (self.mean, self.std) if columns is None else (self.mean[columns], self.std[columns])
        return values * std.to(values) + mean.to(values)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> Normaliser:
        return cls(torch.tensor(d["mean"], dtype=torch.float64), torch.tensor(d["std"], dtype=torch.float64))


def calendar(times: list[datetime]) -> torch.Tensor:
    """(N, 4) known-ahead covariates: hour of day and day of week as points on the unit circle."""
    hour = torch.tensor([t.hour + t.minute / 60 for t in times], dtype=torch.float64) * (2 * math.pi / 24)
    day = torch.tensor([t.weekday() + t.hour / 24 for t in times], dtype=torch.float64) * (2 * math.pi / 7)
    return torch.stack([hour.sin(), hour.cos(), day.sin(), day.cos()], 1)


def seasonal_period(step: timedelta) -> int:
    """The seasonal period in rows: a day for sub-daily data, a week for daily data, else 1."""
    seconds = step.total_seconds()
    if seconds <= 0:
        return 1
    if seconds < 86_400:
        return max(1, round(86_400 / seconds))
    return 7 if seconds == 86_400 else 1


class Windows:
    """The sliding windows of one split: ``x = z[s : s+L]``, ``y = z[s+L : s+L+H]``, ``c`` the calendar of both."""

    def __init__(self, z: torch.Tensor, cal: torch.Tensor, begin: int, end: int, lookback: int, horizon: int,
                 split: str) -> None:
        self.z, self.cal, self.lookback, self.horizon = z, cal, lookback, horizon
        self.first = max(begin - lookback, 0)  # the first window's first input row
        self.count = end - self.first - lookback - horizon + 1
        if self.count < 1:
            raise UserError(f"the {split} split has {end - begin} rows: too few for data.lookback={lookback} + "
                            f"data.horizon={horizon} (it needs at least {lookback + horizon - (begin - self.first)})")

    def __len__(self) -> int:
        return self.count

    def origin(self, i: int) -> int:
        """The row where window ``i``'s forecast starts."""
        return self.first + i + self.lookback

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, L, C), y (B, H, C), calendar (B, L + H, 4) of the windows ``index``."""
        rows = self.first + index[:, None] + torch.arange(self.lookback + self.horizon)
        full = self.z[rows]
        return full[:, : self.lookback], full[:, self.lookback :], self.cal[rows]
