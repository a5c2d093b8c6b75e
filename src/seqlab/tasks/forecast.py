"""Time-series forecasting, top to bottom: CSV series -> windows -> forecaster -> MSE / MAE -> forecast CSV + plot.

    seqlab train forecast --data ETTh1.csv [--preset ett-segrnn] [--data.horizon=192] [--data.mode=MS]
    seqlab predict RUN_DIR [--data CSV] [--at ROW|DATE]     the forecast as CSV (stdout and a file) and a PNG
    seqlab evaluate RUN_DIR [--data CSV] [--split test]     MSE / MAE, standardised and on the original scale

Modes, as in the ETT literature: ``M`` every column forecasts every column, ``MS`` every
column forecasts the target, ``S`` the target alone forecasts itself.  Values are
z-scored with the training rows' statistics (the run keeps them in ``normaliser.json``);
errors are reported on that standardised scale, as the literature does, and on the
original one.  The model is chosen on the validation MSE.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seqlab.data.batching import epoch_generator, epochs
from seqlab.data.files import read_json
from seqlab.data.timeseries import (
    SPLITS,
    Normaliser,
    Series,
    Windows,
    read_series,
    split_borders,
)
from seqlab.errors import UserError
from seqlab.fields import Fraction, Size
from seqlab.models.forecast import Forecaster, ForecastModelConfig, build
from seqlab.models.forecast.ar import aic_order
from seqlab.tasks.panel import Panel, number_box, png
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import chunks
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, TrainingTask

MODES = ("M", "MS", "S")


@dataclass
class ForecastDataConfig:
    path: str = ""  # CSV: a time column (or none) and numeric columns
    target: str = ""  # the column to forecast in modes MS and S (default: the last column)
    mode: Literal["M", "MS", "S"] = "M"  # M: all -> all | MS: all -> target | S: target -> target
    time_column: str = "date"  # date/times, periods (1959Q1, 2016-07), numbers (years); "year,quarter": two
    # columns; none (or empty): the rows are steps 0, 1, 2, ...
    split: Literal["auto", "ett-hour", "ett-minute", "ratio"] = "auto"
    train_fraction: Fraction = 0.7  # ratio split
    test_fraction: Fraction = 0.2  # ratio split: the last part for testing
    lookback: Size = 96  # L: rows of input
    horizon: Size = 96  # H: rows to forecast
    missing: Literal["error", "ffill", "interpolate", "drop"] = "error"  # what an empty or non-numeric cell
    # becomes: an error naming it, the last value, a line between its neighbours, or its row dropped
    fill: bool = False  # the old name of data.missing=ffill
    resample: Literal["none", "interpolate", "ffill"] = "none"  # irregular steps: an error, or the series put on
    # a regular grid at its step
    covariates: Literal["auto", "hour_day", "season", "none"] = "auto"  # known-ahead inputs (NARX): auto is
    # what the index has (hour_day: date/times; season: the phase in the year of weeks, months, quarters; none:
    # numbers and plain steps), and the run's config.json records which


@dataclass
class ForecastConfig:
    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class Prepared:
    """A series made ready for a model: standardised inputs, the calendar, and which columns are which."""

    series: Series
    normaliser: Normaliser
    inputs: list[int]  # columns the model reads
    outputs: list[int]  # positions among ``inputs`` that it forecasts
    z: torch.Tensor  # (N, len(inputs)) float64, standardised (the windows cast it to the model's dtype)
    cal: torch.Tensor  # (N, 4) float32

    def windows(self, cfg: ForecastDataConfig, split: str, dtype: torch.dtype = torch.float32) -> Windows:
        begin, end = split_borders(self.series, cfg.split, cfg.train_fraction, cfg.test_fraction)[split]
        return Windows(self.z.to(dtype), self.cal, begin, end, cfg.lookback, cfg.horizon, split)

    @property
    def output_columns(self) -> list[str]:
        return [self.series.columns[self.inputs[k]] for k in self.outputs]


def _columns(cfg: ForecastDataConfig, series: Series) -> tuple[list[int], list[int]]:
    if cfg.mode not in MODES:
        raise UserError(f"data.mode must be one of {list(MODES)}, got {cfg.mode!r}")
    target = series.column(cfg.target) if cfg.target else len(series.columns) - 1
    if cfg.mode == "S":
        return [target], [0]
    everything = list(range(len(series.columns)))
    return everything, (everything if cfg.mode == "M" else [target])


def prepare(cfg: ForecastDataConfig, path: str | None = None, normaliser: Normaliser | None = None) -> Prepared:
    """Read ``path`` (default ``cfg.path``); z-score it with ``normaliser`` or the training rows' statistics."""
    path = path or cfg.path
    if not path:
        raise UserError("forecast needs a CSV series: --data FILE")
    if cfg.lookback < 1 or cfg.horizon < 1:
        raise UserError(f"data.lookback and data.horizon must be positive, got {cfg.lookback} and {cfg.horizon}")
    missing = "ffill" if cfg.fill and cfg.missing == "error" else cfg.missing
    series = read_series(path, cfg.time_column, missing, "" if cfg.resample == "none" else cfg.resample)
    inputs, outputs = _columns(cfg, series)
    if normaliser is None:
        begin, end = split_borders(series, cfg.split, cfg.train_fraction, cfg.test_fraction)["train"]
        normaliser = Normaliser.fit(series.values[begin:end])
    elif len(normaliser.mean) != len(series.columns):
        raise UserError(f"{path} has {len(series.columns)} value columns; the run was trained on "
                        f"{len(normaliser.mean)}")
    z = normaliser(series.values)[:, inputs]
    return Prepared(series, normaliser, inputs, outputs, z, covariates(cfg, series, range(len(series.values))))


