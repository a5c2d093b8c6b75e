"""DNA splice junctions (biological sequence -> class): stratified 10-fold cross-validation on the UCI file.

3,190 primate sequences of 60 nucleotides, classes EI (exon -> intron), IE (intron -> exon)
and N (neither).  There is no official split, so every model is scored by the same seeded,
stratified 10 folds (the same indices for every model: ``--seed``).

* Classical baselines, fitted in the same run: k-mer bag (k = 1..4) + logistic regression, and
  one-hot letters per position + logistic regression, an RBF-kernel SVM and scikit-learn's
  histogram gradient boosting -- each with its grid searched by 3-fold inner cross-validation on
  the fold's training part only (``seqlab.baselines.tuned``).
* seqlab models (``--presets``, e.g. ``splice-bilstm,splice-bilstm-pos``): in each fold a stratified
  ninth of the training part is held out to choose the epoch (early stopping), never the fold's
  test part; ``--seeds N`` trains N seeds per fold and adds an ensemble row (mean probabilities).

Reported: mean +- std over the folds of accuracy and per-class F1, and for every model the
fold-paired difference to the best baseline with its standard error (``seqlab.metrics.paired``).
``--explain PRESET`` averages the integrated-gradients attribution of each fold's first-seed model
over that fold's test part, per true class, and draws the position x nucleotide maps
(``--logo``, default docs/dna_splice_attribution.png).

    python benchmarks/dna_splice.py [--data splice.data] [--folds 10] [--presets splice-bilstm-pos]
        [--seeds 1] [--baselines kmer-logistic,onehot-logistic,onehot-svm-rbf,onehot-boosting] [--test FILE]

``--test FILE`` (same format) adds a row per model trained on the whole file and scored on FILE.
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import configure, exit_on_user_error, parser, train_or_resume, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dna" / "splice.data"
LOGO = Path(__file__).resolve().parents[1] / "docs" / "dna_splice_attribution.png"
GOAL = "mean accuracy >= 97.0% and above the best classical baseline by more than twice the paired SE"


def write_part(path: Path, examples, indices) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{examples[i].label}, seq-{i}, {examples[i].text}\n" for i in indices))
    return str(path)


def scores(gold, predicted, labels) -> dict:
    from seqlab.metrics.classification import classification_scores

    s = classification_scores(gold, predicted, labels)
    return {"accuracy": round(s["accuracy"], 4), "f1": {c: s["per_class"][c]["f1"] for c in labels}}


def baseline(name, examples, train, test, labels, seed) -> dict:
    """The grid searched by inner CV on the training part, refitted on all of it, scored on the test part."""
    from seqlab.baselines import tuned

    start = time.perf_counter()
    model, chosen = tuned(name, [examples[i].text for i in train], [examples[i].label for i in train], seed=seed)
    predicted = model.predict([examples[i].text for i in test]).tolist()
    return {**scores([examples[i].label for i in test], predicted, labels), "chosen": chosen,
            "fit_time_s": round(time.perf_counter() - start, 1)}


def recurrent(preset, examples, train, valid, test, run_dir: Path, seed, args, rest, labels):
    """One seqlab model trained on ``train`` (epoch chosen on ``valid``); its scores and test probabilities."""
    from seqlab.tasks import classify, registry

    task = registry.get("classify")
    cfg = configure("classify", preset, {"data.path": write_part(run_dir / "train.data", examples, train),
                                         "data.valid": write_part(run_dir / "valid.data", examples, valid),
                                         "train.seed": seed}, args.minutes, rest)
    start = time.perf_counter()
    final = train_or_resume(task, cfg, run_dir)
    run = task.load(run_dir, "auto")
    p = classify.probabilities(run, [examples[i].text for i in test])
    p = p[:, [run.labels.stoi[c] for c in labels]]  # columns in the order of ``labels``
    row = {**scores([examples[i].label for i in test], [labels[k] for k in p.argmax(-1)], labels),
           "train_time_s": round(time.perf_counter() - start, 1), "steps": final["steps"],
           "best_valid_accuracy": round(final["best"]["value"], 4), "seed": seed}
    return row, p, run


def summary(rows: list[dict], labels) -> dict:
    acc = [r["accuracy"] for r in rows]
    out = {"accuracy_mean": round(statistics.mean(acc), 4), "accuracy_std": round(statistics.stdev(acc), 4)
           if len(acc) > 1 else 0.0}
    for c in labels:
        f = [r["f1"][c] for r in rows]
        out[f"f1_{c}_mean"], out[f"f1_{c}_std"] = round(statistics.mean(f), 4), (
            round(statistics.stdev(f), 4) if len(f) > 1 else 0.0)
    return out


def paired_to_best(results: dict, baselines: list[str]) -> dict:
    """Every model's fold-paired difference in accuracy to the baseline with the best mean."""
    from seqlab.metrics.paired import paired_difference

    done = [b for b in baselines if b in results]
    if not done:
        return {}
    best = max(done, key=lambda b: statistics.mean(r["accuracy"] for r in results[b]["folds"]))
    reference = [r["accuracy"] for r in results[best]["folds"]]
    out = {"reference": best}
    for name, r in results.items():
        mine = [x["accuracy"] for x in r["folds"]]
        if name != best and len(mine) == len(reference) > 1:
            d = paired_difference(mine, reference)
            out[name] = {k: round(v, 5) if isinstance(v, float) else v for k, v in d.items()}
    return out


