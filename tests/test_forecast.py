"""Forecasting: data splits and windows as the reference loaders make them, no look-ahead, AR == statsmodels,
NARX open vs closed loop, every model family against repeat-last on a generated series, the CLI and bad input."""
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from conftest import series_values, write_csv

from seqlab.cli import main
from seqlab.data.timeseries import read_series, split_borders
from seqlab.models.forecast import KINDS, ForecastModelConfig, build
from seqlab.models.forecast.ar import AR
from seqlab.models.forecast.narx import NARX
from seqlab.tasks import forecast

ETTH1 = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries" / "ETTh1.csv"


@pytest.fixture
def csv_file(tmp_path):
    return write_csv(tmp_path / "series.csv", series_values(1200))


def small(kind: str, path: Path, lookback: int = 48, horizon: int = 24) -> forecast.ForecastConfig:
    cfg = forecast.ForecastConfig()
    cfg.data.path, cfg.data.lookback, cfg.data.horizon = str(path), lookback, horizon
    m = cfg.model
    m.kind, m.hidden_size, m.segment, m.order, m.exo_lags, m.dilations = kind, 32, 12, 24, 4, "1,2"
    if kind == "ar":
        m.fit, m.norm = "least_squares", "none"
    cfg.optim.lr, cfg.train.batch_size, cfg.train.epochs, cfg.train.progress = 3e-3, 32, 6, False
    cfg.train.device = "cpu"
    return cfg


# ------------------------------------------------------------------ data
def test_ett_split_sizes_and_window_counts_equal_the_reference_loaders(tmp_path):
    """Informer/DLinear Dataset_ETT_hour: borders 8640/2880/2880; len = rows - L - H + 1 with val/test
    starting L rows early; our windows are the same, and the first valid/test inputs start L rows before."""
    path = write_csv(tmp_path / "ETTh9.csv", series_values(17_420, 2))
    cfg = forecast.ForecastDataConfig(path=str(path), lookback=336, horizon=96)
    prep = forecast.prepare(cfg)
    borders = split_borders(prep.series)
    assert borders == {"train": (0, 8640), "valid": (8640, 11520), "test": (11520, 14400)}
    L, H = 336, 96
    reference = {"train": (0, 8640), "valid": (8640 - L, 11520), "test": (11520 - L, 14400)}  # border1s, border2s
    for split, (b1, b2) in reference.items():
        w = prep.windows(cfg, split)
        assert len(w) == (b2 - b1) - L - H + 1
        assert w.first == b1 and w.origin(0) == b1 + L
    assert len(prep.windows(cfg, "test")) == 2880 - H + 1
    minute = write_csv(tmp_path / "ETTm9.csv", series_values(4 * 14_400, 1), step=timedelta(minutes=15))
    assert split_borders(read_series(minute))["test"] == (4 * 11520, 4 * 14400)
    other = write_csv(tmp_path / "other.csv", series_values(1000, 1))
    assert split_borders(read_series(other)) == {"train": (0, 700), "valid": (700, 800), "test": (800, 1000)}


@pytest.mark.skipif(not ETTH1.is_file(), reason="needs ../shared/data/timeseries/ETTh1.csv (the shared datasets)")
def test_etth1_splits_and_test_windows():
    cfg = forecast.ForecastDataConfig(path=str(ETTH1), lookback=96, horizon=96)
    prep = forecast.prepare(cfg)
    assert len(prep.series.values) == 17_420 and prep.series.columns[-1] == "OT"
    assert [len(prep.windows(cfg, s)) for s in ("train", "valid", "test")] == [8640 - 191, 2785, 2785]


