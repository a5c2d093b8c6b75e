"""Options for fusing a cell's per-step elementwise work, measured: eager vs ``torch.compile`` of the step pair.

The hand-BPTT driver (seqlab.nn.scan) calls ``cell.step`` T times forward and
``cell.step_backward`` T times backward.  This times those two loops alone (no autograd,
the input projection precomputed) for the standard LSTM cell, eager and with each step
function compiled by ``torch.compile`` (inductor; its CPU backend generates C++), with the
compile time apart.  A compiled step wins only if its per-call overhead (guards, the
compiled frame) costs less than the kernels it fuses.

    python benchmarks/fusion_options.py [--shapes 100x64x256,1000x8x64] [--reps 5]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results

import seqlab.nn as snn


def loops(steps: int, batch: int, hidden: int):
    layer = snn.LSTM(hidden, hidden, backend="bptt")
    cell = layer.cell
    w_ih, b_ih, w = layer.cell_weights(0)
    xp = torch.randn(steps, batch, hidden) @ w_ih.t() + cell.input_bias(b_ih, w)
    state = (torch.zeros(batch, hidden), torch.zeros(batch, hidden))
    _, cache = cell.step(xp[0], state, state[0], w)
    d = (torch.randn(batch, hidden), torch.randn(batch, hidden))

    def forward(step):
        s = state
        for t in range(steps):
            s, _ = step(xp[t], s, s[0], w)

    def backward(step_backward):
        for _ in range(steps):
            step_backward(d, cache, state[0], w)

    return cell, forward, backward


def median_ms(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="100x64x256,1000x8x64", help="TxBxH, comma-separated")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    start, rows = time.perf_counter(), []
    torch.manual_seed(0)
    with torch.no_grad():
        for shape in args.shapes.split(","):
            steps, batch, hidden = (int(v) for v in shape.split("x"))
            cell, forward, backward = loops(steps, batch, hidden)
            row = {"cell": "lstm", "T": steps, "B": batch, "H": hidden,
                   "eager_forward_ms": median_ms(lambda f=forward, c=cell: f(c.step), args.reps),
                   "eager_backward_ms": median_ms(lambda b=backward, c=cell: b(c.step_backward), args.reps)}
            for name, fn, loop in (("forward", cell.step, forward), ("backward", cell.step_backward, backward)):
                compiled = torch.compile(fn, dynamic=False)
                t0 = time.perf_counter()
                loop(compiled)
                row[f"compile_{name}_s"] = time.perf_counter() - t0
                row[f"compiled_{name}_ms"] = median_ms(lambda c=compiled, lp=loop: lp(c), args.reps)
            row = {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
            rows.append(row)
            print(row, flush=True)
    print(f"wrote {write_results('fusion_options', {'reps': args.reps, 'rows': rows}, time.perf_counter() - start)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
