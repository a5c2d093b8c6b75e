"""Long-range memory: which models solve the adding / copy / selective-copying problems as T grows, and how fast
minGRU's parallel scan runs against sequential and cuDNN/oneDNN-style recurrences.

1. **Problems**: every model (tanh RNN, IRNN, LSTM with forget bias 1, GRU, Transformer, minGRU, minLSTM
   with chrono gate biases and Adam 3e-3 -- seqlab.tasks.memory.MODELS; one layer, hidden 128) trained with the same step budget and wall-time cap per run on each
   problem and length; the table records solved or not (adding: validation MSE < 0.01; copy and
   selective: accuracy > 99% on the recalled symbols), the first step at which it was solved
   (training stops there), and the final metric beside the memoryless baseline.
2. **Gradient flow**: ||dL/dh_k|| of the trained recurrent models beside untrained copies (one batch of
   the problem, the loss of the last output), written as PNG per problem and length.
3. **Speed**: forward + backward time against T for minGRU parallel (the chunked scan), minGRU log-space
   (Heinsen's cumulative sums), minGRU sequential, GRU native and GRU hand-BPTT at the same hidden size,
   interleaved rep by rep.

    python benchmarks/long_range.py [--problems adding,copy,selective] [--lengths 100,200,400,1000]
                                    [--models lstm,min_gru,...] [--steps 3000] [--minutes 3] [--speed-only | --no-speed]
                                    [--speed-lengths 256,1024,4096,16384] [--runs DIR] [--results NAME]

A curriculum on T (``--data.curriculum=10,25,50``: each shorter length until solved, then T; see
seqlab.tasks.memory) is one more override; the rows record the step at which each length was solved.

``--results NAME`` keeps a run with another budget apart (results/NAME.json, no README plots): e.g. the
minGRU/minLSTM goal rows, ``--problems adding --lengths 400,1000 --models min_gru,min_lstm --minutes 5
--steps 10000 --no-speed --results long_range_min --runs runs/bench-long_range_min``.
"""
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parser, previous_record, train_or_resume, write_results

DOCS = Path(__file__).resolve().parents[1] / "docs"
LENGTHS = {"adding": [100, 200, 400, 1000], "copy": [100, 500], "selective": [100, 200, 400, 1000]}


def config(problem: str, length: int, model: str, steps: int, minutes: float, rest: list[str]):
    from seqlab.tasks.memory import long_range
    from seqlab.train.config import apply_overrides, parse_overrides

    cfg = long_range(problem, model, length)
    cfg.train.max_steps, cfg.train.max_minutes, cfg.train.progress = steps, minutes, False
    cfg.data.stop_when_solved = True  # the budget left over after solving buys nothing for the table
    apply_overrides(cfg, parse_overrides(rest))
    return cfg


def train_row(problem: str, length: int, model: str, args, rest) -> dict:
    from seqlab.errors import TrainingDiverged
    from seqlab.tasks import memory

    cfg = config(problem, length, model, args.steps, args.minutes, rest)
    run_dir = Path(args.runs) / f"{problem}-T{length}-{model}"
    diverged = ""
    try:
        final = train_or_resume(memory.TASK, cfg, run_dir)
    except TrainingDiverged as e:  # a row of the table too: e.g. the IRNN's exploding gradients
        diverged, final = str(e).split(":")[0], None
    return row(problem, length, model, cfg, run_dir, final, diverged)


def row(problem: str, length: int, model: str, cfg, run_dir: Path, final: dict | None, diverged: str = "") -> dict:
    """The table's row of a trained run, from its metrics log: figures at the length T of the row only (a
    curriculum's shorter lengths are listed apart, each with the step it was solved at and its best figure)."""
    from seqlab.plots import read_metrics
    from seqlab.tasks import memory
    from seqlab.train.config import to_dict

    logged = read_metrics(run_dir) if (run_dir / "metrics.jsonl").is_file() else []  # none: diverged at once
    valid = [r for r in logged if r.get("split") == "valid"]
    solved_at = next((r["step"] for r in valid if r["solved"]), None)
    metric, pick = ("mse", min) if problem == "adding" else ("accuracy", max)
    at_t = [r for r in valid if r["length"] == length]

    def best(rows):
        return None if not rows else round(pick(r[metric] for r in rows), 4)

    levels = []
    for n in memory.curriculum_lengths(cfg.data)[:-1]:
        at_n, moved_on = [r for r in valid if r["length"] == n], any(r["length"] > n for r in valid)
        levels.append({"length": n, "solved_at_step": max(r["step"] for r in at_n) if moved_on else None,
                       "best_" + metric: best(at_n)})
    last = valid[-1] if valid else {}
    return {"problem": problem, "length": length, "model": model, "solved": solved_at is not None,
            "solved_at_step": solved_at, "curriculum": levels, "reached_length": last.get("length"),
            "steps": final["steps"] if final else None, "diverged": diverged, "train_time_s": last.get("time_s"),
            metric: round(at_t[-1][metric], 4) if at_t else None, "best_" + metric: best(at_t),
            "baseline": round(memory.baseline(problem, length), 4), "seed": cfg.train.seed, "config": to_dict(cfg)}