def test_normaliser_uses_training_rows_only(tmp_path):
    values = series_values(1000)
    a = forecast.prepare(forecast.ForecastDataConfig(path=str(write_csv(tmp_path / "a.csv", values))))
    changed = values.clone()
    changed[700:] += 100.0  # valid and test rows
    b = forecast.prepare(forecast.ForecastDataConfig(path=str(write_csv(tmp_path / "b.csv", changed))))
    assert torch.allclose(a.normaliser.mean, b.normaliser.mean) and torch.allclose(a.normaliser.std, b.normaliser.std)
    assert torch.allclose(a.normaliser.mean, values[:700].mean(0), atol=1e-6)
    assert torch.allclose(a.normaliser.std, values[:700].std(0, unbiased=False), atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_no_look_ahead(kind, tmp_path):
    """Changing every value from a window's end on leaves that window's forecast unchanged (untrained models)."""
    values = series_values(1000)
    cfg = small(kind, tmp_path / "a.csv")
    prep_a = forecast.prepare(cfg.data, str(write_csv(tmp_path / "a.csv", values)))
    torch.manual_seed(0)
    model = build(cfg.model, 3, 48, 24, [0, 1, 2], 24).eval()
    if kind == "ar":
        model.core.w.data.normal_(0, 0.1)
    windows_a = prep_a.windows(cfg.data, "test")
    i = 10
    origin = windows_a.origin(i)
    changed = values.clone()
    changed[origin:] = torch.randn_like(changed[origin:]) * 50
    prep_b = forecast.prepare(cfg.data, str(write_csv(tmp_path / "b.csv", changed)))
    windows_b = prep_b.windows(cfg.data, "test")
    with torch.no_grad():
        xa, ya, ca = windows_a.batch(torch.tensor([i]))
        xb, yb, cb = windows_b.batch(torch.tensor([i]))
        assert not torch.equal(ya, yb)
        assert torch.equal(model(xa, ca), model(xb, cb))


# ------------------------------------------------------------------ models
def test_ar_equals_statsmodels_autoreg():
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.tsa.ar_model import AutoReg

    y = torch.tensor(sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(), dtype=torch.float64)
    for p in (1, 3, 9):
        ref = AutoReg(y.numpy(), lags=p, trend="c").fit()
        model = AR(p, 1, horizon=20).double()
        model.fit_least_squares([y[:, None]])
        ours = torch.cat([model.w0.detach(), model.w.detach()[0]])
        assert torch.allclose(ours, torch.from_numpy(ref.params), atol=1e-6, rtol=0)
        with torch.no_grad():
            forecast_ours = model(y[None, :, None])[0, :, 0]
        forecast_ref = torch.from_numpy(ref.predict(start=len(y), end=len(y) + 19))
        assert torch.allclose(forecast_ours, forecast_ref, atol=1e-6, rtol=0)


def test_narx_open_loop_uses_the_truth_and_closed_loop_does_not():
    torch.manual_seed(0)
    narx = NARX(channels=2, horizon=6, y_lags=3, u_lags=2, covariates=4, hidden=8)
    x, y, cal = torch.randn(4, 10, 2), torch.randn(4, 6, 2), torch.randn(4, 16, 4)
    closed = narx(x, cal)
    open_a, s = narx.teacher_forced(x, y, cal)
    y2 = y.clone()
    y2[:, 1:] += 5.0  # the truth after the first forecast step
    open_b, _ = narx.teacher_forced(x, y2, cal)
    assert s == 3 and open_a.shape == (4, 16 - 3, 2)
    first = 10 - s  # the open-loop prediction of the first horizon step uses only window values...
    assert torch.allclose(open_a[:, first], closed[:, 0])  # ...so it equals the closed loop's first step
    assert not torch.allclose(open_a[:, first + 2 :], open_b[:, first + 2 :])  # later steps read the truth
    assert torch.equal(narx(x, cal), closed)  # the forecast has no way to read y at all
    # and the closed loop feeds back its own predictions: step 2 == f(own step 1)
    lags = torch.cat([x[:, -2:], closed[:, :1]], 1)  # y_10, y_9 true, y_11 its own; u_10 .. u_11 (the notes' x_t included)
    assert torch.allclose(narx.f(narx._inputs(lags, cal[:, 10:12])), closed[:, 1], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("independent", [True, False])
def test_shapes_and_ms_output(kind, independent):
    cfg = ForecastModelConfig(kind=kind, hidden_size=16, segment=12, order=6, exo_lags=3, dilations="1,2",
                              channel_independent=independent, norm="none" if kind == "ar" else "revin")
    x, y, cal = torch.randn(5, 48, 4), torch.randn(5, 24, 4), torch.randn(5, 72, 4)
    for outputs in ([0, 1, 2, 3], [3]):
        model = build(cfg, 4, 48, 24, outputs, 24)
        assert model(x, cal).shape == (5, 24, len(outputs))
        if any(p.requires_grad for p in model.parameters()):
            model.loss(x, y, cal).backward()


def test_segrnn_and_seq2seq_variants_run():
    x, y = torch.randn(3, 48, 2), torch.randn(3, 24, 2)
    for cell in ("lstm", "rnn_tanh"):
        m = build(ForecastModelConfig(kind="segrnn", cell=cell, hidden_size=8, segment=16), 2, 48, 24, [0, 1])
        assert m(x).shape == (3, 24, 2)
    torch.manual_seed(0)
    m = build(ForecastModelConfig(kind="rnn_seq2seq", hidden_size=8, teacher_forcing=0.5), 2, 48, 24, [0, 1])
    m.loss(x, y, None).backward()


def test_revin_round_trip():
    from seqlab.models.forecast.revin import WindowNorm

    x = torch.randn(4, 30, 3) * 5 + 2
    for kind in ("revin", "last", "none"):
        norm = WindowNorm(kind, 3, affine=True)
        stats = norm.statistics(x)
        assert torch.allclose(norm.denormalise(norm.normalise(x, stats), stats), x, atol=1e-4)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "repeat_last"])
def test_every_family_beats_repeat_last_on_a_generated_series(kind, csv_file, tmp_path):
    base = forecast.TASK.train(small("repeat_last", csv_file), tmp_path / "last")
    result = forecast.TASK.train(small(kind, csv_file), tmp_path / kind)
    assert result["mse"] < 0.5 * base["mse"], (kind, result["mse"], base["mse"])
    run = forecast.TASK.load(tmp_path / kind, "cpu")
    test = forecast.evaluate_split(run, None, "test")
    assert test["windows"] == 240 - 24 + 1 and test["mse"] < 0.5 * base["mse"]


