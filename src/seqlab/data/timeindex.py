"""The time index of a series: what each row's position is, in the kind the file writes it.

Kinds (``data.time_column`` names the column, or two, or none):

* ``datetime`` -- ISO dates and times (``2016-07-01 00:00:00``, ``2016-07-01``): a fixed step (an hour, a
  day, a week), or whole calendar months (monthly, quarterly, yearly dates);
* ``period`` -- ``1959Q1`` (quarters), ``2016-07`` (months), ``2016W05`` (ISO weeks), or a year column and a
  quarter / month / week column (``--data.time_column=year,quarter``);
* ``number`` -- years or step counts, integers or ``1700.0``: the step is the data's own;
* ``steps`` -- no time column (``data.time_column=none`` or empty): rows 0, 1, 2, ...

Every kind is regular: the step between rows is the same everywhere (for months, the same number of
months), or it is an error naming the first row where it is not -- unless ``data.resample`` regularises it
(:func:`regular_grid`).  A forecast continues the index in its own kind (``1989, 1990``, ``2009Q4, 2010Q1``).

Covariates known ahead (:meth:`TimeIndex.features`) exist only where there is a calendar: hour of day and day
of week for date/times a day or less apart, the phase in the year for weekly and monthly dates, quarters,
months and weeks; numbers and plain steps have
none, and the models that read covariates then read none (the run's config says which).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import torch

from seqlab.errors import UserError

NONE = ("", "none")  # data.time_column values that mean: no time column
PER_YEAR = {"Q": 4, "M": 12, "W": 52}  # period kinds: periods in a year (ISO weeks: 52, sometimes 53)
_PERIOD = [("Q", re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)), ("W", re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)),
           ("M", re.compile(r"^(\d{4})-(\d{2})$"))]


@dataclass
class TimeIndex:
    """The label of every row: ``positions`` (float64, one unit = one step of the kind) and how to write them.

    ``kind`` is datetime | period | number | steps; ``freq`` is, for datetime, "" (a fixed ``step``), "M" or
    "ME" (``step`` whole months, dated on their first or last day), for period Q | M | W; ``step`` is in the kind's own unit (seconds for a fixed
    date/time step, months, periods, the number's unit, rows).  ``origin`` is the first row's position.
    """

    kind: str
    freq: str
    positions: torch.Tensor  # (N,) float64
    step: float
    name: str  # the header of the time column(s), for the forecast CSV

    def __len__(self) -> int:
        return len(self.positions)

    def position(self, row: int) -> float:
        """The position of ``row``; rows past the end continue the index at its step."""
        n = len(self.positions)
        return float(self.positions[row]) if row < n else float(self.positions[-1]) + (row - n + 1) * self.step

    def label(self, row: int) -> str:
        """Row ``row`` written in the kind of the file (past the end too)."""
        return _write(self.kind, self.freq, self.position(row))

    def value(self, row: int):
        """Row ``row`` as a plot's x value: a datetime for calendar kinds, else a number."""
        p = self.position(row)
        if self.kind == "datetime":
            return _datetime(self.freq, p)
        if self.kind == "period":
            return _datetime("W" if self.freq == "W" else "M", p * (3 if self.freq == "Q" else 1))
        return p

    def find(self, text: str) -> int | None:
        """The row labelled ``text`` (written in the index's own kind), or None."""
        try:
            p = _read(self.kind, self.freq, text.strip())
        except ValueError:
            return None
        hits = (self.positions - p).abs() <= 1e-9 * max(1.0, abs(p))
        return int(hits.nonzero()[0, 0]) if hits.any() else None

    @property
    def season(self) -> int:
        """The seasonal period in rows: a day for sub-daily data, a week for daily, a year for periods and
        monthly dates; 1 where there is no calendar."""
        if self.kind == "period" or self.kind == "datetime" and self.freq:  # periods, or months
            per_year = PER_YEAR[self.freq] if self.kind == "period" else 12
            return max(1, round(per_year / self.step)) if per_year % self.step == 0 else 1
        if self.kind != "datetime":
            return 1
        if self.step < 86_400:
            return max(1, round(86_400 / self.step))
        if self.step < 7 * 86_400:
            return 7 if self.step == 86_400 else 1
        return max(1, round(365.25 * 86_400 / self.step))  # weekly: 52

    @property
    def covariates(self) -> str:
        """What :meth:`features` gives: hour_day (date/times), season (quarters, months, weeks) or none."""
        if self.kind == "datetime" and self.freq == "" and self.step < 7 * 86_400:
            return "hour_day"
        if self.kind == "period" or (self.kind == "datetime" and self.season > 1):
            return "season"
        return "none"

    def features(self, rows: range) -> torch.Tensor:
        """(len(rows), F) covariates known ahead of the rows (past the end too); F = 4, 2 or 0."""
        p = torch.tensor([self.position(r) for r in rows], dtype=torch.float64)
        if self.covariates == "hour_day":
            times = [_datetime("", float(x)) for x in p]
            hour = torch.tensor([t.hour + t.minute / 60 for t in times], dtype=torch.float64) * (2 * math.pi / 24)
            day = torch.tensor([t.weekday() + t.hour / 24 for t in times], dtype=torch.float64) * (2 * math.pi / 7)
            return torch.stack([hour.sin(), hour.cos(), day.sin(), day.cos()], 1)
        if self.covariates == "season":
            if self.kind == "datetime" and self.freq == "" or self.freq == "W":  # weekly: the day of the year
                phase = torch.tensor([_datetime(self.freq, float(x)).timetuple().tm_yday / 365.25 for x in p])
            else:  # quarters and months
                per_year = 4 if self.freq == "Q" else 12
                phase = (p % per_year) / per_year
            angle = phase.double() * 2 * math.pi
            return torch.stack([angle.sin(), angle.cos()], 1)
        return torch.zeros(len(p), 0, dtype=torch.float64)