def covariates(cfg: ForecastDataConfig, series: Series, rows: range) -> torch.Tensor:
    """(len(rows), F) float32 known-ahead inputs of ``rows``: those of ``data.covariates`` (``auto``: what the
    index has); asking for ones the index lacks is an error."""
    has = series.index.covariates
    if cfg.covariates not in ("auto", "none", has):
        raise UserError(f"data.covariates={cfg.covariates}: the {series.index.kind} index of {series.path} has "
                        f"{'no covariates' if has == 'none' else has} (data.covariates=auto takes what it has)")
    if cfg.covariates == "none":
        return torch.zeros(len(rows), 0)
    return series.index.features(rows).float()


def _model(cfg: ForecastConfig, prep: Prepared) -> Forecaster:
    """The forecaster; least-squares AR in float64, so that it is statsmodels' AutoReg to the last digits."""
    model = build(cfg.model, len(prep.inputs), cfg.data.lookback, cfg.data.horizon, prep.outputs,
                  prep.series.index.season, prep.cal.shape[1])
    return model.double() if cfg.model.kind == "ar" and cfg.model.fit == "least_squares" else model


def dtype_of(model: Forecaster) -> torch.dtype:
    """The dtype the model computes in (float32 for a parameter-free baseline)."""
    return next(model.parameters(), torch.zeros(())).dtype


@torch.no_grad()
def scores(model: Forecaster, windows: Windows, prep: Prepared, device) -> dict:
    """MSE and MAE over every window, standardised and on the original scale."""
    model.eval()
    columns = [prep.inputs[k] for k in prep.outputs]
    sums = torch.zeros(4, dtype=torch.float64)
    for rows in chunks(torch.arange(len(windows))):
        x, y, cal = (t.to(device) for t in windows.batch(rows))
        forecast, truth = model(x, cal).double().cpu(), y[..., model.outputs].double().cpu()
        e = forecast - truth
        e_orig = prep.normaliser.inverse(forecast, columns) - prep.normaliser.inverse(truth, columns)
        sums += torch.stack([e.pow(2).sum(), e.abs().sum(), e_orig.pow(2).sum(), e_orig.abs().sum()])
    n = len(windows) * windows.horizon * len(columns)
    mse, mae, mse_orig, mae_orig = (sums / n).tolist()
    return {"mse": mse, "mae": mae, "mse_original": mse_orig, "mae_original": mae_orig, "windows": len(windows)}


