"""Forward+backward time of the hand-BPTT driver vs torch's native kernel vs plain autograd.

For each shape and cell, three implementations of the same recurrence run side by
side, interleaved rep by rep so that machine noise hits them alike:

* ``bptt``     -- seqlab.nn layer, backend="bptt" (hand-derived backward, seqlab.nn.scan)
* ``native``   -- torch.nn.RNN/LSTM/GRU (oneDNN/cuDNN kernel); none exists for peephole
* ``autograd`` -- the cell's forward step in a Python loop, differentiated by autograd
  (seqlab.nn.autograd_scan: same ops, input projection hoisted out of the loop as well)

Reported: the median time of each, and the ratios bptt/native and autograd/bptt.

    python benchmarks/recurrent_speed.py [--quick] [--reps N] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results

import seqlab.nn as snn

SHAPES = [(100, 64, 256, 256), (200, 32, 128, 128)]  # (T, B, I, H)
CELLS = {
    "lstm": (lambda i, h: snn.LSTM(i, h, backend="bptt"), torch.nn.LSTM),
    "lstm_peephole": (lambda i, h: snn.LSTM(i, h, variant="peephole", backend="bptt"), None),
    "gru": (lambda i, h: snn.GRU(i, h, backend="bptt"), torch.nn.GRU),
    "rnn_tanh": (lambda i, h: snn.RNN(i, h, backend="bptt"), torch.nn.RNN),
}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _implementations(cell: str, shape, device: str) -> dict:
    steps, batch, inp, hid = shape
    make_ours, torch_cls = CELLS[cell]
    ours = make_ours(inp, hid).to(device)
    x = torch.randn(steps, batch, inp, device=device, requires_grad=True)
    state = tuple(torch.zeros(batch, hid, device=device) for _ in range(ours.cell.num_states))

    def bptt():
        ours(x)[0].sum().backward()

    def autograd():
        hs = snn.autograd_scan(ours.cell, x, state, *ours.cell_weights(0))
        torch.stack([s[0] for s in hs]).sum().backward()

    impls = {"bptt": bptt, "autograd": autograd}
    if torch_cls is not None:
        native = torch_cls(inp, hid).to(device)
        native.load_state_dict(ours.state_dict())
        impls["native"] = lambda: native(x)[0].sum().backward()
    return impls


def measure(cell: str, shape, reps: int, device: str) -> dict:
    impls = _implementations(cell, shape, device)
    times = {name: [] for name in impls}
    for name, fn in impls.items():  # warm-up
        fn()
    for _ in range(reps):
        for name, fn in impls.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    row = {"cell": cell, "T": shape[0], "B": shape[1], "I": shape[2], "H": shape[3]}
    row.update({f"{name}_ms": round(v, 2) for name, v in ms.items()})
    if "native" in ms:
        row["bptt_over_native"] = round(ms["bptt"] / ms["native"], 3)
    row["autograd_over_bptt"] = round(ms["autograd"] / ms["bptt"], 3)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9, help="timed repetitions per implementation (median reported)")
    ap.add_argument("--quick", action="store_true", help="first shape only, 3 reps (a smoke run)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=None, help="results file (default benchmarks/results/recurrent_speed.json)")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    shapes, reps = (SHAPES[:1], 3) if args.quick else (SHAPES, args.reps)
    start = time.perf_counter()
    rows = []
    print(f"{'cell':14s} {'T':>4s} {'B':>3s} {'H':>4s} {'bptt ms':>8s} {'native ms':>9s} {'autograd ms':>11s} "
          f"{'bptt/native':>11s} {'autograd/bptt':>13s}")
    for shape in shapes:
        for cell in CELLS:
            row = measure(cell, shape, reps, args.device)
            rows.append(row)
            print(f"{cell:14s} {row['T']:4d} {row['B']:3d} {row['H']:4d} {row['bptt_ms']:8.1f} "
                  f"{row.get('native_ms', float('nan')):9.1f} {row['autograd_ms']:11.1f} "
                  f"{row.get('bptt_over_native', float('nan')):11.2f} {row['autograd_over_bptt']:13.2f}", flush=True)
    name = "recurrent_speed" + ("_quick" if args.quick else "") + ("_cuda" if args.device == "cuda" else "")
    figures = {"device": args.device, "reps": reps, "goal": "lstm bptt/native <= 1.3, autograd/bptt >= 5", "rows": rows}
    path = write_results(name, figures, time.perf_counter() - start, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