def read_index(cells: list[list[str]], names: list[str], where: list[str], regular: bool = True) -> TimeIndex:
    """The index of rows whose time cells are ``cells[k][row]`` (one list per column in ``names``).

    ``where[row]`` names a row in errors (``path:line``).  A cell of another kind than the first row's, a
    row not after the previous one, and (``regular``) a step that differs from the rest are UserErrors
    naming the row.
    """
    n = len(where)
    if not names:
        return TimeIndex("steps", "", torch.arange(n, dtype=torch.float64), 1.0, "step")
    kind, freq = _kind(names, [c[0] for c in cells], where[0])
    positions = []
    for r in range(n):
        text = "-".join(c[r].strip() for c in cells) if len(names) == 1 else _joined(names, [c[r] for c in cells],
                                                                                       freq, where[r])
        try:
            positions.append(_read(kind, freq, text))
        except ValueError:
            raise UserError(f"{where[r]}: {'+'.join(names)} {text!r} is not {_KIND_WORDS[kind, freq]} like the "
                            f"first row's") from None
    p = torch.tensor(positions, dtype=torch.float64)
    step = _step(p)
    for r in range(1, n):
        if p[r] <= p[r - 1]:
            raise UserError(f"{where[r]}: {'+'.join(names)} {_write(kind, freq, float(p[r]))!r} is not after the "
                            f"previous row's {_write(kind, freq, float(p[r - 1]))} (the series must be in time order, "
                            "without repeats)")
    if kind == "datetime" and step >= 28 * 86_400:  # month starts or ends: calendar months, not days
        times = [_datetime("", float(x)) for x in p]
        if all(t.time() == datetime.min.time() and t.day == 1 for t in times):
            freq = "M"
        elif all(t.time() == datetime.min.time() and (t + timedelta(days=1)).day == 1 for t in times):
            freq = "ME"
        if freq:
            p = torch.tensor([_months(t) for t in times], dtype=torch.float64)
            step = _step(p)
    if regular:
        gaps = p[1:] - p[:-1]
        off = ((gaps - step).abs() > 1e-9 * max(1.0, abs(step))).nonzero()
        if len(off):
            r = int(off[0, 0]) + 1
            raise UserError(f"{where[r]}: the step to {_write(kind, freq, float(p[r]))!r} differs from the series' "
                            f"step of {_write_step(kind, freq, step)} (after {_write(kind, freq, float(p[r - 1]))}); "
                            "data.resample=interpolate or ffill puts the series on a regular grid")
    return TimeIndex(kind, freq, p, step, "+".join(names) if len(names) > 1 else names[0])


def regular_grid(index: TimeIndex, values: torch.Tensor, how: str) -> tuple[TimeIndex, torch.Tensor]:
    """The series at every step from its first row to its last: ``interpolate`` linearly between the rows
    around each point, or ``ffill`` (the last row at or before it)."""
    p = index.positions
    k = torch.arange(round((float(p[-1]) - float(p[0])) / index.step) + 1, dtype=torch.float64)
    grid = float(p[0]) + k * index.step
    right = torch.searchsorted(p, grid).clamp(max=len(p) - 1)
    exact = (p[right] - grid).abs() <= 1e-9 * max(1.0, abs(index.step))
    left = torch.where(exact, right, (right - 1).clamp(min=0))
    if how == "ffill":
        out = values[left]
    else:
        span = (p[right] - p[left]).clamp(min=1e-300)
        w = torch.where(exact | (right == left), torch.zeros_like(grid), (grid - p[left]) / span)[:, None]
        out = values[left] * (1 - w) + values[right] * w
    return TimeIndex(index.kind, index.freq, grid, index.step, index.name), out