class ForecastTask(TrainingTask):
    """The trainer's view of forecasting (see :mod:`seqlab.train.trainer`)."""

    metric = "mse"

    def __init__(self, model: Forecaster, cfg: ForecastConfig, prep: Prepared, device) -> None:
        self.model, self.cfg, self.prep, self.device = model, cfg, prep, device
        dtype = dtype_of(model)
        self.train, self.valid = prep.windows(cfg.data, "train", dtype), prep.windows(cfg.data, "valid", dtype)
        self.steps_per_epoch = math.ceil(len(self.train) / cfg.train.batch_size)
        # least-squares AR and the parameter-free baselines are fitted (or not) in one go
        self.gradient_steps = cfg.model.fit != "least_squares" and any(p.requires_grad for p in model.parameters())

    def _order(self, epoch: int) -> list[torch.Tensor]:
        """Windows in a fresh order every epoch, reproducible per (seed, epoch), cut into batches."""
        order = torch.randperm(len(self.train), generator=epoch_generator(self.cfg.train.seed, epoch))
        size = self.cfg.train.batch_size
        return [order[i * size : (i + 1) * size] for i in range(self.steps_per_epoch)]

    def batches(self, position):
        return epochs(self._order, position)

    def train_step(self, index):
        x, y, cal = (t.to(self.device) for t in self.train.batch(index))
        return self.model.loss(x, y, cal, self.cfg.model.loss), len(index)

    def evaluate(self) -> dict:
        s = scores(self.model, self.valid, self.prep, self.device)
        return {"loss": s["mse"], "mse": s["mse"], "mae": s["mae"]}

    def fit(self) -> None:
        if self.cfg.model.fit == "least_squares":
            d = self.cfg.data
            begin, end = split_borders(self.prep.series, d.split, d.train_fraction, d.test_fraction)["train"]
            self.model.core.fit_least_squares([self.prep.z[begin:end].to(self.device)])

    def save(self, run_dir: Path) -> None:
        normaliser = {"columns": self.prep.series.columns, **self.prep.normaliser.to_json()}
        (run_dir / "normaliser.json").write_text(json.dumps(normaliser) + "\n")


# ------------------------------------------------------------------------ setup / build
def setup(cfg: ForecastConfig, resume_dir: Path | None, device) -> ForecastTask:
    prep = prepare(cfg.data, normaliser=_load_normaliser(resume_dir) if resume_dir else None)
    if cfg.data.covariates == "auto":  # the run's config.json says which the model reads
        cfg.data.covariates = prep.series.index.covariates
    if cfg.model.kind == "ar" and cfg.model.order == 0:  # by AIC on the training rows; config.json records it
        if cfg.model.fit != "least_squares":
            raise UserError("model.order=0 (by AIC) needs model.fit=least_squares")
        begin, end = split_borders(prep.series, cfg.data.split, cfg.data.train_fraction, cfg.data.test_fraction)["train"]
        cfg.model.order = aic_order([prep.z[begin:end]], cfg.data.lookback)
        print(f"model.order={cfg.model.order} (AIC over 1..{cfg.data.lookback} on the training rows)")
    return ForecastTask(_model(cfg, prep).to(device), cfg, prep, device)


def _load_normaliser(run_dir: Path) -> Normaliser:
    path = Path(run_dir) / "normaliser.json"
    if not path.is_file():
        raise UserError(f"{run_dir} has no normaliser.json: it is not a finished forecast run")
    return Normaliser.from_json(read_json(path))


@dataclass
class ForecastRun(Run):
    normaliser: Normaliser
    columns: list[str]

    def prepare(self, path: str | None) -> Prepared:
        prep = prepare(self.cfg.data, path, self.normaliser)
        if prep.series.columns != self.columns:
            raise UserError(f"{prep.series.path} has the columns {', '.join(prep.series.columns)}; the run was "
                            f"trained on {', '.join(self.columns)}")
        return prep


def build_run(cfg: ForecastConfig, run_dir: Path, device) -> ForecastRun:
    normaliser = _load_normaliser(run_dir)
    model = _model(cfg, prepare(cfg.data, normaliser=normaliser)).to(device)
    columns = read_json(run_dir / "normaliser.json")["columns"]
    return ForecastRun(cfg, model, run_dir, device, normaliser, columns)


# ------------------------------------------------------------------------ predict / evaluate
def start_row(series: Series, at: str | None, lookback: int) -> int:
    """The row where the forecast starts: the end of the file, a label of the index (a date/time, a period, a
    year), or else a row number."""
    n = len(series.values)
    if at is None:
        row = n
    else:
        row = series.index.find(at) if series.index.kind != "steps" else None
        if row is None:
            if not at.strip().lstrip("-").isdigit():
                raise UserError(f"--at {at!r} is neither a row number nor a {series.index.kind} of {series.path} "
                                f"(its rows run from {series.index.label(0)} to {series.index.label(n - 1)})")
            row = int(at)
    if not lookback <= row <= n:
        raise UserError(f"--at {at}: the forecast must start between row {lookback} (after data.lookback="
                        f"{lookback} rows) and row {n} (the end of {series.path})")
    return row


