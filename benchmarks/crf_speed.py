"""seqlab's linear-chain CRF beside pytorch-crf: same log-likelihood, and the time of forward (NLL) and Viterbi.

Random emissions and tags, variable lengths, float32 on the CPU; both layers get the
same transition weights.  Timings are medians of interleaved repetitions.

    python benchmarks/crf_speed.py [--reps 20]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results

from seqlab.nn.crf import LinearChainCRF

SHAPES = [(32, 40, 17), (64, 60, 9), (16, 120, 4)]  # (B, T, K): CoNLL BIOES tags, IOB2, BMES


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _measure(B: int, T: int, K: int, reps: int) -> dict:
    import torchcrf

    torch.manual_seed(0)
    ref = torchcrf.CRF(K, batch_first=True)
    ours = LinearChainCRF(K)
    ours.load_state_dict({"transitions": ref.transitions.data, "start_transitions": ref.start_transitions.data,
                          "end_transitions": ref.end_transitions.data})
    e = torch.randn(B, T, K, requires_grad=True)
    tags = torch.randint(0, K, (B, T))
    mask = torch.arange(T) < torch.randint(1, T + 1, (B,))[:, None]
    mask[:, 0] = True
    diff = float((ref(e, tags, mask, reduction="none") + ours(e, tags, mask)).abs().max())
    same_paths = ref.decode(e, mask) == ours.decode(e, mask)
    jobs = {"ours_nll": lambda: ours(e, tags, mask).sum().backward(), "ref_nll": lambda: (-ref(e, tags, mask)).backward(),
            "ours_viterbi": lambda: ours.decode(e, mask), "ref_viterbi": lambda: ref.decode(e, mask)}
    timings = {name: [] for name in jobs}
    for _ in range(reps):  # interleaved
        for name, job in jobs.items():
            timings[name].append(_timed(job))
    ms = {k: round(1000 * statistics.median(v), 3) for k, v in timings.items()}
    return {"B": B, "T": T, "K": K, "max_abs_loglik_diff": diff, "same_viterbi_paths": same_paths, **ms,
            "nll_ref_over_ours": round(ms["ref_nll"] / ms["ours_nll"], 2),
            "viterbi_ref_over_ours": round(ms["ref_viterbi"] / ms["ours_viterbi"], 2)}


def main() -> None:
    import torchcrf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    start, rows = time.perf_counter(), []
    for B, T, K in SHAPES:
        rows.append(_measure(B, T, K, args.reps))
        print(rows[-1], flush=True)
    path = write_results("crf_speed", {"reps": args.reps, "note": "forward = NLL + backward; ms are medians",
                                       "pytorch_crf": torchcrf.__version__, "rows": rows}, time.perf_counter() - start)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
