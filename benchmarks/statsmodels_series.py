"""Forecasting the series a user has: five series that ship with statsmodels, nobody here prepared them.

Each is written to CSV with pandas' ``to_csv`` as a user would, then trained and scored through the command
line (``seqlab.cli.main``) with only the flags a user sets: the time column, the target, the missing-value
rule, and the look-back and horizon that suit the series.  The last 20% of each series is its test part
(data.split=ratio: 70 / 10 / 20); MSE and MAE on the original units over every test window.

* sunspots -- annual, ``YEAR`` written 1700.0;
* nile -- annual, ``year``;
* co2 -- weekly dates, 59 empty cells (``--data.missing=interpolate``);
* macrodata -- quarterly, ``year`` + ``quarter`` columns; the target is realgdp's growth (100 x the log
  difference, computed here: the first thing a user does with a level series);
* elnino -- a wide table (a row per year, a column per month) reshaped into one monthly column, ``1950-01``.

Models: seasonal naive (the baseline; last value for annual series), seqlab's AR with its order chosen by AIC
on the training part, beside statsmodels ``AutoReg`` with the order that ``ar_select_order`` chooses, applied
to the same windows; TDNN, NARX and the recurrent forecasters (rnn_direct, segrnn) at their defaults.

    python benchmarks/statsmodels_series.py [--series sunspots,nile] [--kinds ar,tdnn] [--runs DIR]
                                            [--test FILE.csv ...]

``--test`` is accepted for symmetry with the other benchmarks: these series have no withheld part (the last
20% of each is scored).
"""
import contextlib
import io
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from common import parser, write_results

# name: (how to make the frame, time column, target, missing rule, look-back, horizon)
SERIES = {
    "sunspots": ("YEAR", "SUNACTIVITY", "error", 40, 10),
    "nile": ("year", "volume", "error", 20, 5),
    "co2": ("date", "co2", "interpolate", 156, 52),
    "macrodata": ("year,quarter", "realgdp_growth", "error", 16, 4),
    "elnino": ("month", "temperature", "error", 36, 12),
}
KINDS = ["seasonal", "ar", "tdnn", "narx", "rnn_direct", "segrnn"]


def frame(name: str):
    """The series as pandas gives it, made into the CSV a user would write."""
    import numpy as np
    import statsmodels.api as sm

    data = getattr(sm.datasets, name).load_pandas().data
    if name == "co2":
        return data, {"index_label": "date"}
    if name == "macrodata":
        data = data[["year", "quarter", "realgdp"]].copy()
        data["realgdp_growth"] = 100 * np.log(data["realgdp"]).diff()
        return data.drop(columns="realgdp").iloc[1:], {"index": False}
    if name == "elnino":
        months = [c for c in data.columns if c != "YEAR"]
        long = data.melt(id_vars="YEAR", value_vars=months, var_name="m", value_name="temperature")
        long["month"] = [f"{int(y)}-{months.index(m) + 1:02d}" for y, m in zip(long["YEAR"], long["m"])]
        return long.sort_values("month")[["month", "temperature"]], {"index": False}
    return data, {"index": False}


def cli(argv: list[str]) -> str:
    """``seqlab ARGV`` in this process; its standard output (an error exits with its one-line message)."""
    from seqlab.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    if code != 0:
        raise SystemExit(f"seqlab {' '.join(argv)} exited {code}")
    return out.getvalue()


