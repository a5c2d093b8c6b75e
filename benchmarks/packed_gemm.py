"""The recurrent products of an LSTM step: plain sgemm_, MKL's packed GEMM, and seqlab's own packed kernel.

The fused loop (seqlab.nn.fused) does two small products per step with the same weights,
T times over: forward ``a_t += h_{t-1} W_hh^T`` (B x H by H x 4H) and backward
``dL/dh_{t-1} = dL/da_t W_hh`` (B x 4H by 4H x H).  MKL can pack a matrix once into its
kernel's internal layout (``cblas_sgemm_pack``) and then multiply by it many times
(``cblas_sgemm_compute``), skipping the copy that every ``sgemm_`` call makes of its operands;
both are exported by libtorch_cpu (the MKL that torch links), and are timed from C (one loop
of T calls per timing, so that no Python cost enters).  seqlab's loop packs W_hh itself into
panels of two vectors of columns and multiplies with a register-blocked kernel of its own
(``csrc/gemm.h``); it is timed through ``torch.ops.seqlab.step_products`` (one call, T products
of the whole batch, split over the threads by panels of columns -- as the loop does them where
it does not split its batch rows between the threads).  Each packed time includes its packing,
once per sequence as the loop does it.  At the LSTM shapes of benchmarks/recurrent_speed.py, interleaved rep by
rep, checking that all give the same numbers -- natively, then in a subprocess with MKL limited
to AVX2 (``MKL_ENABLE_INSTRUCTIONS=AVX2``); the results file names the CPU and its flags and
the build of seqlab's loop.

    python benchmarks/packed_gemm.py [--reps 30] [--steps 100]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, machine, write_results

from seqlab.errors import UserError

SHAPES = [(64, 256), (32, 128), (128, 512), (8, 64)]  # (B, H) of recurrent_speed.py's LSTM rows; G = 4

SOURCE = r"""
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
size_t cblas_sgemm_pack_get_size(int identifier, int m, int n, int k);
void cblas_sgemm_pack(int layout, int identifier, int trans, int m, int n, int k, float alpha, const float* src,
                      int ld, float* dest);
void cblas_sgemm_compute(int layout, int transa, int transb, int m, int n, int k, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc);
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
            const float*, const int*, const float*, float*, const int*);
enum { ROW = 101, NOTRANS = 111, TRANS = 112, PACKED = 151, BMATRIX = 162 };

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

/* T products, row-major: forward (backward = 0) C (M x N) = X (M x K) W^T with W (N x K);
   backward (backward = 1) C (M x K) = X (M x N) W with W (N x K).  packed: W packed first (timed). */
double run(int packed, int backward, int M, int N, int K, int T, const float* X, const float* W, float* C) {
  const float one = 1.f, zero = 0.f;
  double t0 = now();
  if (!packed) {
    for (int t = 0; t < T; ++t) {
      if (!backward) sgemm_("T", "N", &N, &M, &K, &one, W, &K, X, &K, &zero, C, &N);
      else sgemm_("N", "N", &K, &M, &N, &one, W, &K, X, &N, &zero, C, &K);
    }
    return now() - t0;
  }
  int n = backward ? K : N, k = backward ? N : K;
  float* Wp = (float*)malloc(cblas_sgemm_pack_get_size(BMATRIX, M, n, k));
  cblas_sgemm_pack(ROW, BMATRIX, backward ? NOTRANS : TRANS, M, n, k, 1.f, W, K, Wp);
  for (int t = 0; t < T; ++t) cblas_sgemm_compute(ROW, NOTRANS, PACKED, M, n, k, X, k, Wp, K, 0.f, C, n);
  double seconds = now() - t0;
  free(Wp);
  return seconds;
}
"""


def library(tmp: Path) -> ctypes.CDLL:
    """The timing loop above, compiled against libtorch_cpu (whose MKL exports both entry points)."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise UserError("no C compiler (cc or gcc; or set CC): the timing loop is compiled C")
    lib = Path(torch.__file__).parent / "lib"
    (tmp / "loop.c").write_text(SOURCE)
    out = tmp / "loop.so"
    done = subprocess.run([cc, "-O2", "-shared", "-fPIC", str(tmp / "loop.c"), "-o", str(out), f"-L{lib}",
                           f"-Wl,-rpath,{lib}", "-ltorch_cpu"], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"compiling the timing loop failed: {done.stderr.strip().splitlines()[-1]}")
    so = ctypes.CDLL(str(out))
    so.run.restype = ctypes.c_double
    so.run.argtypes = [ctypes.c_int] * 6 + [ctypes.c_void_p] * 3
    return so


