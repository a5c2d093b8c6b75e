"""The series users have: every kind of time index, gaps filled as asked, and forecasts that continue the index
in its own kind -- hand-made CSVs, each against the values written by hand."""
import math

import pytest
import torch

from seqlab.cli import main
from seqlab.data.timeseries import read_series
from seqlab.errors import UserError


def write(tmp_path, text: str, name: str = "s.csv"):
    path = tmp_path / name
    path.write_text(text.strip() + "\n")
    return path


def wave(n: int) -> list[float]:
    return [round(10 + 5 * math.sin(2 * math.pi * t / 4) + 0.05 * t, 4) for t in range(n)]


@pytest.mark.parametrize("cells, kind, first, after_last", [
    (["1700", "1701", "1702", "1703"], "number", "1700", "1704"),
    (["1700.0", "1701.0", "1702.0", "1703.0"], "number", "1700", "1704"),
    (["0.5", "1.0", "1.5", "2.0"], "number", "0.5", "2.5"),
    (["1959Q1", "1959Q2", "1959Q3", "1959Q4"], "period", "1959Q1", "1960Q1"),
    (["2016-11", "2016-12", "2017-01", "2017-02"], "period", "2016-11", "2017-03"),
    (["2015W52", "2015W53", "2016W01", "2016W02"], "period", "2015W52", "2016W03"),
    (["2016-07-01 00:00:00", "2016-07-01 01:00:00", "2016-07-01 02:00:00", "2016-07-01 03:00:00"], "datetime",
     "2016-07-01 00:00:00", "2016-07-01 04:00:00"),
    (["2016-11-01", "2016-12-01", "2017-01-01", "2017-02-01"], "datetime", "2016-11-01 00:00:00",
     "2017-03-01 00:00:00"),
    (["2016-11-30", "2016-12-31", "2017-01-31", "2017-02-28"], "datetime", "2016-11-30 00:00:00",
     "2017-03-31 00:00:00"),
])
def test_each_kind_of_index_is_read_and_continued(tmp_path, cells, kind, first, after_last):
    path = write(tmp_path, "t,x\n" + "\n".join(f"{c},{v}" for c, v in zip(cells, wave(4))))
    s = read_series(path, "t")
    assert s.index.kind == kind and s.index.label(0) == first and s.index.label(4) == after_last
    assert s.values[:, 0].tolist() == wave(4)
    assert s.index.find(cells[2]) == 2


def test_no_time_column_and_year_plus_quarter_columns(tmp_path):
    plain = write(tmp_path, "x,y\n1,2\n3,4\n5,6")
    for none in ("none", ""):
        s = read_series(plain, none)
        assert s.index.kind == "steps" and s.columns == ["x", "y"] and s.index.label(3) == "3"
    macro = write(tmp_path, "year,quarter,gdp\n1959.0,3.0,1\n1959.0,4.0,2\n1960.0,1.0,3", "m.csv")
    s = read_series(macro, "year,quarter")
    assert s.index.kind == "period" and s.columns == ["gdp"] and s.index.label(3) == "1960Q2"
    assert s.index.covariates == "season" and s.index.season == 4


def test_covariates_only_where_there_is_a_calendar(tmp_path):
    years = read_series(write(tmp_path, "year,x\n1700,1\n1701,2\n1702,3"), "year")
    assert years.index.covariates == "none" and years.index.features(range(5)).shape == (5, 0)
    hours = read_series(write(tmp_path, "date,x\n2020-01-01 00:00,1\n2020-01-01 06:00,2", "h.csv"))
    f = hours.index.features(range(2))
    assert hours.index.covariates == "hour_day" and f.shape == (2, 4)
    assert torch.allclose(f[1, :2], torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-12)  # 6 h: a quarter turn
    months = read_series(write(tmp_path, "m,x\n2020-01,1\n2020-04,2\n2020-07,3", "q.csv"), "m")
    assert months.index.step == 3 and months.index.season == 4  # quarterly, as months
    quarters = read_series(write(tmp_path, "q,x\n2020Q1,1\n2020Q2,2", "qq.csv"), "q")
    assert torch.allclose(quarters.index.features(range(5))[4], quarters.index.features(range(1))[0])  # a year on


