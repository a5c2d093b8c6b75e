"""SST-2 with a pretrained encoder (ULMFiT-style): a biLM on the training sentences, then the phrase classifier from it.

Step 1, ``seqlab train bilm --preset sst2-bilm``: the embedding and BiLSTM encoder of
``sst2-phrases-bilstm-attention``, with a softmax on each direction, learn to predict the next and
the previous word of the 6,920 training sentences of stsa.binary.train (their labels unused;
early stopping on the text of the dev sentences, whose labels it never reads).
Step 2: ``sst2-phrases-bilstm-attention`` with ``--model.init_from=<step 1's run>`` trains on
GLUE's 67,349 labelled phrases and selects on stsa.binary.dev, as benchmarks/sst2_phrases.py.
Goal: dev accuracy >= 87.0% without pretrained vectors from outside, both steps within 30 minutes.

``--control`` (results/sst2_pretrained_control.json) is the same pair without the pretraining: the biLM
run takes one step at a learning rate of 1e-12, so the classifier gets the biLM's vocabulary and
weights still at their initialisation -- what the pretraining itself adds is the difference.

    python benchmarks/sst2_pretrained.py [--data.path TRAIN.tsv] [--data.valid DEV] [--sentences stsa.binary.train]
        [--pretrain-minutes 12] [--minutes 18] [--test stsa.binary.test] [--control]
        [--bilm-set KEY=VALUE ... --variant NAME]      another biLM setting, in results/sst2_pretrained_NAME.json
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, preset_benchmark, run_preset

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "sst2"
NAME = "sst2_pretrained"


def main() -> None:
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--sentences", default=str(DATA / "stsa.binary.train"), help="the biLM's training texts")
    ap.add_argument("--pretrain-minutes", type=float, default=12.0)
    ap.add_argument("--runs", default="")
    ap.add_argument("--minutes", type=float, default=18.0, help="fine-tuning budget")
    ap.add_argument("--control", action="store_true", help="the biLM untrained (one step at lr 1e-12)")
    ap.add_argument("--bilm-set", action="append", default=[], help="KEY=VALUE: a setting of the biLM run")
    ap.add_argument("--variant", default="", help="the results file's suffix for --bilm-set runs")
    mine, rest = ap.parse_known_args()
    if mine.bilm_set and not mine.variant:
        raise SystemExit("error: --bilm-set needs --variant NAME (its results file)")
    name = "_".join([NAME, *(["control"] if mine.control else []), *([mine.variant] if mine.variant else [])])
    mine.runs = mine.runs or f"runs/bench-{name}"
    untrained = ["--train.max_steps=1", "--train.epochs=0", "--optim.lr=1e-12", "--optim.warmup_steps=0"]

    def pretrain(args) -> dict:
        if not Path(mine.sentences).exists():
            raise SystemExit(f"error: --sentences {mine.sentences} does not exist")
        row = run_preset("bilm", "sst2-bilm", {"data.path": mine.sentences, "data.valid": args.data_valid}, mine.runs,
                         mine.pretrain_minutes, [*(untrained if mine.control else []),
                                                 *(f"--{kv}" for kv in mine.bilm_set)])
        print(f"pretraining: valid loss {row['valid']['loss']:.4f} (ppl {row['valid']['ppl']:.1f}) after "
              f"{row['steps']} steps, {row['train_time_s']:.0f} s", flush=True)
        return {"pretraining": row}

    rows = preset_benchmark(name, "classify", ["sst2-phrases-bilstm-attention"], __doc__.splitlines()[0],
                            "dev accuracy >= 87.0% without pretrained vectors, <= 30 min CPU training (both steps)",
                            {"data.path": DATA / "glue" / "train.tsv", "data.valid": DATA / "stsa.binary.dev"},
                            argv=[*rest, "--runs", mine.runs, "--minutes", str(mine.minutes),
                                  f"--model.init_from={Path(mine.runs) / 'sst2-bilm'}"], extra=pretrain)
    for row in rows:
        print(f"{row['preset']} from the biLM: dev accuracy {row['valid']['accuracy']:.4f}, fine-tuning "
              f"{row['train_time_s']:.0f} s")


if __name__ == "__main__":
    exit_on_user_error(main)