def gradient_flow(run_dir: Path, trained: bool) -> list[float]:
    """||dL/dh_k|| of the run's (one-layer recurrent) model on one validation batch; untrained: a fresh init."""
    import torch.nn.functional as F

    import seqlab.nn as snn
    from seqlab.data.memory import generate
    from seqlab.tasks import memory

    run = memory.TASK.load(run_dir, "cpu")
    model = run.model if trained else memory.MemoryModel(run.cfg.model, run.cfg.data.problem, run.cfg.data.length)
    x, y = generate(run.cfg.data.problem, 32, run.cfg.data.length, 999, run.cfg.data.symbols)
    rnn = model.encoder.rnn
    inputs = x if model.regression else F.one_hot(x, 10).float()
    hs, h = [], torch.zeros(len(x), rnn.hidden_size)
    with torch.enable_grad():
        if isinstance(rnn, (snn.MinGRU, snn.MinLSTM)):
            cell = rnn.cells[0]
            for t in range(inputs.shape[1]):
                h = cell.step(inputs[:, t], h)
                h.retain_grad()
                hs.append(h)
            out = torch.stack(hs, 1)
        else:
            from seqlab.nn.probe import gradient_flow as probe

            def loss_fn(o):
                return _last_loss(model, o, y)
            return [float(f"{v:.4g}") for v in probe(rnn, inputs, loss_fn).tolist()]
        _last_loss(model, out, y).backward()
    return [float(f"{h.grad.norm():.4g}") for h in hs]


def _last_loss(model, out, y):
    """The loss of the last output only: what must travel back through time."""
    import torch.nn.functional as F

    last = model.out(out[:, -1])
    return F.mse_loss(last[:, 0], y) if model.regression else F.cross_entropy(last, y[:, -1].clamp_min(0))


