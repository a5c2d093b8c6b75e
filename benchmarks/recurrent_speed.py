"""Forward+backward time of the hand-BPTT driver vs torch's native kernel vs plain autograd.

For each shape and cell, three implementations of the same recurrence run side by
side, interleaved rep by rep so that machine noise hits them alike:

* ``bptt``     -- seqlab.nn layer, backend="bptt" (hand-derived backward): the C++ loop of
  seqlab.nn.fused where it is built, as the layer picks by itself
* ``python``   -- the same layer with the fused loop switched off: the Python driver, seqlab.nn.scan
* ``native``   -- torch.nn.RNN/LSTM/GRU (oneDNN/cuDNN kernel); none exists for peephole
* ``autograd`` -- the cell's forward step in a Python loop, differentiated by autograd
  (seqlab.nn.autograd_scan: same ops, input projection hoisted out of the loop as well)
* ``floor``    -- the matrix products any implementation of the recurrence must do, alone, into
  preallocated buffers: the input projection (one product), T recurrent products forward,
  T products of dL/d(gates) with W_hh backward, and dW_hh, dW_ih, dL/dx (one product each),
  issued from C++ by the BLAS calls of the fused loop (``torch.ops.seqlab.products``); where the
  library is not built, from Python (``floor_py``, always measured too: it adds torch's per-call cost).

Reported: the median time of each, the ratios bptt/native, bptt/floor, native/floor and
autograd/bptt, and the peak memory of one forward+backward of bptt and native: on CUDA
``torch.cuda.max_memory_allocated`` above what was allocated before; on the CPU the peak of
the allocations torch's profiler tracks (``profile_memory=True``: each op's allocations net of
its frees, and the frees between ops, summed in time order), which counts what the autograd
graph holds for the backward.

``--checkpoint-only`` measures the layers' ``checkpoint=k`` option instead: forward+backward time
and peak memory of an LSTM at T=4096, B=4, H=128 for k = 0 (off), 256 and 64.

``--sampling`` adds the inference figure: tokens/s of a character LM (embedding 128, 2x512
LSTM, 65 symbols) sampling one token at a time with a carried state, batch 1 and 64, for the
seqlab layer (auto and bptt backends) and torch.nn.LSTM with the same weights; ``--sampling-only``
that alone, into results/recurrent_sampling.json.

Every row also times inference (forward only, under ``torch.no_grad``): ``bptt_infer`` and
``native_infer``.  ``--isa-pair`` runs the rows again in a subprocess with the ISA limited to AVX2
(``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``: oneDNN's kernels and seqlab's build alike) and
writes both into one results file (``rows`` and ``avx2_limited``, with the build each used and the CPU's flags);
``--generic`` likewise with no vector extension named (``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``:
the C++ loop's generic build, as on an x86 CPU without AVX2 or on ARM), under ``generic``.

    python benchmarks/recurrent_speed.py [--quick] [--reps N] [--device cpu|cuda] [--sampling] [--isa-pair] [--generic]
                                         [--out F]
    python benchmarks/recurrent_speed.py --checkpoint-only | --sampling-only
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
from seqlab.nn import fused

SHAPES = [(100, 64, 256, 256), (200, 32, 128, 128), (50, 128, 512, 512),  # (T, B, I, H)
          (1000, 8, 64, 64), (4096, 4, 128, 128)]  # overhead-bound; long
OVERHEAD_BOUND = (1000, 8, 64, 64)
CELLS = {
    "lstm": (lambda i, h: snn.LSTM(i, h, backend="bptt"), torch.nn.LSTM),
    "lstm_peephole": (lambda i, h: snn.LSTM(i, h, variant="peephole", backend="bptt"), None),
    "lstm_coupled": (lambda i, h: snn.LSTM(i, h, variant="coupled", backend="bptt"), None),
    "lstm_no_forget": (lambda i, h: snn.LSTM(i, h, variant="no_forget", backend="bptt"), None),
    "gru": (lambda i, h: snn.GRU(i, h, backend="bptt"), torch.nn.GRU),
    "gru_before": (lambda i, h: snn.GRU(i, h, reset="before", backend="bptt"), None),
    "rnn_tanh": (lambda i, h: snn.RNN(i, h, backend="bptt"), torch.nn.RNN),
}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


GATES = {"lstm": 4, "lstm_peephole": 4, "lstm_coupled": 3, "lstm_no_forget": 3, "gru": 3, "gru_before": 3, "rnn_tanh": 1}


def _floor(gates: int, shape, device: str, from_cpp: bool = False):
    """The products of the recurrence alone (see the module docstring), into preallocated buffers."""
    steps, batch, inp, hid = shape
    g = gates * hid

    def r(*size):
        return torch.randn(*size, device=device)

    x, w_ih, w_hh, h, d, hs = r(steps * batch, inp), r(g, inp), r(g, hid), r(batch, hid), r(steps * batch, g), \
        r(steps * batch, hid)
    xp, step, dh, dw_hh, dw_ih, dx = r(steps * batch, g), r(batch, g), r(batch, hid), r(g, hid), r(g, inp), \
        r(steps * batch, inp)

    if from_cpp:
        return lambda: torch.ops.seqlab.products(steps, x, w_ih, w_hh, d, hs, xp, dx, dw_ih, dw_hh)

    def floor():
        torch.mm(x, w_ih.t(), out=xp)
        for _ in range(steps):
            torch.mm(h, w_hh.t(), out=step)
        for t in range(steps):
            torch.mm(d[t * batch : (t + 1) * batch], w_hh, out=dh)
        torch.mm(d.t(), hs, out=dw_hh)
        torch.mm(d.t(), x, out=dw_ih)
        torch.mm(d, w_ih, out=dx)
    return floor


def peak_bytes(fn, device: str) -> int:
    """Peak memory one call of ``fn`` adds (see the module docstring)."""
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    now = peak = 0  # each op's own allocations net of its frees, and the frees between ops, in time order
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        now += e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage
        peak = max(peak, now)
    return peak


def _implementations(cell: str, shape, device: str) -> dict:
    steps, batch, inp, hid = shape
    make_ours, torch_cls = CELLS[cell]
    ours = make_ours(inp, hid).to(device)
    x = torch.randn(steps, batch, inp, device=device, requires_grad=True)
    state = tuple(torch.zeros(batch, hid, device=device) for _ in range(ours.cell.num_states))

    def bptt():
        ours(x)[0].sum().backward()

    def python():
        fused.set_enabled(False)
        try:
            ours(x)[0].sum().backward()
        finally:
            fused.set_enabled(True)

    def autograd():
        hs = snn.autograd_scan(ours.cell, x, state, *ours.cell_weights(0))
        torch.stack([s[0] for s in hs]).sum().backward()

    @torch.no_grad()
    def bptt_infer():  # inference: forward only, nothing kept for a backward
        ours(x)

    impls = {"bptt": bptt, "python": python, "autograd": autograd, "floor_py": _floor(GATES[cell], shape, device),
             "bptt_infer": bptt_infer}
    if _fused_loaded(device):
        impls["floor"] = _floor(GATES[cell], shape, device, from_cpp=True)
    if torch_cls is not None:
        native = torch_cls(inp, hid).to(device)
        native.load_state_dict(ours.state_dict())
        impls["native"] = lambda: native(x)[0].sum().backward()
        impls["native_infer"] = torch.no_grad()(lambda: native(x))
    return impls


def _fused_loaded(device: str) -> bool:
    return device == "cpu" and fused.is_enabled() and fused.load()


def interleaved_ms(fns: dict, reps: int, device: str) -> dict:
    """Median ms of each function, after one warm-up call each, timed rep by rep in turn."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(reps):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def measure(cell: str, shape, reps: int, device: str) -> dict:
    impls = _implementations(cell, shape, device)
    ms = interleaved_ms(impls, reps, device)
    ms.setdefault("floor", ms["floor_py"])
    row = {"cell": cell, "T": shape[0], "B": shape[1], "I": shape[2], "H": shape[3]}
    row.update({f"{name}_ms": round(v, 2) for name, v in ms.items()})
    if "native" in ms:
        row["bptt_over_native"] = round(ms["bptt"] / ms["native"], 3)
        row["native_over_floor"] = round(ms["native"] / ms["floor"], 3)
        row["bptt_infer_over_native_infer"] = round(ms["bptt_infer"] / ms["native_infer"], 3)
    row["bptt_over_floor"] = round(ms["bptt"] / ms["floor"], 3)
    row["bptt_over_python"] = round(ms["bptt"] / ms["python"], 3)
    row["autograd_over_bptt"] = round(ms["autograd"] / ms["bptt"], 3)
    for name in ("bptt", "python", "native"):
        if name in impls:
            row[f"{name}_peak_mb"] = round(peak_bytes(impls[name], device) / 2**20, 1)
    return row


