"""ETTh1 long-horizon forecasting (multivariate M): AR, TDNN, NARX, recurrent forecasters and baselines.

Standard protocol (Informer/DLinear/PatchTST loaders): 12/4/4 months for train/valid/test,
z-scores from the training rows, MSE and MAE on the standardised values, every test window
scored (no batch dropped).  Horizons 96/192/336/720, each model at its preset's look-back;
selection on the validation split, test figures from the file's own test split.
Goal: test MSE <= 0.360 at H=96 and below DLinear's published MSE at every horizon, with a
recurrent model.  Published rows: see PUBLISHED (../shared/data/SOURCES.md and the SegRNN README).

    python benchmarks/ett.py [--data ETT.csv] [--test ETT.csv] [--presets ett-segrnn@720,ett-ar] [--horizons 96,192]
                             [--minutes M] [--runs DIR] [--section.key=value ...]

``--presets`` lists forecast presets, each optionally ``@LOOKBACK`` (default: the preset's own);
rows of runs not named keep their last figures in the results file.

A row that replaces one of the results file with other settings keeps the old figures beside the new
(``before``: its valid and test figures, steps, training time and the settings that changed).

``--data`` takes any ETT-format CSV (ETTh*/ETTm* splits by name, others 70/10/20); ``--test``
scores the test split of another ETT-format file with the models trained on ``--data``
(the withheld ETTh2/ETTm1, say), z-scored with the training file's statistics.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, earlier_rows, note_before, parser, train_or_resume, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries" / "ETTh1.csv"
# Every model at look-back 96, and at the longer look-back of its preset where it does better with it.
RUNS = ["ett-repeat-last@96", "ett-seasonal@96", "ett-ar@96", "ett-dlinear@96", "ett-dlinear@336", "ett-tdnn@96",
        "ett-tdnn@336", "ett-narx@96", "ett-gru-direct@96", "ett-gru-seq2seq@96", "ett-segrnn@96", "ett-segrnn@720"]
RECURRENT = {"narx", "rnn_direct", "rnn_seq2seq", "segrnn"}
HORIZONS = [96, 192, 336, 720]
# ETTh1 (M) test MSE / MAE at 96 / 192 / 336 / 720, as published.
PUBLISHED = {
    "DLinear (L=336; Zeng et al. 2023, Table 2)": [(0.375, 0.399), (0.405, 0.416), (0.439, 0.443), (0.472, 0.490)],
    "PatchTST/64 (L=512; Nie et al. 2023, Table 3)": [(0.370, 0.400), (0.413, 0.429), (0.422, 0.440), (0.447, 0.468)],
    "PatchTST/42 (L=336; Nie et al. 2023, Table 3)": [(0.375, 0.399), (0.414, 0.421), (0.431, 0.436), (0.449, 0.466)],
    "SegRNN (L=96, fixed test loader; lss-1138/SegRNN README)": [(0.368, 0.395), (0.408, 0.419), (0.444, 0.440),
                                                                  (0.446, 0.457)],
    "Repeat-last (DLinear paper, Table 2)": [(1.295, 0.713), (1.325, 0.733), (1.323, 0.744), (1.339, 0.756)],
}
GOAL = ("ETTh1 test MSE <= 0.360 at H=96 and below DLinear's published MSE at every horizon "
        "(0.375/0.405/0.439/0.472), with a recurrent model")


def main(argv=None) -> None:
    from seqlab.errors import UserError

    try:
        run(argv)
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def run(argv) -> None:
    from seqlab.errors import UserError
    from seqlab.tasks import forecast

    ap = parser(__doc__.splitlines()[0], "runs/bench-ett", minutes=None, minutes_help="training budget per run (default: the preset's)", test="another ETT-format CSV whose test split is scored as well")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--presets", default=",".join(RUNS), help="PRESET[@LOOKBACK],... (default: every row)")
    ap.add_argument("--horizons", default=",".join(map(str, HORIZONS)))
    args, rest = ap.parse_known_args(argv)
    if not Path(args.data).is_file():
        raise UserError(f"--data {args.data} does not exist (the shared datasets live in ../shared/data)")
    try:
        horizons = [int(h) for h in args.horizons.split(",")]
    except ValueError:
        raise UserError(f"--horizons must be comma-separated integers, got {args.horizons!r}") from None
    start, name = time.perf_counter(), "ett" if Path(args.data).name == "ETTh1.csv" else f"ett_{Path(args.data).stem}"
    runs = [(*_preset(p), h) for p in args.presets.split(",") for h in horizons]
    earlier, date = earlier_rows(name, lambda r: (r["preset"], r["lookback"], r["horizon"]))
    kept = [r for key, r in earlier.items() if key not in runs]
    rows = []
    for preset, lookback, horizon in runs:
        settings = {"data.path": args.data, "data.horizon": horizon, "data.lookback": lookback}
        cfg = configure("forecast", preset, settings, args.minutes, rest)
        run_dir = Path(args.runs) / f"{preset}-L{cfg.data.lookback}-H{horizon}"
        t0 = time.perf_counter()
        final = train_or_resume(forecast.TASK, cfg, run_dir)
        trained = forecast.TASK.load(run_dir)
        row = {"preset": preset, "kind": cfg.model.kind, "lookback": cfg.data.lookback, "horizon": horizon,
               "parameters": sum(p.numel() for p in trained.model.parameters()),
               "train_time_s": round(_train_time(run_dir), 1), "wall_time_s": round(time.perf_counter() - t0, 1),
               "steps": final["steps"], "seed": cfg.train.seed,
               "valid": _round(forecast.evaluate_split(trained, None, "valid")),
               "test": _round(forecast.evaluate_split(trained, None, "test")), "config": config_of(cfg)}
        if args.test:
            row["extra_test"] = _round(forecast.evaluate_split(trained, args.test, "test"))
        rows.append(note_before(row, earlier.get((preset, cfg.data.lookback, horizon)), date))
        path = write_results(name, {"data": args.data, "goal": GOAL, "published": PUBLISHED, "runs": kept + rows},
                      time.perf_counter() - start)
        print(json.dumps({k: row[k] for k in ("preset", "lookback", "horizon", "train_time_s", "steps")}
                         | {"valid_mse": row["valid"]["mse"], "test_mse": row["test"]["mse"],
                            "test_mae": row["test"]["mae"]}), flush=True)
    print(table(kept + rows, horizons))
    print(f"wrote {path}")


def _preset(spec: str) -> tuple[str, int]:
    """'ett-segrnn@720' -> ('ett-segrnn', 720); 'ett-ar' -> ('ett-ar', the preset's own look-back)."""
    from seqlab.errors import UserError
    from seqlab.tasks.forecast import PRESETS

    name, _, lookback = spec.partition("@")
    if name not in PRESETS:
        raise UserError(f"--presets: unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    if lookback and not lookback.isdigit():
        raise UserError(f"--presets: {spec!r}: the look-back after @ must be a number")
    return name, int(lookback) if lookback else PRESETS[name]().data.lookback


def _train_time(run_dir: Path) -> float:
    from seqlab.plots import read_metrics

    return max((r.get("time_s", 0.0) for r in read_metrics(run_dir)), default=0.0)


def _round(m: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()}


def table(rows: list[dict], horizons: list[int]) -> str:
    """Test MSE / MAE by horizon: our rows, then the published ones."""
    head = f"{'model':<52}" + "".join(f"{h:>16}" for h in horizons)
    lines = [head, "-" * len(head)]
    by_preset: dict[str, dict[int, dict]] = {}
    for r in rows:
        by_preset.setdefault(f"{r['preset']} (L={r['lookback']})", {})[r["horizon"]] = r["test"]
    for label, cells in by_preset.items():
        lines.append(f"{label:<52}" + "".join(
            f"{cells[h]['mse']:>8.3f}/{cells[h]['mae']:.3f}" if h in cells else f"{'-':>16}" for h in horizons))
    for label, cells in PUBLISHED.items():
        lines.append(f"{label[:51]:<52}" + "".join(
            f"{cells[HORIZONS.index(h)][0]:>8.3f}/{cells[HORIZONS.index(h)][1]:.3f}" if h in HORIZONS else f"{'-':>16}"
            for h in horizons))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