@torch.no_grad()
def forecast_at(run: ForecastRun, prep: Prepared, row: int) -> dict:
    """The forecast starting at ``row`` on the original scale, with its index (continued past the file's end)
    and the truth where known."""
    L, H = run.cfg.data.lookback, run.cfg.data.horizon
    series, columns, index = prep.series, [prep.inputs[k] for k in prep.outputs], prep.series.index
    x = prep.z[row - L : row][None].to(run.device, dtype_of(run.model))
    cal = covariates(run.cfg.data, series, range(row - L, row + H))[None].to(run.device)
    y = run.model(x, cal)[0].double().cpu()
    truth = series.values[row : row + H][:, columns]
    return {"labels": [index.label(r) for r in range(row, row + H)], "index_name": index.name,
            "times": [index.value(r) for r in range(row, row + H)], "forecast": run.normaliser.inverse(y, columns),
            "truth": truth, "history_times": [index.value(r) for r in range(row - L, row)],
            "history": series.values[row - L : row][:, columns],
            "columns": prep.output_columns, "forecast_std": y, "truth_std": prep.z[row : row + H][:, prep.outputs]}


@dataclass
class PredictOptions:
    data: str | None = option(None, "the CSV series (default: the run's training file)")
    at: str | None = option(None, "where the forecast starts: a time of the index (a date/time, 1959Q1, a year) "
                                  "or a row number (default: after the last row)")
    out: str | None = option(None, "forecast CSV (default RUN_DIR/forecast.csv)")
    plot: str | None = option(None, "forecast PNG (default: the CSV's path with .png)")