LIMITS = {"avx2_limited": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
          "generic": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"}}


def limited(argv: list[str], name: str) -> dict:
    """This benchmark's rows again in a subprocess with oneDNN and ATen (so seqlab's loop too) limited: to AVX2
    (``avx2_limited``), or to no vector extension named (``generic``: seqlab's generic build, oneDNN's SSE4.1)."""
    import json
    import os
    import subprocess
    import tempfile

    env = {**os.environ, **LIMITS[name]}
    print(f"again with the ISA limited ({' '.join(f'{k}={v}' for k, v in LIMITS[name].items())}):", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        args = [a for i, a in enumerate(argv) if a not in ("--isa-pair", "--generic", "--sampling", "--out")
                and not a.startswith("--out=") and not (i and argv[i - 1] == "--out")]
        subprocess.run([sys.executable, __file__, *args, "--out", str(Path(tmp) / "limited.json")], env=env, check=True)
        record = json.loads((Path(tmp) / "limited.json").read_text())
    return {"env": LIMITS[name], "fused_isa": record["fused_isa"], "rows": record["rows"]}


def sampling_speed(device: str, steps: int = 200, reps: int = 3) -> list[dict]:
    """Tokens/s of one-token-at-a-time sampling with a carried state: seqlab LM vs torch.nn.LSTM, same weights."""
    from seqlab.models.lm import ModelConfig, build_lm

    vocab, rows = 65, []
    models = {}
    for backend in ("auto", "bptt"):
        torch.manual_seed(0)
        cfg = ModelConfig(cell="lstm", embed_size=128, hidden_size=512, num_layers=2, backend=backend)
        models[f"seqlab {backend}"] = build_lm(cfg, vocab).to(device).eval()
    ref = models["seqlab auto"]
    lstm = torch.nn.LSTM(128, 512, num_layers=2, batch_first=True).to(device).eval()
    lstm.load_state_dict(ref.rnn.state_dict())

    def torch_step(token, state):
        h, state = lstm(ref.embed(token[:, None]), state)
        return ref.decoder(h[:, -1]), state

    def python_step(token, state):
        fused.set_enabled(False)
        try:
            return models["seqlab bptt"].step_logits(token, state)
        finally:
            fused.set_enabled(True)

    steppers = {name: m.step_logits for name, m in models.items()}
    steppers["seqlab bptt, Python driver"] = python_step
    steppers["torch.nn.LSTM"] = torch_step
    for batch in (1, 64):
        times = {name: [] for name in steppers}
        for _ in range(reps):
            for name, step in steppers.items():
                token, state = torch.zeros(batch, dtype=torch.long, device=device), None
                _sync(device)
                t0 = time.perf_counter()
                with torch.no_grad():
                    for _ in range(steps):
                        logits, state = step(token, state)
                        token = torch.multinomial(logits.softmax(-1), 1)[:, 0]
                _sync(device)
                times[name].append(time.perf_counter() - t0)
        row = {"batch": batch, "steps": steps}
        row.update({f"{name} tokens/s": round(batch * steps / statistics.median(t)) for name, t in times.items()})
        rows.append(row)
        print(row, flush=True)
    return rows


def checkpoint_cost(device: str, shape=(4096, 4, 128, 128), every=(0, 256, 64), reps: int = 5) -> list[dict]:
    """LSTM layer with ``checkpoint=k``: forward+backward time and peak memory against k = 0 (off)."""
    steps, batch, inp, hid = shape
    x = torch.randn(steps, batch, inp, device=device, requires_grad=True)
    layers = {}
    for k in every:
        torch.manual_seed(0)
        layers[k] = snn.LSTM(inp, hid, backend="bptt", checkpoint=k).to(device)
    fns = {k: (lambda m=m: m(x)[0].sum().backward()) for k, m in layers.items()}
    ms = interleaved_ms(fns, reps, device)
    rows = []
    for k, fn in fns.items():
        row = {"cell": "lstm", "T": steps, "B": batch, "H": hid, "checkpoint": k, "ms": round(ms[k], 1),
               "time_over_off": round(ms[k] / ms[0], 3), "peak_mb": round(peak_bytes(fn, device) / 2**20, 1)}
        rows.append(row)
        print(row, flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9, help="timed repetitions per implementation (median reported)")
    ap.add_argument("--quick", action="store_true", help="first shape only, 3 reps (a smoke run)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=None, help="results file (default benchmarks/results/recurrent_speed.json)")
    ap.add_argument("--sampling", action="store_true", help="also the LM sampling speed (tokens/s, batch 1 and 64)")
    ap.add_argument("--isa-pair", action="store_true",
                    help="also the same run with the ISA limited to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2, "
                         "in a subprocess): both in one results file, under rows and avx2_limited")
    ap.add_argument("--generic", action="store_true",
                    help="also the same run with no vector extension named (ATEN_CPU_CAPABILITY=default "
                         "ONEDNN_MAX_CPU_ISA=SSE41: seqlab's generic build), under generic")
    ap.add_argument("--checkpoint-only", action="store_true",
                    help="only the cost of checkpoint=k (LSTM, T=4096, B=4, H=128): results/recurrent_checkpoint.json")
    ap.add_argument("--sampling-only", action="store_true",
                    help="only the LM sampling speed (as --sampling): results/recurrent_sampling.json")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    seed = 0
    torch.manual_seed(seed)
    shapes, reps = (SHAPES[:1], 3) if args.quick else (SHAPES, args.reps)
    start = time.perf_counter()
    if args.checkpoint_only:
        rows = checkpoint_cost(args.device)
        path = write_results("recurrent_checkpoint", {"device": args.device, "fused": _fused_loaded(args.device),
                                                      "seed": seed, "rows": rows}, time.perf_counter() - start, args.out)
        print(f"wrote {path}")
        return 0
    if args.sampling_only:
        path = write_results("recurrent_sampling" + ("_cuda" if args.device == "cuda" else ""),
                             {"device": args.device, "fused": _fused_loaded(args.device),
                              "fused_isa": fused.isa() if _fused_loaded(args.device) else None, "seed": seed,
                              "rows": sampling_speed(args.device)}, time.perf_counter() - start, args.out)
        print(f"wrote {path}")
        return 0
    rows = []
    nan = float("nan")
    print(f"fused C++ loop: {'yes' if _fused_loaded(args.device) else 'no (Python driver)'}")
    print(f"{'cell':14s} {'T':>4s} {'B':>3s} {'H':>4s} {'bptt ms':>8s} {'python ms':>9s} {'native ms':>9s} "
          f"{'floor ms':>8s} {'bptt/native':>11s} {'bptt/floor':>10s} {'native/floor':>12s} "
          f"{'bptt MB':>7s} {'python MB':>9s} {'native MB':>9s} {'infer/native':>12s}")
    for shape in shapes:
        for cell in CELLS:
            row = measure(cell, shape, reps, args.device)
            rows.append(row)
            print(f"{cell:14s} {row['T']:4d} {row['B']:3d} {row['H']:4d} {row['bptt_ms']:8.1f} {row['python_ms']:9.1f} "
                  f"{row.get('native_ms', nan):9.1f} {row['floor_ms']:8.1f} "
                  f"{row.get('bptt_over_native', nan):11.2f} {row['bptt_over_floor']:10.2f} "
                  f"{row.get('native_over_floor', nan):12.2f} {row['bptt_peak_mb']:7.1f} {row['python_peak_mb']:9.1f} "
                  f"{row.get('native_peak_mb', nan):9.1f} {row.get('bptt_infer_over_native_infer', nan):12.2f}", flush=True)
    name = ("recurrent_speed" + ("_generic" if args.generic else "") + ("_quick" if args.quick else "")
            + ("_cuda" if args.device == "cuda" else ""))
    figures = {"device": args.device, "fused": _fused_loaded(args.device), "reps": reps, "seed": seed, "overhead_bound_shape": list(OVERHEAD_BOUND),
               "goal": "bptt <= 1.1x floor and <= 1.0x native (overhead-bound shape: <= 1.3x native)", "rows": rows}
    figures["fused_isa"] = fused.isa() if _fused_loaded(args.device) else None
    if args.sampling:
        figures["sampling"] = sampling_speed(args.device)
    for limit, wanted in (("avx2_limited", args.isa_pair), ("generic", args.generic)):
        if wanted:
            figures[limit] = limited(sys.argv[1:] if argv is None else argv, limit)
    path = write_results(name, figures, time.perf_counter() - start, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