@pytest.mark.parametrize("text, message", [
    ("year,x\n1700,1\n1701,2\n1703,3", r"s.csv:4: the step to '1703' differs from the series' step of 1 \(after 1701\)"),
    ("q,x\n1959Q1,1\n1959Q2,2\n1959Q4,3", r"s.csv:4: the step to '1959Q4' differs"),
    ("year,x\n1700,1\n1701,2\n1701,3", r"s.csv:4: year '1701' is not after the previous row's 1701"),
    ("year,x\n1700,1\n1959Q1,2", r"s.csv:3: year '1959Q1' is not a number like the first row's"),
    ("year,x,y\n1700,1,\n1701,2,", r"s.csv: column y has no number in any row"),
    ("year,x\nabc,1", r"s.csv:2: year 'abc' is not a date/time, a period .* data.time_column=none"),
    ("x,y\n1,2", r"no time column 'year' in the header \('x', 'y'\); set data.time_column \(none: the rows"),
])
def test_irregular_steps_and_empty_columns_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as e:
        read_series(write(tmp_path, text), "year" if not text.startswith("q") else "q")
    assert "\n" not in str(e.value)


def test_resample_puts_an_irregular_series_on_its_grid(tmp_path):
    path = write(tmp_path, "year,x\n1700,1\n1701,2\n1703,6\n1704,8")
    s = read_series(path, "year", resample="interpolate")
    assert [s.index.label(r) for r in range(5)] == ["1700", "1701", "1702", "1703", "1704"]
    assert s.values[:, 0].tolist() == [1, 2, 4, 6, 8]
    assert read_series(path, "year", resample="ffill").values[:, 0].tolist() == [1, 2, 2, 6, 8]


def test_each_missing_value_rule(tmp_path):
    path = write(tmp_path, "year,x,y\n1700,1,10\n1701,,20\n1702,3,x\n1703,7,40")
    with pytest.raises(UserError, match=r"s.csv:3: column x holds '', not a number \(data.missing=ffill"):
        read_series(path, "year")
    assert read_series(path, "year", "ffill").values.tolist() == [[1, 10], [1, 20], [3, 20], [7, 40]]
    assert read_series(path, "year", "interpolate").values.tolist() == [[1, 10], [2, 20], [3, 30], [7, 40]]
    dropped = read_series(path, "year", "drop")
    assert dropped.values.tolist() == [[1, 10], [7, 40]] and dropped.index.label(1) == "1703"
    leading = write(tmp_path, "year,x\n1700,\n1701,2\n1702,4", "l.csv")
    with pytest.raises(UserError, match="column x starts with a gap: nothing to carry forward"):
        read_series(leading, "year", "ffill")
    assert read_series(leading, "year", "interpolate").values[:, 0].tolist() == [2, 2, 4]


def test_a_run_without_a_time_column_trains_predicts_and_evaluates(tmp_path, capsys):
    rows = "\n".join(f"{a},{b}" for a, b in zip(wave(300), wave(303)[3:]))
    path = write(tmp_path, f"a,b\n{rows}")
    runs = tmp_path / "runs"
    assert main(["train", "forecast", "--data", str(path), "--runs", str(runs), "--name", "f", "--data.time_column=none",
                 "--model.kind=narx", "--data.lookback=12", "--data.horizon=4", "--model.order=4",
                 "--model.hidden_size=8", "--train.max_steps=3", "--train.progress=false"]) == 0
    import json

    assert json.loads((runs / "f" / "config.json").read_text())["data"]["covariates"] == "none"
    out = tmp_path / "f.csv"
    assert main(["predict", str(runs / "f"), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "step,a,b" and [line.split(",")[0] for line in lines[1:]] == ["300", "301", "302", "303"]
    assert main(["predict", str(runs / "f"), "--at", "100", "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1].startswith("100,")
    assert main(["evaluate", str(runs / "f"), "--split", "valid"]) == 0
    assert "valid: MSE" in capsys.readouterr().out


def test_a_yearly_run_forecasts_the_following_years(tmp_path):
    rows = "\n".join(f"{1700 + t}.0,{v}" for t, v in enumerate(wave(120)))
    path = write(tmp_path, f"YEAR,SUNACTIVITY\n{rows}")
    runs = tmp_path / "runs"
    assert main(["train", "forecast", "--data", str(path), "--runs", str(runs), "--name", "y", "--data.time_column=YEAR",
                 "--model.kind=ar", "--model.fit=least_squares", "--model.norm=none", "--model.order=4",
                 "--data.lookback=8", "--data.horizon=3", "--train.progress=false"]) == 0
    out = tmp_path / "y.csv"
    assert main(["predict", str(runs / "y"), "--out", str(out)]) == 0
    assert [line.split(",")[0] for line in out.read_text().splitlines()] == ["YEAR", "1820", "1821", "1822"]
    assert main(["predict", str(runs / "y"), "--at", "1750", "--out", str(out)]) == 0  # a year of the index
    assert out.read_text().splitlines()[1].startswith("1750,")