def test_ar_trained_by_gradient_descent_approaches_least_squares(csv_file, tmp_path):
    ls = forecast.TASK.train(small("ar", csv_file), tmp_path / "ls")
    cfg = small("ar", csv_file)
    cfg.model.fit, cfg.model.norm, cfg.train.epochs, cfg.optim.lr = "gradient", "none", 15, 1e-2
    sgd = forecast.TASK.train(cfg, tmp_path / "sgd")
    assert sgd["mse"] < 1.5 * ls["mse"]


# ------------------------------------------------------------------ CLI and bad input
def test_cli_train_predict_evaluate(csv_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "forecast", "--data", str(csv_file), "--runs", str(runs), "--name", "f",
                 "--model.kind=dlinear", "--data.lookback=48", "--data.horizon=24", "--train.epochs=2",
                 "--train.progress=false", "--data.mode=MS"]) == 0
    capsys.readouterr()
    out_csv = tmp_path / "fc.csv"
    assert main(["predict", str(runs / "f"), "--at", "1000", "--out", str(out_csv)]) == 0
    printed = capsys.readouterr()
    lines = printed.out.strip().splitlines()
    assert lines[0] == "date,OT" and len(lines) == 25
    assert lines[1].startswith("2020-02-11 16:00:00")  # row 1000 of an hourly series from 2020-01-01
    assert out_csv.read_text().strip().splitlines() == lines and out_csv.with_suffix(".png").is_file()
    assert "MSE" in printed.err
    assert main(["predict", str(runs / "f"), "--out", str(out_csv)]) == 0  # past the end of the file
    assert capsys.readouterr().out.splitlines()[1].startswith("2020-02-20 00:00:00")
    assert main(["evaluate", str(runs / "f"), "--split", "valid"]) == 0
    assert "valid: MSE" in capsys.readouterr().out
    assert "reads no --input" in _cli_error(["predict", str(runs / "f"), "--input", str(csv_file)], capsys)
    assert "--at 10" in _cli_error(["predict", str(runs / "f"), "--at", "10"], capsys)  # before lookback rows
    assert "--split" in _cli_error(["evaluate", str(runs / "f"), "--split", "dev"], capsys)
    other = tmp_path / "other.csv"
    other.write_text(csv_file.read_text().replace("date,c0,c1,OT", "date,a,b,OT", 1))
    assert "trained on c0, c1, OT" in _cli_error(["evaluate", str(runs / "f"), "--data", str(other)], capsys)


def _cli_error(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab: error:") and "\n" not in err
    return err


def test_bad_input(tmp_path, capsys):
    good = write_csv(tmp_path / "good.csv", series_values(300))
    train = ["train", "forecast", "--runs", str(tmp_path / "runs"), "--train.progress=false", "--data"]
    assert "no column 'nope'" in _cli_error(train + [str(good), "--data.target=nope", "--data.mode=S"], capsys)
    rows = good.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(rows[:10] + [rows[10].replace(rows[10].split(",")[2], "n/a", 1)] + rows[11:]) + "\n")
    err = _cli_error(train + [str(bad)], capsys)
    assert "bad.csv:11" in err and "column c1" in err and "'n/a'" in err
    assert main(train + [str(bad), "--data.fill=true", "--name", "filled", "--model.kind=repeat_last",
                         "--data.lookback=24", "--data.horizon=12"]) == 0
    capsys.readouterr()
    short = write_csv(tmp_path / "short.csv", series_values(100))
    assert "too few" in _cli_error(train + [str(short), "--data.lookback=96", "--data.horizon=96"], capsys)
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("\n".join(rows[:5] + [rows[6], rows[5]] + rows[7:]) + "\n")
    assert "swapped.csv:7" in _cli_error(train + [str(swapped)], capsys)
    assert "no time column" in _cli_error(train + [str(tmp_path / "bad.csv"), "--data.time_column=when"], capsys)
    assert "data.mode" in _cli_error(train + [str(good), "--data.mode=X"], capsys)
    assert "model.kind" in _cli_error(train + [str(good), "--model.kind=prophet"], capsys)
    assert "segment must divide" in _cli_error(train + [str(good), "--model.segment=7"], capsys)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in _cli_error(train + [str(empty)], capsys)


def test_resume_continues_from_the_checkpoint(csv_file, tmp_path):
    cfg = small("tdnn", csv_file)
    cfg.train.epochs, cfg.optim.schedule = 1, "constant"  # the schedule must not depend on the total steps
    first = forecast.TASK.train(cfg, tmp_path / "r")
    cfg.train.epochs = 2
    second = forecast.TASK.train(cfg, tmp_path / "r", resume=True)
    assert second["steps"] == 2 * first["steps"]
    straight = small("tdnn", csv_file)
    straight.train.epochs, straight.optim.schedule = 2, "constant"
    assert forecast.TASK.train(straight, tmp_path / "s")["mse"] == pytest.approx(second["mse"], rel=1e-5)
