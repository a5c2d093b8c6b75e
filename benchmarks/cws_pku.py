"""Chinese word segmentation on SIGHAN 2005 PKU, with jieba beside the model, scored by the same SIGHAN scorer.

The only PKU segmented text here is the gold test file (pku_test_gold.utf8, 1,944
sentences): its first 90% of sentences train the model (the last tenth of those select
it), and its final 10% is this benchmark's test.  So the figures are NOT comparable with
published PKU results, which train on the 1.1M-word PKU training corpus (not available
here) and test on the whole gold file.  jieba (its own dictionary, HMM on) segments the
same held-out sentences.  Goal: F1 >= 0.93 on the held-out 10%, far above jieba's.

Two rows: the BiLSTM-CRF on character unigrams and bigrams, and the same with word-list
features (``data.lexicon``: does a word of the official PKU training word list, which
comes from the training corpus and not from the gold file, start or end at this
character).

OOV recall is given against the words of our training part (what the model saw) and,
as a second figure, against the official PKU training word list.

    python benchmarks/cws_pku.py [--gold pku_test_gold.utf8] [--words pku_training_words.utf8] [--test FILE]
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, parser, plain, train_or_resume, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cws" / "icwb2-data" / "gold"


def _split(gold: Path, out: Path) -> dict[str, Path]:
    """train / valid / test files from the gold file's sentences, in order (90% x 0.9 / 90% x 0.1 / 10%)."""
    from seqlab.data.files import read_text

    lines = [" ".join(line.split()) for line in read_text(gold, "--gold").splitlines() if line.strip()]
    cut = round(len(lines) * 0.9)
    select = cut - round(cut * 0.1)
    out.mkdir(parents=True, exist_ok=True)
    parts = {"train": lines[:select], "valid": lines[select:cut], "test": lines[cut:]}
    paths = {}
    for name, part in parts.items():
        paths[name] = out / f"{name}.utf8"
        paths[name].write_text("\n".join(part) + "\n", encoding="utf-8")
    return paths


def _jieba(test: Path, train_words: set[str], official: set[str]) -> dict:
    import jieba

    from seqlab.data.tagged import read_segmented
    from seqlab.metrics.segmentation import segmentation_scores

    jieba.setLogLevel(60)
    gold = [s.words for s in read_segmented(test).sentences]
    start = time.perf_counter()
    predicted = [[w for w in jieba.cut("".join(words), HMM=True) if w.strip()] for words in gold]
    seconds = time.perf_counter() - start
    scores = segmentation_scores(gold, predicted, train_words)
    scores["oov_recall_official_list"] = segmentation_scores(gold, predicted, official)["oov_recall"]
    return {"model": f"jieba {jieba.__version__} (default dictionary, HMM)", "segment_time_s": round(seconds, 2),
            **plain(scores)}


def _row(name: str, extra: dict, args, files: dict, overrides: list[str]) -> dict:
    """Train (or resume) one model on the training part; its scores on the selection part and the held-out 10%."""
    from seqlab.tasks import registry
    from seqlab.tasks.tag import evaluate_file

    task = registry.get("tag")
    settings = {"data.path": str(files["train"]), "data.valid": str(files["valid"]), **extra}
    cfg = configure("tag", args.preset, settings, args.minutes, overrides)
    run_dir = Path(args.runs) / name
    final = train_or_resume(task, cfg, run_dir)
    run = task.load(run_dir, "auto")

    def score(path: str) -> dict:
        scores = evaluate_file(run, path)
        scores["oov_recall_official_list"] = evaluate_file(run, path, train_words=args.words)["oov_recall"]
        return plain(scores)

    valid_rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
                  if '"valid"' in line]
    row = {"row": name, "preset": args.preset, "parameters": sum(p.numel() for p in run.model.parameters()),
           "train_time_s": valid_rows[-1]["time_s"], "steps": final["steps"], "seed": cfg.train.seed,
           "valid": score(str(files["valid"])), "heldout_test": score(str(files["test"])),
           "valid_curve": [{"step": r["step"], "time_s": r["time_s"], "f1": round(r["f1"], 4)} for r in valid_rows],
           "config": config_of(cfg)}
    if args.test:
        row["test"] = score(args.test)
    return row


def main(argv=None) -> None:
    from seqlab.errors import UserError

    ap = parser(__doc__.splitlines()[0], "runs/bench-cws_pku", minutes=None, test="another segmented gold file, scored with the same code")
    ap.add_argument("--gold", default=str(DATA / "pku_test_gold.utf8"))
    ap.add_argument("--words", default=str(DATA / "pku_training_words.utf8"), help="official training word list")
    ap.add_argument("--preset", default="pku-bilstm-crf")
    ap.add_argument("--rows", default="bilstm-crf,bilstm-crf+wordlist", help="comma-separated rows to run")
    args, rest = ap.parse_known_args(argv)
    for path in (args.gold, args.words):
        if not Path(path).is_file():
            raise UserError(f"{path} does not exist (the shared datasets live in ../shared/data)")
    start = time.perf_counter()
    files = _split(Path(args.gold), Path(args.runs) / "data")
    variants = {"bilstm-crf": {}, "bilstm-crf+wordlist": {"data.lexicon": args.words}}
    rows = []
    for name in args.rows.split(","):
        if name not in variants:
            raise UserError(f"--rows: unknown row {name!r}; rows: {', '.join(variants)}")
        rows.append(_row(name, variants[name], args, files, rest))
        print(json.dumps({"row": name, **rows[-1]["heldout_test"]}, ensure_ascii=False), flush=True)
    train_words = set(files["train"].read_text(encoding="utf-8").split())
    baseline = _jieba(files["test"], train_words, set(Path(args.words).read_text(encoding="utf-8").split()))
    sentences = {k: sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.strip())
                 for k, p in files.items()}
    figures = {"goal": "F1 >= 0.93 on the held-out last 10% of pku_test_gold, far above jieba",
               "split": "pku_test_gold.utf8 sentences in order: first 90% train (last tenth of it: model selection), "
                        "final 10% held-out test; not comparable with published PKU results",
               "sentences": sentences, "runs": rows, "jieba": baseline}
    path = write_results("cws_pku", figures, time.perf_counter() - start)
    print(json.dumps({"jieba": baseline}, ensure_ascii=False))
    print(f"wrote {path}")


if __name__ == "__main__":
    from seqlab.errors import UserError

    try:
        main()
    except UserError as e:
        raise SystemExit(f"error: {e}") from None