def speed(lengths: list[int], hidden: int = 128, batch: int = 16, reps: int = 3) -> list[dict]:
    import seqlab.nn as snn

    impls = {"min_gru parallel": snn.MinGRU(hidden, hidden, batch_first=True),
             "min_gru log-space": snn.MinGRU(hidden, hidden, batch_first=True, mode="log"),
             "min_gru sequential": snn.MinGRU(hidden, hidden, batch_first=True, mode="sequential"),
             "gru native": torch.nn.GRU(hidden, hidden, batch_first=True),
             "gru hand-BPTT": snn.GRU(hidden, hidden, batch_first=True, backend="bptt")}
    rows = []
    for T in lengths:
        x = torch.randn(batch, T, hidden)
        times = {name: [] for name in impls}
        for _ in range(reps):
            for name, layer in impls.items():  # interleaved: machine noise hits them alike
                if name == "min_gru sequential" and T > 4096:
                    continue
                t0 = time.perf_counter()
                layer(x)[0].sum().backward()
                times[name].append(time.perf_counter() - t0)
        row = {"T": T, "batch": batch, "hidden": hidden}
        row.update({name: round(statistics.median(v), 4) for name, v in times.items() if v})
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv=None) -> None:
    from seqlab.errors import UserError

    ap = parser(__doc__.splitlines()[0], "runs/bench-long_range", minutes=3.0, minutes_help="training time budget per model")
    ap.add_argument("--problems", default="adding,copy,selective")
    ap.add_argument("--lengths", default="", help="comma-separated T (default: each problem's standard list)")
    ap.add_argument("--models", default="rnn_tanh,irnn,lstm,gru,transformer,min_gru,min_lstm")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--speed-lengths", default="256,1024,4096,16384")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--no-speed", action="store_true", help="keep the speed figures of the results file")
    ap.add_argument("--results", default="long_range", help="results/NAME.json; the documentation's plots only for long_range")
    args, rest = ap.parse_known_args(argv)
    try:
        start = time.perf_counter()
        record = previous_record(args.results)
        if not args.speed_only:
            record["runs"], flows = problem_rows(args, rest, record.get("runs", []), start)
            record["gradient_flow"] = {**record.get("gradient_flow", {}), **flows}
        if not args.no_speed:
            record["speed"] = speed([int(t) for t in args.speed_lengths.split(",")])
        keep = {k: record[k] for k in ("runs", "gradient_flow", "speed") if k in record}
        print(f"wrote {write_results(args.results, keep, time.perf_counter() - start)}")
        if args.results != "long_range":
            return
        if record.get("runs"):
            print(f"plot: {plot_solved(record['runs'], DOCS / 'long_range_solved.png')}")
        if record.get("speed"):
            print(f"plot: {plot_speed(record['speed'], DOCS / 'long_range_speed.png')}")
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def problem_rows(args, rest, old_rows: list[dict], start: float) -> tuple[list[dict], dict]:
    from seqlab.plots import plot_gradient_flow
    from seqlab.tasks.memory import MODELS

    models = args.models.split(",")
    unknown = set(models) - set(MODELS)
    if unknown:
        raise SystemExit(f"error: --models: unknown {sorted(unknown)}; models: {', '.join(MODELS)}")
    jobs = [(p, T, m) for p in args.problems.split(",")
            for T in ([int(t) for t in args.lengths.split(",")] if args.lengths else LENGTHS.get(p, []))
            for m in models]
    rows = [r for r in old_rows if (r["problem"], r["length"], r["model"]) not in jobs]
    flows = {}
    for problem, length, model in jobs:
        rows.append(train_row(problem, length, model, args, rest))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "config"}), flush=True)
        run_dir = Path(args.runs) / f"{problem}-T{length}-{model}"
        if model != "transformer" and not rows[-1]["diverged"]:
            flows.setdefault(f"{problem}-T{length}", {})[f"{model} trained"] = gradient_flow(run_dir, True)
            flows[f"{problem}-T{length}"][f"{model} untrained"] = gradient_flow(run_dir, False)
        write_results(args.results, {"runs": rows, "gradient_flow": flows}, time.perf_counter() - start)
    for key, norms in flows.items():
        plot_gradient_flow(norms, Path(args.runs) / f"gradient_flow-{key}.png", f"||dL/dh_k||: {key}")
    return rows, flows


def plot_solved(rows: list[dict], out: Path) -> Path:
    """A grid per problem: models down, T across; green solved (with the step), red not (with the final metric)."""
    from seqlab.plots import plt, save

    problems = [p for p in LENGTHS if any(r["problem"] == p for r in rows)]
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6), squeeze=False)
    for ax, problem in zip(axes[0], problems):
        mine = [r for r in rows if r["problem"] == problem]
        lengths = sorted({r["length"] for r in mine})
        models = list(dict.fromkeys(r["model"] for r in mine))
        at = {(r["model"], r["length"]): r for r in mine}
        for i, model in enumerate(models):
            for j, T in enumerate(lengths):
                r = at.get((model, T))
                if r is None:
                    continue
                value = r.get("mse", r.get("accuracy"))
                figure = "diverged" if value is None else f"{value:.3f}" if "mse" in r else f"{value:.0%}"
                text = f"@{r['solved_at_step']}" if r["solved"] else figure
                ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor="#7fc97f" if r["solved"] else "#f0a0a0",
                                           edgecolor="white", linewidth=2))
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8)
        ax.set_xlim(0, len(lengths))
        ax.set_ylim(len(models), 0)
        ax.set_xticks([j + 0.5 for j in range(len(lengths))], [str(T) for T in lengths])
        ax.set_yticks([i + 0.5 for i in range(len(models))], models)
        ax.set_xlabel("T")
        ax.set_title(f"{problem}: solved @step / final " + ("MSE" if problem == "adding" else "accuracy"))
    return save(fig, out)


def plot_speed(rows: list[dict], out: Path) -> Path:
    """Forward + backward seconds against T, log-log, one line per implementation."""
    from seqlab.plots import plt, save

    fig, ax = plt.subplots(figsize=(6, 4))
    names = [k for k in rows[0] if k not in ("T", "batch", "hidden")]
    for name in names:
        points = [(r["T"], r[name]) for r in rows if name in r]
        ax.plot(*zip(*points), marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("T (sequence length)")
    ax.set_ylabel("forward + backward, s")
    ax.set_title(f"batch {rows[0]['batch']}, hidden {rows[0]['hidden']}, one layer")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save(fig, out)


if __name__ == "__main__":
    main()
