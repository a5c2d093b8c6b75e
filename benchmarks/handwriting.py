"""Handwritten digit strips (scikit-learn's optical digits): CTC and attention decoders, and length generalisation.

Rows:
* ``digits-ctc`` and ``digits-attention`` trained on strips of 3-8 digits, scored on 2,000 test strips
  of 3-8 digits drawn from the test images only (greedy and beam 4), with per-length tables;
* the same two decoders trained on 3-6 digits only, scored on 3-6 and on 7-10 (lengths never seen);
* a baseline with **oracle segmentation**: a per-digit classifier (an RBF SVM on the 64 pixels, C chosen
  on the validation images) applied to the true box of every digit in the same test strips -- the
  segmentation the sequence models are not given.

    python benchmarks/handwriting.py [--minutes 20] [--generalisation-minutes M] [--runs DIR]
                                     [--only ctc,attention,ctc-3-6,attention-3-6,baseline] [--section.key=value ...]

The digits ship with scikit-learn, so there is no data path; ``--test-seed`` draws other test strips.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, exit_on_user_error, parser, previous_rows, train_or_resume, write_results

GOAL = ("test CER <= 2% and string accuracy >= 90% at lengths 3-8 within 20 minutes of training per model; "
        "lengths 7-10 after training on 3-6: CTC vs attention")
ROWS = {"ctc": ("digits-ctc", "3-8"), "attention": ("digits-attention", "3-8"),
        "ctc-3-6": ("digits-ctc", "3-6"), "attention-3-6": ("digits-attention", "3-6")}


def _train_and_score(name: str, args, rest) -> dict:
    from seqlab import plots
    from seqlab.tasks import handwriting

    preset, lengths = ROWS[name]
    minutes = args.minutes if lengths == "3-8" else (args.generalisation_minutes or args.minutes)
    cfg = configure("handwriting", preset, {"data.lengths": lengths}, minutes, rest)
    run_dir = Path(args.runs) / name
    final = train_or_resume(handwriting.TASK, cfg, run_dir)
    valid_rows = [r for r in plots.read_metrics(run_dir) if r.get("split") == "valid"]
    run = handwriting.TASK.load(run_dir, "auto")
    row = {"row": name, "preset": preset, "train_lengths": lengths, "train_time_s": valid_rows[-1]["time_s"],
           "steps": final["steps"], "seed": cfg.train.seed, "best_valid_cer": round(final["best"]["value"], 4),
           "parameters": sum(p.numel() for p in run.model.parameters()), "test": {}, "config": config_of(cfg)}
    for test_lengths in (["3-8"] if lengths == "3-8" else ["3-6", "7-10"]):
        for beam in (1, 4):
            options = handwriting.EvaluateOptions("test", test_lengths, args.strips, args.test_seed, beam)
            m = handwriting.evaluate(run, options)
            row["test"][f"{test_lengths} beam {beam}"] = _round(m)
            print(f"{name}: {handwriting.report(run, m)}", flush=True)
    return row


def _round(m: dict):
    if isinstance(m, dict):
        return {k: _round(v) for k, v in m.items()}
    return round(m, 4) if isinstance(m, float) else m


def oracle_baseline(args) -> dict:
    """An RBF SVM per digit on the true boxes of the test strips (C picked on the validation images)."""
    import numpy as np
    import torch.nn.functional as F
    from sklearn.svm import SVC

    from seqlab.data.strips import digits, source_split, strips
    from seqlab.tasks.handwriting import HandwritingDataConfig, error_rates

    images, labels = digits()
    parts = source_split(0)
    x = images.reshape(len(images), -1)
    start = time.perf_counter()
    scores = {c: SVC(C=c, gamma="scale").fit(x[parts["train"]], labels[parts["train"]])
              .score(x[parts["valid"]], labels[parts["valid"]]) for c in (1, 3, 10, 30)}
    best = max(scores, key=scores.get)
    svm = SVC(C=best, gamma="scale").fit(x[np.concatenate([parts["train"], parts["valid"]])],
                                         labels[np.concatenate([parts["train"], parts["valid"]])])
    fit_s = time.perf_counter() - start
    row = {"row": "oracle-svm", "model": f"RBF SVM on 64 pixels, C={best} (validation accuracy by C: "
                                         f"{ {c: round(s, 4) for c, s in scores.items()} })", "fit_time_s": round(fit_s, 1),
           "test": {}}
    cfg = HandwritingDataConfig()
    for lengths in ((3, 8), (7, 10)):
        items = strips(parts["test"], args.strips, lengths, args.test_seed, cfg)
        guesses = []
        for s in items:
            boxes = [s.image[top : top + h, left : left + w] for left, top, w, h in s.boxes]
            small = [F.adaptive_avg_pool2d(b[None, None], (8, 8))[0, 0].numpy().ravel() for b in boxes]
            guesses.append(svm.predict(np.stack(small)).tolist())
        m = error_rates([s.digits for s in items], guesses)
        row["test"][f"{lengths[0]}-{lengths[1]}"] = _round({k: v for k, v in m.items() if k != "selection"})
        print(f"oracle SVM on true boxes, {lengths[0]}-{lengths[1]} digits: CER {m['cer']:.4f}, "
              f"string accuracy {m['string_accuracy']:.4f}", flush=True)
    return row


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0], "runs/bench-handwriting", minutes=20.0, minutes_help="training budget of the 3-8 models")
    ap.add_argument("--generalisation-minutes", type=float, default=None, help="of the 3-6 models (default: --minutes)")
    ap.add_argument("--strips", type=int, default=2000, help="test strips per length range")
    ap.add_argument("--test-seed", type=int, default=12345)
    ap.add_argument("--only", default="baseline," + ",".join(ROWS))
    args, rest = ap.parse_known_args()
    start, rows = time.perf_counter(), []
    names = [n for n in args.only.split(",") if n]
    kept = [r for r in previous_rows("handwriting")
            if r["row"] not in names and not (r["row"] == "oracle-svm" and "baseline" in names)]
    for name in names:
        rows.append(oracle_baseline(args) if name == "baseline" else _train_and_score(name, args, rest))
        write_results("handwriting", {"goal": GOAL, "strips": args.strips, "test_seed": args.test_seed,
                                      "rows": kept + rows}, time.perf_counter() - start)
    print("wrote results/handwriting.json")


if __name__ == "__main__":
    exit_on_user_error(main)