def main(argv=None) -> None:
    import torch

    from seqlab.baselines import SEQUENCE_BASELINES
    from seqlab.data.folds import stratified_folds, stratified_hold_out
    from seqlab.data.splice import read_splice
    from seqlab.errors import UserError
    from seqlab.tasks import classify

    ap = parser(__doc__.splitlines()[0], "runs/bench-dna_splice", minutes=None,
                minutes_help="training time budget per fold and seed (default: the preset's)",
                test="a held-out file in the same format, scored by models trained on --data")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0, help="the folds, the validation draws and the first training seed")
    ap.add_argument("--seeds", type=int, default=1, help="models of --ensemble trained per fold (> 1: an ensemble row)")
    ap.add_argument("--ensemble", default="", help="the preset trained --seeds times (default: the last of --presets)")
    ap.add_argument("--presets", default="splice-bilstm-pos")
    ap.add_argument("--baselines", default=",".join(SEQUENCE_BASELINES))
    ap.add_argument("--explain", default="", help="a preset of --presets whose attribution maps are drawn")
    ap.add_argument("--logo", default=str(LOGO), help="where --explain draws the maps (PNG)")
    ap.add_argument("--reuse-baselines", action="store_true",
                    help="take the baselines' rows from the results file when it scored the same folds (no refit)")
    ap.add_argument("--results", default="dna_splice", help="results/NAME.json (another name for a variant, e.g. a "
                                                            "lever measured on the same folds)")
    args, rest = ap.parse_known_args(argv)
    if not Path(args.data).is_file():
        raise UserError(f"--data {args.data} does not exist (the shared datasets live in ../shared/data)")
    baselines = [b for b in args.baselines.split(",") if b]
    presets = [p for p in args.presets.split(",") if p]
    unknown = [b for b in baselines if b not in SEQUENCE_BASELINES]
    ensemble_of = args.ensemble or (presets[-1] if presets else "")
    if unknown or args.seeds < 1 or {args.explain, ensemble_of} - {"", *presets}:
        raise UserError(f"--baselines takes {', '.join(SEQUENCE_BASELINES)} (got {', '.join(unknown)})" if unknown
                        else f"--seeds must be >= 1, got {args.seeds}" if args.seeds < 1
                        else f"--explain and --ensemble name one of --presets {args.presets}")
    examples = read_splice(args.data)
    labels = sorted({ex.label for ex in examples})
    all_labels = [ex.label for ex in examples]
    folds = stratified_folds(all_labels, args.folds, args.seed)
    start, results, configs, attribution = time.perf_counter(), {}, {}, {}
    earlier = _earlier(args, presets) if args.results == "dna_splice" else {}

    def split_off(train_idx, k):
        kept, held = stratified_hold_out([all_labels[i] for i in train_idx], 1 / 9, args.seed + k)
        return [train_idx[i] for i in kept], [train_idx[i] for i in held]

    def save():
        return write_results(args.results, {
            "data": args.data, "folds": args.folds, "seed": args.seed, "labels": labels,
            "ensemble": {"preset": ensemble_of, "seeds": args.seeds}, "earlier": earlier,
            "fold_test_indices": [test for _, test in folds], "goal": GOAL,
            "models": {name: {**summary(r["folds"], labels), **r} for name, r in results.items()},
            "paired_to_best_baseline": paired_to_best(results, baselines), "configs": configs,
            "attribution": attribution, "overrides": rest}, time.perf_counter() - start)

    reusable = _reusable_baselines(args) if args.reuse_baselines else {}
    for name in baselines:
        if name in reusable:
            results[name] = reusable[name]
            print(name, "(reused from", reusable[name]["measured"], ")", summary(results[name]["folds"], labels))
            continue
        t = time.perf_counter()
        rows = []
        for k, (train_idx, test_idx) in enumerate(folds):
            rows.append(baseline(name, examples, train_idx, test_idx, labels, args.seed))
            print(name, f"fold {k}", rows[-1], flush=True)
        results[name] = {"folds": rows, "wall_time_s": round(time.perf_counter() - t, 1)}
        print(name, summary(rows, labels), flush=True)
        save()
    for preset in presets:
        configs[preset] = _config(preset, rest)
        single, ensemble, maps = [], [], []
        for k, (train_idx, test_idx) in enumerate(folds):
            train, valid = split_off(train_idx, k)
            gold = [examples[i].label for i in test_idx]
            probs, seconds = [], 0.0
            for s in range(args.seeds if preset == ensemble_of else 1):
                run_dir = Path(args.runs) / preset / f"fold-{k}" / f"seed-{s}"
                row, p, run = recurrent(preset, examples, train, valid, test_idx, run_dir, args.seed + s, args, rest,
                                        labels)
                probs.append(p)
                seconds += row["train_time_s"]
                if s == 0:
                    single.append(row)
                    if preset == args.explain:
                        maps.append(_fold_maps(run, examples, test_idx, labels))
                        positions = classify.position_labels(run, len(examples[0].text))
            mean = torch.stack(probs).mean(0)
            ensemble.append({**scores(gold, [labels[j] for j in mean.argmax(-1)], labels),
                             "train_time_s": round(seconds, 1)})
            print(preset, f"fold {k}", single[-1], f"ensemble of {len(probs)}: {ensemble[-1]['accuracy']}"
                  if len(probs) > 1 else "", flush=True)
            results[preset] = {"folds": single}
            if len(probs) > 1:
                results[f"{preset} x{args.seeds} seeds"] = {"folds": ensemble}
            save()
        print(preset, summary(single, labels), flush=True)
        if maps:
            attribution.update(_draw(maps, labels, positions, args.logo, preset))
    if args.test:
        _test_rows(args, rest, examples, labels, baselines, presets, results, split_off)
    results_path = save()
    _print_table(results, paired_to_best(results, baselines))
    print(f"wrote {results_path}")


