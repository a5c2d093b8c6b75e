"""DNA splice junctions (biological sequence -> class): stratified 10-fold cross-validation on the UCI file.

3,190 primate sequences of 60 nucleotides, classes EI (exon -> intron), IE (intron -> exon)
and N (neither).  There is no official split, so every model is scored by the same seeded,
stratified 10 folds: in each, a stratified ninth of the training part is held out to
choose the epoch (the recurrent model) or the regularisation C (the baselines), and the
fold's test part is scored once.  Rows: a character BiLSTM with additive-attention pooling
over the positions (``seqlab train classify --preset splice-bilstm``), and two baselines fitted in the
same run: k-mer bag (k = 1..4) + logistic regression, and one-hot letters per position +
logistic regression (scikit-learn).  Reported: mean +- std over the folds of accuracy and
per-class F1.  Goal: mean accuracy >= 96% and above both baselines.

    python benchmarks/dna_splice.py [--data splice.data] [--folds 10] [--presets splice-bilstm] [--test FILE]

``--test FILE`` (same format) adds a row per model trained on the whole file and scored on FILE.
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import configure, exit_on_user_error, parser, train_or_resume, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dna" / "splice.data"
C_GRID = (0.01, 0.1, 1.0, 10.0)


def write_part(path: Path, examples, indices) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{examples[i].label}, seq-{i}, {examples[i].text}\n" for i in indices))
    return str(path)


def scores(gold, predicted, labels) -> dict:
    from seqlab.metrics.classification import classification_scores

    s = classification_scores(gold, predicted, labels)
    return {"accuracy": round(s["accuracy"], 4), "f1": {c: s["per_class"][c]["f1"] for c in labels}}


def baseline(make, examples, train, valid, test, labels) -> dict:
    """C chosen on the validation part, then refitted on train + valid and scored on the test part."""
    def fit(C, idx):
        return make(C=C).fit([examples[i].text for i in idx], [examples[i].label for i in idx])

    gold_valid = [examples[i].label for i in valid]
    best = max(C_GRID, key=lambda C: sum(g == p for g, p in zip(
        gold_valid, fit(C, train).predict([examples[i].text for i in valid]))))
    predicted = fit(best, train + valid).predict([examples[i].text for i in test]).tolist()
    return {**scores([examples[i].label for i in test], predicted, labels), "C": best}


def recurrent(preset, examples, train, valid, test_file, run_dir: Path, args, rest, labels) -> dict:
    from seqlab.tasks import registry

    task = registry.get("classify")
    cfg = configure("classify", preset, {"data.path": write_part(run_dir / "train.data", examples, train),
                                         "data.valid": write_part(run_dir / "valid.data", examples, valid),
                                         "train.seed": args.seed}, args.minutes, rest)
    start = time.perf_counter()
    final = train_or_resume(task, cfg, run_dir)
    run = task.load(run_dir, "auto")
    test = task.evaluate(run, task.evaluate_options(data=test_file, plot=str(run_dir / "confusion_test.png")))
    return {"accuracy": round(test["accuracy"], 4), "f1": {c: test["per_class"][c]["f1"] for c in labels},
            "train_time_s": round(time.perf_counter() - start, 1), "steps": final["steps"],
            "best_valid_accuracy": round(final["best"]["value"], 4)}


def summary(rows: list[dict], labels) -> dict:
    acc = [r["accuracy"] for r in rows]
    out = {"accuracy_mean": round(statistics.mean(acc), 4), "accuracy_std": round(statistics.stdev(acc), 4)
           if len(acc) > 1 else 0.0}
    for c in labels:
        f = [r["f1"][c] for r in rows]
        out[f"f1_{c}_mean"], out[f"f1_{c}_std"] = round(statistics.mean(f), 4), (
            round(statistics.stdev(f), 4) if len(f) > 1 else 0.0)
    return out


def main(argv=None) -> None:
    from seqlab.baselines import kmer_logistic, onehot_logistic
    from seqlab.data.folds import stratified_folds, stratified_hold_out
    from seqlab.data.splice import read_splice

    ap = parser(__doc__.splitlines()[0], "runs/bench-dna_splice", minutes=None, minutes_help="training time budget per fold (default: the preset's)", test="a held-out file in the same format, scored by models trained on --data")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0, help="the folds, the validation draws and training")
    ap.add_argument("--presets", default="splice-bilstm")
    args, rest = ap.parse_known_args(argv)
    if not Path(args.data).is_file():
        raise SystemExit(f"error: --data {args.data} does not exist (the shared datasets live in ../shared/data)")
    examples = read_splice(args.data)
    labels = sorted({ex.label for ex in examples})
    all_labels = [ex.label for ex in examples]
    folds = stratified_folds(all_labels, args.folds, args.seed)
    models = {"kmer-logistic": kmer_logistic, "onehot-logistic": onehot_logistic}
    start, results = time.perf_counter(), {}

    def split_off(train_idx, k):
        kept, held = stratified_hold_out([all_labels[i] for i in train_idx], 1 / 9, args.seed + k)
        return [train_idx[i] for i in kept], [train_idx[i] for i in held]

    def save():
        return write_results("dna_splice", {
            "data": args.data, "folds": args.folds, "seed": args.seed, "labels": labels,
            "goal": "mean accuracy >= 96% and above both baselines",
            "models": {name: {**summary(r["folds"], labels), **r} for name, r in results.items()}},
            time.perf_counter() - start)

    for name, make in models.items():
        t = time.perf_counter()
        rows = []
        for k, (train_idx, test_idx) in enumerate(folds):
            train, valid = split_off(train_idx, k)
            rows.append(baseline(make, examples, train, valid, test_idx, labels))
        results[name] = {"folds": rows, "wall_time_s": round(time.perf_counter() - t, 1)}
        print(name, summary(rows, labels), flush=True)
        save()
    for preset in [p for p in args.presets.split(",") if p]:
        rows = []
        for k, (train_idx, test_idx) in enumerate(folds):
            train, valid = split_off(train_idx, k)
            run_dir = Path(args.runs) / preset / f"fold-{k}"
            test_file = write_part(run_dir / "test.data", examples, test_idx)
            rows.append(recurrent(preset, examples, train, valid, test_file, run_dir, args, rest, labels))
            print(preset, f"fold {k}", rows[-1], flush=True)
            results[preset] = {"folds": rows, "config": _config(preset, rest)}
            save()
        print(preset, summary(rows, labels), flush=True)
    if args.test:
        _test_rows(args, rest, examples, labels, models, results, split_off)
    print(f"wrote {save()}")


def _config(preset, rest) -> dict:
    import dataclasses

    return dataclasses.asdict(configure("classify", preset, {}, None, rest))


def _test_rows(args, rest, examples, labels, models, results, split_off) -> None:
    """Every model trained on the whole --data file (a stratified ninth held out for selection), scored on --test."""
    from seqlab.data.splice import read_splice

    test = read_splice(args.test)
    everything = examples + test
    train, valid = split_off(list(range(len(examples))), len(labels))
    test_idx = list(range(len(examples), len(everything)))
    for name, make in models.items():
        results[name]["test"] = baseline(make, everything, train, valid, test_idx, labels)
    for preset in [p for p in args.presets.split(",") if p]:
        run_dir = Path(args.runs) / preset / "all"
        test_file = write_part(run_dir / "test.data", everything, test_idx)
        results[preset]["test"] = recurrent(preset, everything, train, valid, test_file, run_dir, args, rest, labels)


if __name__ == "__main__":
    exit_on_user_error(main)