def statsmodels_ar(target: str, prep, run, test_rows: range) -> dict:
    """statsmodels' AutoReg with the order ar_select_order(ic=aic) picks on the training part, applied to every
    test window; its forecasts against seqlab's AR run's."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    from seqlab.data.timeseries import split_borders
    from seqlab.tasks.forecast import forecast_at

    y = prep.series.values[:, prep.series.column(target)].numpy()
    begin, end = split_borders(prep.series, "ratio")["train"]
    L, H = run.cfg.data.lookback, run.cfg.data.horizon
    lags = ar_select_order(y[begin:end], maxlag=L, ic="aic", trend="c").ar_lags
    order = max(lags) if lags else 0
    fitted = AutoReg(y[begin:end], lags=order, trend="c").fit()
    diff, errors = 0.0, []
    for row in test_rows:
        ref = fitted.apply(y[:row], refit=False).forecast(H)  # fixed parameters: only the last lags count
        ours = forecast_at(run, prep, row)["forecast"][:, 0].numpy()
        diff = max(diff, float(abs(ref - ours).max()))
        truth = y[row : row + H]
        errors.append(((ref - truth) ** 2).mean())
    return {"order": order, "seqlab_order": run.cfg.model.order, "max_abs_forecast_difference": diff,
            "mse_original": float(sum(errors) / len(errors))}


def main(argv=None) -> None:
    ap = parser(__doc__.split("\n")[0], "runs/statsmodels_series", minutes_help=None)
    ap.add_argument("--test", nargs="*", default=[], help="(no withheld parts here; see the docstring)")
    ap.add_argument("--series", default=",".join(SERIES))
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args(argv)
    from seqlab.tasks import registry

    task = registry.get("forecast")
    runs, started, rows = Path(args.runs), time.time(), []
    (runs / "data").mkdir(parents=True, exist_ok=True)
    for name in args.series.split(","):
        time_column, target, missing, lookback, horizon = SERIES[name]
        data, how = frame(name)
        csv = runs / "data" / f"{name}.csv"
        data.to_csv(csv, **how)
        base = ["--data", str(csv), f"--data.time_column={time_column}", f"--data.target={target}",
                "--data.mode=S", f"--data.missing={missing}", f"--data.lookback={lookback}",
                f"--data.horizon={horizon}", "--data.split=ratio", "--train.progress=false"]
        for kind in args.kinds.split(","):
            extra = {"ar": ["--model.fit=least_squares", "--model.order=0", "--model.norm=none"],
                     "segrnn": [f"--model.segment={horizon}"] if lookback % horizon == 0 else ["--model.segment=4"],
                     # the default delays (kernel 3, dilations 1,2,4,8) span 31 steps: shorter look-backs, fewer
                     "tdnn": ["--model.dilations=1,2,4"] if lookback < 31 else [],
                     # its default d_y and d_u are 24
                     "narx": [f"--model.order={lookback}", f"--model.exo_lags={lookback}"] if lookback < 25 else [],
                     }.get(kind, [])
            run_dir = runs / f"{name}-{kind}"
            t0 = time.time()
            if not (run_dir / "config.json").is_file():
                cli(["train", "forecast", *base, f"--model.kind={kind}", *extra, "--runs", str(runs),
                     "--name", run_dir.name])
            seconds = time.time() - t0
            records = (run_dir / "metrics.jsonl").read_text().splitlines()
            seconds = max(seconds, json.loads(records[-1]).get("time_s", 0.0)) if records else seconds
            run = task.load(run_dir, "cpu")
            test = task.evaluate(run, task.evaluate_options(split="test"))
            valid = task.evaluate(run, task.evaluate_options(split="valid"))
            row = {"series": name, "kind": kind, "flags": base[2:] + [f"--model.kind={kind}", *extra],
                   "valid_mse_original": valid["mse_original"],
                   "test_mse_original": test["mse_original"], "test_mae_original": test["mae_original"],
                   "test_windows": test["windows"], "train_s": round(seconds, 1), "seed": run.cfg.train.seed}
            prep = run.prepare(None)
            row["rows"] = len(prep.series.values)
            row["index"] = f"{prep.series.index.kind} {prep.series.index.label(0)}..{prep.series.index.label(row['rows'] - 1)}"
            if kind == "ar":
                w = prep.windows(run.cfg.data, "test")
                row["statsmodels"] = statsmodels_ar(target, prep, run,
                                                    range(w.origin(0), w.origin(len(w) - 1) + 1))
            rows.append(row)
            sm = row.get("statsmodels")
            print(f"{name:10s} {kind:11s} test MSE {row['test_mse_original']:10.4f}  MAE {row['test_mae_original']:8.4f}"
                  + (f"  (statsmodels AutoReg({sm['order']}) MSE {sm['mse_original']:.4f}, seqlab order "
                     f"{sm['seqlab_order']}, max |forecast diff| {sm['max_abs_forecast_difference']:.2e})" if sm else ""),
                  flush=True)
    best = {}
    for r in rows:
        if not math.isnan(r["test_mse_original"]):
            best.setdefault(r["series"], []).append((r["test_mse_original"], r["kind"]))
    summary = {s: {"best": min(v)[1], "seasonal_naive_mse": next(m for m, k in v if k == "seasonal")}
               for s, v in best.items() if any(k == "seasonal" for _, k in v)}
    path = write_results("statsmodels_series", {"rows": rows, "summary": summary, "torch_threads": torch.get_num_threads()},
                         time.time() - started)
    print(f"results: {path}")


if __name__ == "__main__":
    from common import exit_on_user_error

    exit_on_user_error(main)