def predict_forecast(run: ForecastRun, lines: list[str], options: PredictOptions) -> list[str]:
    """Write the forecast from ``--at`` as CSV and PNG; return the CSV lines."""
    import sys

    from seqlab.plots import plot_forecast

    prep = run.prepare(options.data)
    row = start_row(prep.series, options.at, run.cfg.data.lookback)
    f = forecast_at(run, prep, row)
    out_lines = [",".join([f["index_name"], *f["columns"]])]
    out_lines += [",".join([label, *(f"{v:.6g}" for v in values.tolist())])
                  for label, values in zip(f["labels"], f["forecast"])]
    out = Path(options.out or run.run_dir / "forecast.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(out_lines) + "\n")
    png = plot_forecast(f, Path(options.plot or out.with_suffix(".png")),
                        f"{run.run_dir.name}: forecast from {f['labels'][0]} ({len(f['labels'])} steps)")
    note = f"forecast: {out}  plot: {png}"
    if len(f["truth"]):
        k = len(f["truth"])
        mse = (f["forecast_std"][:k] - f["truth_std"].double()).pow(2).mean().item()
        note += f"  (standardised MSE {mse:.4f} over the {k} known steps)"
    print(note, file=sys.stderr)
    return out_lines


@dataclass
class EvaluateOptions:
    data: str | None = option(None, "the CSV series (default: the run's training file); z-scored with the run's "
                                    "training statistics")
    split: Literal["train", "valid", "test"] = option("test", "the part to score (default test)")


def evaluate_split(run: ForecastRun, path: str | None, split: str) -> dict:
    if split not in SPLITS:
        raise UserError(f"--split must be one of {list(SPLITS)}, got {split!r}")
    prep = run.prepare(path)
    windows = prep.windows(run.cfg.data, split, dtype_of(run.model))
    return {**scores(run.model, windows, prep, run.device), "split": split,
            "data": str(path or run.cfg.data.path)}


def report(run: ForecastRun, m: dict) -> str:
    text = (f"MSE {m['mse']:.4f}  MAE {m['mae']:.4f} (standardised); original scale MSE {m['mse_original']:.4f}  "
            f"MAE {m['mae_original']:.4f}")
    return f"{m['split']}: {text}  over {m['windows']} windows of {m['data']}"


# ------------------------------------------------------------------------ presets
def ett(kind: str, lookback: int = 96) -> ForecastConfig:
    """ETT (ETTh1, multivariate M) models, the rows of benchmarks/ett.py: 2 minutes of 2-core CPU training
    per horizon, 10 epochs at most, early stopping after 3 evaluations without improvement (SegRNN: 10 minutes,
    15 epochs, patience 10)."""
    cfg = ForecastConfig()
    cfg.data.lookback, cfg.data.horizon, cfg.data.mode = lookback, 96, "M"
    m = cfg.model
    m.kind, m.norm, m.channel_independent = kind, "revin", True
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.weight_decay, cfg.optim.clip = 1e-3, "cosine", 0.0, 1.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.patience, cfg.train.max_minutes = 32, 10, 3, 2.0
    if kind in ("repeat_last", "seasonal"):
        m.norm = "none"
    elif kind == "ar":
        m.fit, m.norm, m.order = "least_squares", "none", 24
    elif kind == "dlinear":
        m.norm, cfg.optim.lr, cfg.train.epochs = "none", 5e-3, 10
    elif kind == "tdnn":
        m.hidden_size, m.kernel, m.dilations, m.dropout = 64, 3, "1,2,4,8", 0.2
    elif kind == "narx":
        m.hidden_size, m.order, m.exo_lags = 128, 48, 24
    elif kind in ("rnn_direct", "rnn_seq2seq"):
        m.cell, m.hidden_size, m.dropout, cfg.train.batch_size = "gru", 64, 0.1, 64
    elif kind == "segrnn":
        m.cell, m.hidden_size, m.segment, m.dropout, m.norm, m.loss = "gru", 256, 48, 0.5, "last", "mae"
        # 15 epochs with patience 10 (SegRNN's own scripts: 30 and 10) in 10 minutes; with 10 epochs, patience 3
        # and 6 minutes, validation stopped it at 7 epochs (H=192: valid 0.9337, test 0.4093; now 0.9335, 0.3943)
        cfg.train.batch_size, cfg.train.epochs, cfg.train.patience, cfg.train.max_minutes = 256, 15, 10, 10.0
    return cfg


PRESETS = {
    "ett-repeat-last": lambda: ett("repeat_last", 96),
    "ett-seasonal": lambda: ett("seasonal", 96),
    "ett-ar": lambda: ett("ar", 96),
    "ett-dlinear": lambda: ett("dlinear", 336),
    "ett-tdnn": lambda: ett("tdnn", 336),
    "ett-narx": lambda: ett("narx", 96),
    "ett-gru-direct": lambda: ett("rnn_direct", 96),
    "ett-gru-seq2seq": lambda: ett("rnn_seq2seq", 96),
    "ett-segrnn": lambda: ett("segrnn", 720),
}

# ---------------------------------------------------------------- seqlab serve
def _prepared(served) -> Prepared:
    """The run's training series, read once per loaded run."""
    if "prepared" not in served.state:
        served.state["prepared"] = served.run.prepare(None)
    return served.state["prepared"]


def _panel_action(served, fields: dict, upload=None) -> dict:
    from seqlab.plots import plot_forecast

    prep = _prepared(served)
    raw = (fields.get("row") or "").strip()
    row = start_row(prep.series, raw or None, served.run.cfg.data.lookback)
    with served.lock:
        f = forecast_at(served.run, prep, row)
    lines = [", ".join([t, *(f"{v:.4g}" for v in values.tolist())]) for t, values in zip(f["labels"], f["forecast"])]
    title = f"{served.run_dir.name}: forecast from row {row} ({f['labels'][0]})"
    return {"lines": lines[:48], "image": png(lambda path: plot_forecast(f, path, title))}


def _panel_form(served) -> list[dict]:
    first, last = served.run.cfg.data.lookback, len(_prepared(served).series.values)
    return [{**number_box("row", f"start row ({first}–{last}; empty: after the last)", "", min=str(first),
                          max=str(last)), "class": "row"}]


PANEL = Panel("Forecast", _panel_form, _panel_action)


TASK = Task(
    name="forecast", help="time-series forecasting (AR, TDNN, NARX, RNNs, SegRNN, DLinear) on CSV series",
    data_help="CSV with a date/time column and numeric columns (e.g. ETTh1.csv)",
    config=ForecastConfig, presets=PRESETS, setup=setup, build=build_run, predict=predict_forecast,
    evaluate=lambda run, o: evaluate_split(run, o.data, o.split), report=report,
    predict_options=PredictOptions, evaluate_options=EvaluateOptions, reads_lines=False,
    panel=PANEL,
)