def _earlier(args, presets) -> dict:
    """The seqlab rows of an earlier results file that this run does not train, each with its date, when its folds
    were the same (same data, fold count and seed: the same indices), so that the record keeps them."""
    from common import previous_record

    old = previous_record("dna_splice")
    if (old.get("data"), old.get("folds"), old.get("seed")) != (args.data, args.folds, args.seed):
        return {}
    rows = dict(old.get("earlier", {}))
    for name, r in old.get("models", {}).items():
        if name.startswith("splice"):
            rows[name] = {"date": old["date"], "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],
                          "fold_accuracy": [f["accuracy"] for f in r["folds"]], "config": r.get("config")}
    return {name: r for name, r in rows.items() if name not in presets}


def _reusable_baselines(args) -> dict:
    """The baselines' rows of the results file, when it scored the same folds (data, fold count, seed), each marked
    with the date it was measured."""
    from common import previous_record

    old = previous_record(args.results)
    if (old.get("data"), old.get("folds"), old.get("seed")) != (args.data, args.folds, args.seed):
        return {}
    return {name: {**{k: v for k, v in r.items() if k in ("folds", "wall_time_s")},
                   "measured": r.get("measured", old["date"])}
            for name, r in old.get("models", {}).items() if not name.startswith("splice")}


def _fold_maps(run, examples, test_idx, labels) -> dict:
    """{true class: (summed position map (ACGT, T), sequences)} of one fold's test part under its model."""
    from seqlab.models.attribution import position_map
    from seqlab.tasks import classify

    ids = [classify.token_ids(run.tokens, examples[i].text, 0) for i in test_idx]
    classes = [run.labels.stoi[examples[i].label] for i in test_idx]
    attributions, tokens = classify.explanation(run, ids, classes)
    letters = [run.tokens.encode(c)[0] for c in "ACGT"]
    out = {}
    for c in labels:
        rows = [j for j, i in enumerate(test_idx) if examples[i].label == c]
        out[c] = (position_map(attributions[rows], tokens[rows], letters) * len(rows), len(rows))
    return out