def measure(reps: int, steps: int) -> list[dict]:
    from seqlab.nn import fused

    if not fused.load():
        raise UserError("seqlab's fused loop is not built here (see seqlab.nn.fused): nothing of its own to time")
    ours = torch.ops.seqlab.step_products
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        so = library(Path(tmp))
        for B, H in SHAPES:
            N, K = 4 * H, H
            W = torch.randn(N, K) / K**0.5
            for backward in (0, 1):
                X = torch.randn(B, N if backward else K)
                out = {p: torch.zeros(B, K if backward else N) for p in (0, 1)}
                times = {0: [], 1: [], 2: []}
                for _ in range(reps + 2):  # two warm-up reps
                    for p in (0, 1):
                        times[p].append(so.run(p, backward, B, N, K, steps, X.data_ptr(), W.data_ptr(),
                                               out[p].data_ptr()))
                    t0 = time.perf_counter()
                    out[2] = ours(steps, X, W, bool(backward))
                    times[2].append(time.perf_counter() - t0)
                reference = X @ W if backward else X @ W.T
                plain, packed, own = (statistics.median(times[p][2:]) / steps * 1e6 for p in (0, 1, 2))
                rows.append({"B": B, "H": H, "product": "dL/da W_hh (backward)" if backward else "h W_hh^T (forward)",
                             "sgemm_us": round(plain, 2), "packed_us": round(packed, 2), "seqlab_us": round(own, 2),
                             "packed_over_sgemm": round(packed / plain, 3), "seqlab_over_sgemm": round(own / plain, 3),
                             "max_abs_diff": float(max((out[p] - reference).abs().max() for p in (0, 1, 2)))})
                print(_line(rows[-1]), flush=True)
    return rows


def _line(r: dict) -> str:
    return (f"B={r['B']:4d} H={r['H']:4d} {r['product']:24s} sgemm_ {r['sgemm_us']:8.2f} us  MKL packed "
            f"{r['packed_us']:8.2f} us ({r['packed_over_sgemm']:.3f})  seqlab packed {r['seqlab_us']:8.2f} us "
            f"({r['seqlab_over_sgemm']:.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--steps", type=int, default=100, help="products per timing (T, the sequence length)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.reps, args.steps)))
        return
    start = time.perf_counter()
    print(f"native ISA ({', '.join(machine()['cpu_flags'])}): T={args.steps}, median of {args.reps}", flush=True)
    runs = {"native": measure(args.reps, args.steps)}
    print("MKL limited to AVX2 (MKL_ENABLE_INSTRUCTIONS=AVX2):", flush=True)
    child = subprocess.run([sys.executable, __file__, "--child", f"--reps={args.reps}", f"--steps={args.steps}"],
                           env={**os.environ, "MKL_ENABLE_INSTRUCTIONS": "AVX2"}, capture_output=True, text=True,
                           check=True)
    runs["avx2"] = json.loads(child.stdout.strip().splitlines()[-1])
    for r in runs["avx2"]:
        print(_line(r))
    from seqlab.nn import fused

    path = write_results("packed_gemm", {"config": {"reps": args.reps, "steps": args.steps, "shapes": SHAPES,
                                                    "seed": 0, "seqlab_build": fused.isa()},
                                         "runs": runs}, time.perf_counter() - start)
    print(f"wrote {path}")


if __name__ == "__main__":
    exit_on_user_error(main)
