"""Time series from CSV: reading, the standard splits, z-scores from the training rows, sliding windows.

The layout is that of the ETT files: a header, a time column, numeric columns::

    date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT
    2016-07-01 00:00:00,5.827,2.009,1.599,0.462,4.203,1.340,30.531

The time column may also hold years or step counts, periods (``1959Q1``, ``2016-07``), be two columns
(a year and a quarter), or be absent: :mod:`seqlab.data.timeindex`.  Gaps in the values: ``data.missing``.

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
from pathlib import Path

import torch

from seqlab.data.timeindex import NONE, TimeIndex, read_index, regular_grid
from seqlab.errors import UserError

SPLITS = ("train", "valid", "test")


MISSING = ("error", "ffill", "interpolate", "drop")  # data.missing: what an empty or non-numeric cell becomes


@dataclass
class Series:
    """A multivariate series: ``values[t, c]`` is column ``columns[c]`` at row ``t`` of ``index``."""

    path: str
    index: TimeIndex
    columns: list[str]
    values: torch.Tensor  # (N, C) float64

    def column(self, name: str) -> int:
        if name not in self.columns:
            raise UserError(f"{self.path}: no column {name!r}; columns: {', '.join(self.columns)}")
        return self.columns.index(name)


def _number(cell: str) -> float:
    value = float(cell)
    if not math.isfinite(value):
        raise ValueError(cell)
    return value


def read_series(path: str | Path, time_column: str = "date", missing: str = "error", resample: str = "") -> Series:
    """Read a CSV series (see :mod:`seqlab.data.timeindex` for the time column's kinds).

    A bad cell is an error naming its line and column unless ``missing`` says what it becomes: ``ffill``
    (the column's last value), ``interpolate`` (linear between the values around it; at the ends, the
    nearest value) or ``drop`` (the row goes, and the rows left are read as consecutive steps).  A column
    with no value at all is an error naming it, whatever ``missing`` says.
    """
    if missing not in MISSING:
        raise UserError(f"data.missing must be one of {', '.join(MISSING)}, got {missing!r}")
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
    names = [] if time_column.strip().lower() in NONE else [n.strip() for n in time_column.split(",")]
    for name in names:
        if name not in header:
            raise UserError(f"{path}: no time column {name!r} in the header ({', '.join(map(repr, header))}); "
                            "set data.time_column (none: the rows are steps 0, 1, 2, ...)")
    t_cols = [header.index(name) for name in names]
    kept = [i for i in range(len(header)) if i not in t_cols]
    if not kept:
        raise UserError(f"{path}: no value columns besides {', '.join(map(repr, names))}")
    lines, values, first_gap = [], [], None
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise UserError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        record = []
        for i in kept:
            try:
                record.append(_number(row[i]))
            except ValueError:
                first_gap = first_gap or f"{path}:{line}: column {header[i]} holds {row[i]!r}, not a number"
                record.append(math.nan)
        lines.append(line)
        values.append(record)
    if not values:
        raise UserError(f"{path} has a header but no rows")
    v = torch.tensor(values, dtype=torch.float64)
    columns = [header[i] for i in kept]
    empty = [columns[c] for c in range(len(columns)) if v[:, c].isnan().all()]
    if empty:
        raise UserError(f"{path}: column {empty[0]} has no number in any row")
    if first_gap and missing == "error":
        raise UserError(f"{first_gap} (data.missing=ffill, interpolate or drop says what a gap becomes)")
    cells = [[row[i] for row in (rows[n - 1] for n in lines)] for i in t_cols]
    keep = ~v.isnan().any(1) if missing == "drop" else torch.ones(len(v), dtype=torch.bool)
    if missing == "drop":
        v, cells = v[keep], [[c for c, k in zip(col, keep.tolist()) if k] for col in cells]
        lines = [n for n, k in zip(lines, keep.tolist()) if k]
        if not len(v):
            raise UserError(f"{path}: every row has a gap; data.missing=drop leaves nothing")
    index = read_index(cells, names, [f"{path}:{n}" for n in lines], regular=not resample and missing != "drop")
    if missing in ("ffill", "interpolate"):
        v = _fill(v, missing, columns, [f"{path}:{n}" for n in lines])
    if resample in ("interpolate", "ffill"):
        index, v = regular_grid(index, v, resample)
    return Series(str(path), index, columns, v)


def _fill(v: torch.Tensor, how: str, columns: list[str], where: list[str]) -> torch.Tensor:
    """The gaps (NaN) of each column carried forward, or linearly interpolated by row."""
    v = v.clone()
    rows = torch.arange(len(v), dtype=torch.float64)
    for c in range(v.shape[1]):
        gap = v[:, c].isnan()
        if not gap.any():
            continue
        if how == "ffill":
            if gap[0]:
                raise UserError(f"{where[0]}: column {columns[c]} starts with a gap: nothing to carry forward "
                                "(data.missing=interpolate takes the first value)")
            for r in gap.nonzero()[:, 0].tolist():
                v[r, c] = v[r - 1, c]
        else:
            known = (~gap).nonzero()[:, 0]
            right = torch.searchsorted(known, rows[gap].long()).clamp(max=len(known) - 1)
            left = (right - 1).clamp(min=0)
            a, b = known[left], known[right]
            t = rows[gap]
            w = torch.where(b > a, (t - a.double()) / (b - a).clamp(min=1).double(), torch.zeros_like(t))
            w = torch.where(t < a.double(), torch.zeros_like(w), w)  # before the first value: the first value
            w = torch.where(t > b.double(), torch.ones_like(w), w)  # after the last: the last
            v[gap, c] = v[a, c] * (1 - w) + v[b, c] * w
    return v


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