def _draw(maps: list[dict], labels, positions: list[str], out: str, preset: str) -> dict:
    """The mean maps over all folds' test parts, drawn; the largest entries of each class, for the record."""
    from seqlab.plots import plot_logo

    total = {c: sum(m[c][0] for m in maps) / sum(m[c][1] for m in maps) for c in labels}
    counts = {c: sum(m[c][1] for m in maps) for c in labels}
    path = plot_logo({f"{c} ({counts[c]} sequences)": total[c].tolist() for c in labels}, list("ACGT"), positions,
                     Path(out), f"{preset}: integrated gradients of log p(true class), mean over the test folds")
    top = {}
    for c in labels:
        flat = [(float(total[c][a, t]), f"{positions[t]} {'ACGT'[a]}") for a in range(4) for t in range(len(positions))]
        top[c] = [[where, round(v, 4)] for v, where in sorted(flat, reverse=True)[:6]]
    print(f"attribution map: {path}", {c: top[c][:4] for c in labels}, flush=True)
    return {"preset": preset, "png": str(path), "top": top,
            "maps": {c: [[round(float(v), 5) for v in row] for row in total[c]] for c in labels},
            "letters": list("ACGT"), "positions": positions}


def _print_table(results: dict, paired: dict) -> None:
    print(f"\n{'model':<34} {'accuracy':>16}   vs {paired.get('reference', '-')} (fold-paired)")
    for name, r in results.items():
        s = summary(r["folds"], ["EI"])
        d = paired.get(name)
        diff = f"{100 * d['mean']:+.2f} ± {100 * d['se']:.2f} (W/T/L {d['wins']}/{d['ties']}/{d['losses']})" if d \
            else "reference" if name == paired.get("reference") else ""
        print(f"{name:<34} {100 * s['accuracy_mean']:6.2f} ± {100 * s['accuracy_std']:.2f}   {diff}")


def _config(preset, rest) -> dict:
    import dataclasses

    return dataclasses.asdict(configure("classify", preset, {}, None, rest))


def _test_rows(args, rest, examples, labels, baselines, presets, results, split_off) -> None:
    """Every model trained on the whole --data file (a stratified ninth held out for selection), scored on --test."""
    from seqlab.data.splice import read_splice

    test = read_splice(args.test)
    everything = examples + test
    test_idx = list(range(len(examples), len(everything)))
    for name in baselines:
        results[name]["test"] = baseline(name, everything, list(range(len(examples))), test_idx, labels, args.seed)
    train, valid = split_off(list(range(len(examples))), len(labels))
    for preset in presets:
        run_dir = Path(args.runs) / preset / "all"
        results[preset]["test"] = recurrent(preset, everything, train, valid, test_idx, run_dir, args.seed, args,
                                            rest, labels)[0]


if __name__ == "__main__":
    exit_on_user_error(main)
