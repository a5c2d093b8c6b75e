"""German->English translation on Multi30k: BLEU (sacrebleu) of the GRU+attention model and the Transformer.

Each model trains within its time budget (default 60 minutes on the 2-core CPU), then
translates the validation set (and --test-src/--test-ref when given: the withheld
test2016 split is scored with the same code).  BLEU is sacrebleu's corpus BLEU on
detokenised, case-sensitive output against the raw references (13a tokenisation; the
signature is recorded).  Baselines (SOURCES.md, bentrevett/pytorch-seq2seq, test2016,
spaCy-tokenised lowercased BLEU, so not strictly comparable): GRU + Bahdanau attention
28.30, Transformer 36.52.

    python benchmarks/mt_multi30k.py [--arch rnn|transformer|both] [--minutes 60] [--beam 5] [--key=value ...]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parser, previous_rows, write_results

from seqlab.data.files import read_text
from seqlab.errors import UserError
from seqlab.tasks import translate
from seqlab.train.config import parse_overrides, set_key, to_dict

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mt" / "multi30k"
PRESETS = {"rnn": "multi30k-gru-attention", "transformer": "multi30k-transformer"}


def run_one(arch: str, args, overrides) -> dict:
    cfg = translate.TASK.preset(PRESETS[arch])
    cfg.data.path, cfg.train.max_minutes = args.data, args.minutes
    for key, value in overrides:
        set_key(cfg, key, value)
    run_dir = Path(args.runs) / f"bench-mt-{arch}"
    start = time.perf_counter()
    metrics = translate.TASK.train(cfg, run_dir)
    train_s = time.perf_counter() - start
    run = translate.TASK.load(run_dir)
    src, ref = translate.split_files(cfg.data, "valid")
    row = {"arch": arch, "preset": PRESETS[arch], "train_s": round(train_s, 1), "steps": metrics["steps"],
           "valid_loss": round(metrics["best"]["value"], 4), "config": to_dict(cfg)}
    t0 = time.perf_counter()
    row["valid"] = translate.score(translate.translate_lines(run, read_text(src).splitlines(), args.beam),
                                   read_text(ref).splitlines())
    row["decode_s"] = round(time.perf_counter() - t0, 1)
    if args.test_src:
        hyps = translate.translate_lines(run, read_text(args.test_src).splitlines(), args.beam)
        row["test"] = translate.score(hyps, read_text(args.test_ref).splitlines())
    valid = row["valid"]
    print(f"{arch}: valid BLEU {valid['bleu']} (lowercased {valid['bleu_lc']}) chrF {valid['chrf']} "
          f"after {row['steps']} steps in {row['train_s']:.0f} s", flush=True)
    return row


def main(argv=None) -> int:
    ap = parser(__doc__.splitlines()[0], "runs", minutes=60.0, minutes_help="training time budget per model")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--arch", default="both", choices=["rnn", "transformer", "both"])
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--test-src", default="")
    ap.add_argument("--test-ref", default="")
    args, rest = ap.parse_known_args(argv)
    start = time.perf_counter()
    try:
        if not Path(args.data).is_dir():
            raise UserError(f"--data {args.data} is not a directory (the shared datasets live in ../shared/data)")
        if bool(args.test_src) != bool(args.test_ref):
            raise UserError("--test-src and --test-ref go together")
        archs = ["rnn", "transformer"] if args.arch == "both" else [args.arch]
        overrides = parse_overrides(rest)
        rows = earlier_rows(archs)
        for arch in archs:  # the results file is rewritten after each model, keeping the other's row
            rows = [r for r in rows if r["arch"] != arch] + [run_one(arch, args, overrides)]
            rows.sort(key=lambda r: list(PRESETS).index(r["arch"]))
            figures = {"data": args.data, "beam": args.beam, "minutes_per_model": args.minutes, "goal": GOAL,
                       "bleu_tokenisation": TOKENISATION, "rows": rows}
            print(f"wrote {write_results('mt_multi30k', figures, time.perf_counter() - start)}")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


GOAL = "valid BLEU: GRU+attention >= 28.3, Transformer >= 36.5, each within 60 min on a 2-core CPU"
TOKENISATION = ("sacrebleu 13a on detokenised output against the raw references: 'bleu' case-sensitive, "
                "'bleu_lc' lowercased (the baselines' casing; they also used spaCy tokens, so still not identical)")


def earlier_rows(archs: list[str]) -> list[dict]:
    """Rows of the models not run this time, from the last results file (when there is one)."""
    return [r for r in previous_rows("mt_multi30k") if r.get("arch") not in archs]


if __name__ == "__main__":
    sys.exit(main())