# ------------------------------------------------------------------------ kinds, reading and writing
_KIND_WORDS = {("datetime", ""): "a date/time", ("datetime", "M"): "a date/time", ("datetime", "ME"): "a date/time",
               ("number", ""): "a number",
               ("period", "Q"): "a quarter (1959Q1)", ("period", "M"): "a month (2016-07)",
               ("period", "W"): "an ISO week (2016W05)"}


def _kind(names: list[str], first: list[str], where: str) -> tuple[str, str]:
    if len(names) == 2:
        sub = names[1].lower()
        for freq, words in (("Q", ("quarter", "qtr")), ("M", ("month", "mon")), ("W", ("week", "wk"))):
            if any(w in sub for w in words):
                return "period", freq
        raise UserError(f"data.time_column={','.join(names)}: the second column must be a quarter, month or week "
                        f"column (its name says which: quarter, month, week), got {names[1]!r}")
    if len(names) > 2:
        raise UserError(f"data.time_column names at most two columns (a year and a quarter / month / week), "
                        f"got {','.join(names)}")
    text = first[0].strip()
    for freq, pattern in _PERIOD:
        if pattern.match(text):
            return "period", freq
    try:
        if math.isfinite(float(text)):
            return "number", ""
    except ValueError:
        pass
    try:
        datetime.fromisoformat(text)
        return "datetime", ""
    except ValueError:
        raise UserError(f"{where}: {names[0]} {text!r} is not a date/time, a period (1959Q1, 2016-07, 2016W05) or "
                        "a number (1700, 1700.0); data.time_column=none reads the rows as steps 0, 1, 2, ...") from None


def _joined(names: list[str], cells: list[str], freq: str, where: str) -> str:
    """A year column and a sub-period column as one period string (1959, 1.0 -> 1959Q1)."""
    try:
        year, sub = (float(c) for c in cells)
        if year != int(year) or sub != int(sub):
            raise ValueError
    except ValueError:
        raise UserError(f"{where}: {names[0]},{names[1]} {cells[0]!r},{cells[1]!r} are not a whole year and "
                        f"{_KIND_WORDS['period', freq].split(' (')[0]} number") from None
    return f"{int(year)}Q{int(sub)}" if freq == "Q" else f"{int(year)}W{int(sub):02d}" if freq == "W" \
        else f"{int(year)}-{int(sub):02d}"


def _read(kind: str, freq: str, text: str) -> float:
    if kind == "number":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    if kind == "datetime":
        t = datetime.fromisoformat(text)
        return float(_months(t)) if freq in ("M", "ME") else _seconds(t)
    match = dict(_PERIOD)[freq].match(text)
    if not match:
        raise ValueError(text)
    year, sub = int(match.group(1)), int(match.group(2))
    if freq == "Q":
        return float(year * 4 + sub - 1)
    if freq == "M":
        if not 1 <= sub <= 12:
            raise ValueError(text)
        return float(year * 12 + sub - 1)
    return float(date.fromisocalendar(year, sub, 1).toordinal() // 7)


def _write(kind: str, freq: str, p: float) -> str:
    if kind == "steps":
        return str(round(p))
    if kind == "number":
        return str(round(p)) if abs(p - round(p)) < 1e-9 else f"{p:.10g}"
    if kind == "datetime":
        return _datetime(freq, p).isoformat(sep=" ")
    q = round(p)
    if freq == "Q":
        return f"{q // 4}Q{q % 4 + 1}"
    if freq == "M":
        return f"{q // 12}-{q % 12 + 1:02d}"
    year, week, _ = date.fromordinal(q * 7 + 1).isocalendar()
    return f"{year}W{week:02d}"


def _write_step(kind: str, freq: str, step: float) -> str:
    if kind == "datetime" and freq == "":
        return str(timedelta(seconds=step))
    unit = {"M": "month", "Q": "quarter", "W": "week"}.get(freq, "")
    return f"{step:g} {unit}{'s' if step != 1 else ''}".strip() if unit else f"{step:g}"


_EPOCH = datetime(1, 1, 1)


def _seconds(t: datetime) -> float:
    return (t.replace(tzinfo=None) - _EPOCH).total_seconds()


def _months(t: datetime) -> int:
    return t.year * 12 + t.month - 1


def _datetime(freq: str, p: float) -> datetime:
    if freq in ("M", "ME"):  # a month's first day, or its last
        m = round(p) + (freq == "ME")
        first = datetime(m // 12, m % 12 + 1, 1)
        return first - timedelta(days=1) if freq == "ME" else first
    if freq == "W":
        return datetime.fromordinal(round(p) * 7 + 1)
    return _EPOCH + timedelta(seconds=p)


def _step(p: torch.Tensor) -> float:
    """The series' step: the most common gap between rows, the smallest of equally common ones (1 for a single
    row)."""
    gaps = (p[1:] - p[:-1])[:50_000]
    if not len(gaps):
        return 1.0
    values, counts = gaps.unique(return_counts=True)  # sorted: the first of the most common is the smallest
    return float(values[int(counts.argmax())])
