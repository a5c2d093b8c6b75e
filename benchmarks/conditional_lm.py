"""Label -> sentence on SST-2: a conditional LSTM LM trained on the GLUE phrase labels, judged by classifiers.

Trains (or reuses) the ``sst2-conditional`` LM on ``glue/train.tsv`` (67,349 labelled phrases),
selected on the dev sentences, and two judges, both ``sst2-bilstm-max`` classifiers selected on the
dev file: one trained on the training sentences, one on the labelled phrases.  Reports the
per-class perplexity of the dev sentences, and for each sampling temperature distinct-1/2 of
500 samples per class and the **label fidelity** by each judge: the share of the samples it
assigns to the asked class.  For reference: each judge's recall per class on the real dev
sentences (a generated sentence is judged by the same imperfect judge).

    python benchmarks/conditional_lm.py [--sst2 DIR] [--classifier RUN_DIR] [--minutes 20]
                                        [--classifier-minutes 10] [--samples 500] [--temperatures 0.8,0.5]
                                        [--test FILE] [--runs DIR] [--section.key=value ...]

``--classifier`` judges with that classify run only; ``--test`` (the withheld SST-2 test file)
adds its per-class perplexity.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, exit_on_user_error, parser, train_or_resume, write_results

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "sst2"
GOAL = "label fidelity >= 90% for both classes (500 samples per class, judged by seqlab's SST-2 classifier)"


def _trained(task_name: str, preset: str, settings: dict, minutes: float, run_dir: Path, rest=()) -> dict:
    from seqlab.tasks import registry

    cfg = configure(task_name, preset, settings, minutes, list(rest))
    final = train_or_resume(registry.get(task_name), cfg, run_dir)
    return {"steps": final["steps"], "best": final["best"], "config": config_of(cfg), "seed": cfg.train.seed}


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0], "runs/bench-conditional_lm", minutes=20.0, minutes_help="the conditional LM's training budget", test="a withheld labelled test file: its per-class perplexity")
    ap.add_argument("--sst2", default=str(SST2))
    ap.add_argument("--classifier", default=None, help="a trained SST-2 classify run (default: train one)")
    ap.add_argument("--classifier-minutes", type=float, default=10.0)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--temperatures", default="0.8,0.5", help="sampling temperatures, one row each")
    args, rest = ap.parse_known_args()
    from seqlab import plots
    from seqlab.errors import UserError
    from seqlab.tasks import classify, conditional_lm

    sst2, runs, start = Path(args.sst2), Path(args.runs), time.perf_counter()
    train, dev, phrases = sst2 / "stsa.binary.train", sst2 / "stsa.binary.dev", sst2 / "glue" / "train.tsv"
    for path in (train, dev, phrases):
        if not path.is_file():
            raise UserError(f"--sst2 {sst2}: no {path.relative_to(sst2)} (the shared datasets live in ../shared/data)")
    figures: dict = {"goal": GOAL, "samples": args.samples, "judges": {}}
    judges = {"given": Path(args.classifier)} if args.classifier else {
        "sentences": runs / "classifier", "phrases": runs / "classifier-phrases"}
    for name, clf_dir in judges.items():
        if not args.classifier:
            data = {"data.path": str(train if name == "sentences" else phrases), "data.valid": str(dev)}
            if name == "phrases":
                data["data.text_column"] = "sentence"
            _trained("classify", "sst2-bilstm-max", data, args.classifier_minutes, clf_dir)
        judged = classify.evaluate_file(classify.TASK.load(clf_dir, "auto"), str(dev))
        figures["judges"][name] = {"run": str(clf_dir), "dev_accuracy": round(judged["accuracy"], 4),
                                   "dev_recall": {k: v["recall"] for k, v in judged["per_class"].items()}}
        print(f"judge {name} ({clf_dir}): dev accuracy {judged['accuracy']:.4f}, recall per class "
              f"{figures['judges'][name]['dev_recall']}", flush=True)
    lm_dir = runs / "sst2-conditional"
    training = _trained("conditional_lm", "sst2-conditional", {"data.path": str(phrases), "data.valid": str(dev)},
                        args.minutes, lm_dir, rest)
    valid_rows = [r for r in plots.read_metrics(lm_dir) if r.get("split") == "valid"]
    run = conditional_lm.TASK.load(lm_dir, "auto")
    row = {"row": "sst2-conditional", "train_time_s": valid_rows[-1]["time_s"], **training,
           "parameters": sum(p.numel() for p in run.model.parameters()), "sampling": []}
    for temperature in map(float, args.temperatures.split(",")):
        for name, clf_dir in judges.items():
            options = conditional_lm.EvaluateOptions(str(dev), args.samples, temperature, 1.0, 0, str(clf_dir), 5)
            m = conditional_lm.evaluate(run, options)
            print(f"temperature {temperature}, judge {name}:\n{conditional_lm.report(run, m)}", flush=True)
            row["dev_ppl"], row["dev_ppl_per_class"] = round(m["ppl"], 2), m["ppl_per_class"]
            row["sampling"].append({"temperature": temperature, "judge": name, "fidelity": m["fidelity"],
                                    "distinct": m["distinct"], "samples": m["samples"]})
    if args.test:
        t = conditional_lm.evaluate(run, conditional_lm.EvaluateOptions(args.test, 1, 0.8, 1.0, 0, None, 0))
        row["test_ppl_per_class"] = t["ppl_per_class"]
    path = write_results("conditional_lm", {**figures, "rows": [row]}, time.perf_counter() - start)
    print(f"wrote {path}")


if __name__ == "__main__":
    exit_on_user_error(main)
