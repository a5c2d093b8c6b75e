"""Is a change result-neutral?  Short seeded runs of every task on the real data, through the CLI.

    python benchmarks/neutrality.py [--shared ../shared/data] [--runs runs/neutrality] [--out NAME]
    python benchmarks/neutrality.py --compare results/neutrality_before.json results/neutrality.json

Each run trains a task's benchmark preset for a few steps (the same seed, data and settings every
time) and then evaluates the trained run with ``seqlab evaluate``.  The results file keeps, per
run, every validation record of ``metrics.jsonl`` (timings dropped) and every number printed by the
evaluation.  Run it before and after a refactor on the same machine: ``--compare`` lists every
figure that differs.  The full benchmarks take hours; these runs take a few minutes and go through
the same code (data, model, initialisation, batches, trainer, evaluation).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, write_results

FAST = ["--train.progress=false", "--train.max_minutes=0", "--train.epochs=0"]


def runs(shared: Path, scratch: Path) -> dict[str, tuple[list[str], list[str]]]:
    """name -> (seqlab train arguments, seqlab evaluate arguments); ``scratch`` gets the first 100 validation
    pairs of Multi30k (beam search with an untrained Transformer is slow)."""
    d = shared
    scratch.mkdir(parents=True, exist_ok=True)
    for side in ("de", "en"):
        lines = (d / f"mt/multi30k/val.{side}").read_text(encoding="utf-8").splitlines()[:100]
        (scratch / f"val100.{side}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mt, sst, ner = d / "mt/multi30k", d / "sentiment/sst2", d / "ner"
    pku, words = d / "cws/icwb2-data/gold/pku_test_gold.utf8", d / "cws/icwb2-data/gold/pku_training_words.utf8"
    ett, fsdd = d / "timeseries/ETTh1.csv", d / "speech/recordings"
    lm_eval = ["--data", str(d / "word_lm/ptb.valid.txt")]
    return {
        "lm-char-lstm": (["lm", "--preset", "char-lstm-small", "--train.max_steps=40", "--train.eval_every=20"],
                         ["--data", str(d / "char_lm/input.txt")]),
        "lm-ptb-small": (["lm", "--preset", "ptb-small", "--data", str(d / "word_lm"), "--train.max_steps=30",
                          "--train.eval_every=15"], lm_eval),
        "lm-transformer": (["lm", "--preset", "shakespeare-transformer", "--data", str(d / "char_lm/input.txt"),
                            "--train.max_steps=10", "--train.eval_every=5", "--model.num_layers=1"],
                           ["--data", str(d / "char_lm/input.txt")]),
        "lm-mingru": (["lm", "--preset", "shakespeare-mingru", "--data", str(d / "char_lm/input.txt"),
                       "--train.max_steps=10", "--train.eval_every=5", "--model.num_layers=1"],
                      ["--data", str(d / "char_lm/input.txt")]),
        "translate-gru": (["translate", "--preset", "multi30k-gru-attention", "--data", str(mt), "--train.max_steps=8",
                           "--train.eval_every=4", "--model.hidden_size=64", "--model.embed_size=64"],
                          ["--src", str(mt / "val.de"), "--ref", str(mt / "val.en")]),
        "translate-transformer": (["translate", "--preset", "multi30k-transformer", "--data", str(mt),
                                   "--train.max_steps=8", "--train.eval_every=4"],
                                  ["--src", str(scratch / "val100.de"), "--ref", str(scratch / "val100.en"),
                                   "--beam", "2"]),
        "classify-sst2": (["classify", "--preset", "sst2-bilstm-max", "--data", str(sst / "stsa.binary.train"),
                           f"--data.valid={sst / 'stsa.binary.dev'}", "--train.max_steps=40", "--train.eval_every=20"],
                          ["--data", str(sst / "stsa.binary.dev")]),
        "classify-attention": (["classify", "--preset", "sst2-bilstm-attention", "--data",
                                str(sst / "stsa.binary.train"), "--train.max_steps=20", "--train.eval_every=10"],
                               ["--data", str(sst / "stsa.binary.dev")]),
        "tag-conll": (["tag", "--preset", "conll-bilstm-crf", "--data", str(ner / "eng.train"),
                       f"--data.valid={ner / 'eng.testa'}", "--train.max_steps=30", "--train.eval_every=15"],
                      ["--data", str(ner / "eng.testa")]),
        "tag-conll-softmax-cnn": (["tag", "--preset", "conll-bilstm-softmax", "--data", str(ner / "eng.train"),
                                   f"--data.valid={ner / 'eng.testa'}", "--train.max_steps=20",
                                   "--train.eval_every=10", "--model.char_encoder=cnn"],
                                  ["--data", str(ner / "eng.testa")]),
        "tag-pos": (["tag", "--data", str(ner / "eng.train"), f"--data.valid={ner / 'eng.testa'}",
                     "--data.tag_column=1", "--train.max_steps=20", "--train.eval_every=10",
                     "--model.hidden_size=64"], ["--data", str(ner / "eng.testa")]),
        "tag-pku": (["tag", "--preset", "pku-bilstm-crf", "--data", str(pku), "--train.max_steps=30",
                     "--train.eval_every=15", f"--data.lexicon={words}"], ["--data", str(pku)]),
        "forecast-gru": (["forecast", "--preset", "ett-gru-direct", "--data", str(ett), "--train.max_steps=30",
                          "--train.eval_every=15"], ["--split", "valid"]),
        "forecast-segrnn": (["forecast", "--preset", "ett-segrnn", "--data", str(ett), "--train.max_steps=10",
                             "--train.eval_every=5"], ["--split", "test"]),
        "forecast-seq2seq": (["forecast", "--preset", "ett-gru-seq2seq", "--data", str(ett), "--train.max_steps=10",
                              "--train.eval_every=5", "--model.teacher_forcing=0.5"], ["--split", "valid"]),
        "forecast-ar": (["forecast", "--preset", "ett-ar", "--data", str(ett)], ["--split", "valid"]),
        "forecast-repeat-last": (["forecast", "--preset", "ett-repeat-last", "--data", str(ett)], ["--split", "valid"]),
        "speech-isolated": (["speech", "--preset", "fsdd-isolated", "--data", str(fsdd), "--train.max_steps=20",
                             "--train.eval_every=10"], []),
        "speech-ctc": (["speech", "--preset", "fsdd-ctc", "--data", str(fsdd), "--train.max_steps=10",
                        "--train.eval_every=5", "--data.train_utterances=200", "--data.valid_utterances=40",
                        "--data.test_utterances=40"], ["--beam", "4"]),
        "classify-splice": (["classify", "--preset", "splice-bilstm", "--data", str(d / "dna/splice.data"),
                             "--train.max_steps=20", "--train.eval_every=10"],
                            ["--data", str(d / "dna/splice.data")]),
        "bilm-sst2": (["bilm", "--preset", "sst2-bilm", "--data", str(sst / "stsa.binary.train"),
                       f"--data.valid={sst / 'stsa.binary.dev'}", "--train.max_steps=20", "--train.eval_every=10"],
                      ["--data", str(sst / "stsa.binary.dev")]),
        "conditional-lm-sst2": (["conditional_lm", "--preset", "sst2-conditional", "--data",
                                 str(sst / "stsa.binary.train"), "--data.text_column=text", "--train.max_steps=20",
                                 "--train.eval_every=10", "--model.hidden_size=128"],
                                ["--data", str(sst / "stsa.binary.dev"), "--samples", "20"]),
        "handwriting-ctc": (["handwriting", "--preset", "digits-ctc", "--train.max_steps=10", "--train.eval_every=5",
                             "--data.valid_strips=64"], ["--strips", "64"]),
        "handwriting-attention": (["handwriting", "--preset", "digits-attention", "--train.max_steps=10",
                                   "--train.eval_every=5", "--data.valid_strips=64"], ["--strips", "64"]),
        "memory-lstm": (["memory", "--preset", "adding-lstm", "--train.max_steps=40", "--train.eval_every=20"], []),
        "memory-irnn": (["memory", "--preset", "selective-irnn", "--train.max_steps=20", "--train.eval_every=10"], []),
        "memory-mingru": (["memory", "--preset", "adding-min-gru", "--train.max_steps=40", "--train.eval_every=20",
                           "--data.length=200"], ["--length", "300"]),
        "memory-minlstm": (["memory", "--preset", "copy-min-lstm", "--train.max_steps=20", "--train.eval_every=10"],
                           []),
    }


NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def one(name: str, train: list[str], evaluate: list[str], runs_dir: Path) -> dict:
    run_dir = runs_dir / name
    shutil.rmtree(run_dir, ignore_errors=True)
    seqlab = [sys.executable, "-m", "seqlab"]
    t0 = time.perf_counter()
    done = subprocess.run([*seqlab, "train", *train, *FAST, "--runs", str(runs_dir), "--name", name],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    valid = [{k: v for k, v in json.loads(line).items() if k not in ("time_s",)}
             for line in (run_dir / "metrics.jsonl").read_text().splitlines()
             if line.strip() and json.loads(line).get("split") == "valid"]
    out = subprocess.run([*seqlab, "evaluate", str(run_dir), *evaluate], capture_output=True, text=True, check=False)
    figures = NUMBER.findall(out.stdout) if out.returncode == 0 else ["error: " + out.stderr.strip()]
    return {"train": train, "evaluate": evaluate, "valid": valid, "evaluation": figures,
            "wall_s": round(time.perf_counter() - t0, 1)}


def compare(before: Path, after: Path) -> int:
    a, b = (json.loads(Path(p).read_text())["runs"] for p in (before, after))
    differ = 0
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name, {}), b.get(name, {})
        same = x.get("valid") == y.get("valid") and x.get("evaluation") == y.get("evaluation")
        differ += not same
        print(f"{'same   ' if same else 'DIFFERS'} {name}")
        if not same:
            print(f"   before: {x.get('valid', x.get('error'))} {x.get('evaluation')}\n"
                  f"   after:  {y.get('valid', y.get('error'))} {y.get('evaluation')}")
    print(f"{len(set(a) | set(b)) - differ} runs identical, {differ} differ")
    return 1 if differ else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--runs", default="runs/neutrality")
    ap.add_argument("--out", default="neutrality", help="results/NAME.json")
    ap.add_argument("--only", default="", help="comma-separated run names")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*(RESULTS / Path(p).name if not Path(p).is_file() else Path(p) for p in args.compare))
    shared = Path(args.shared)
    if not shared.is_dir():
        raise SystemExit(f"error: --shared {shared} does not exist (the shared datasets live in ../shared/data)")
    start, results = time.perf_counter(), {}
    table = runs(shared, Path(args.runs))
    for name in (args.only.split(",") if args.only else table):
        results[name] = one(name, *table[name], Path(args.runs))
        print(name, json.dumps({k: v for k, v in results[name].items() if k not in ("train", "evaluate")}), flush=True)
    print(f"wrote {write_results(args.out, {'runs': results}, time.perf_counter() - start)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
