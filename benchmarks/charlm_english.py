"""Pretraining the English character LMs of the taggers' contextual vectors (``seqlab train charlm``).

The text is only what is never used for selection or testing: the words of the taggers' training files
(UD English EWT train, CoNLL-2003 eng.train), the SST-2 training sentences (labels dropped), the English
side of Multi30k's training pairs and tiny Shakespeare; ``--ptb`` adds the Penn Treebank's training text
(lower-cased, numbers as N, rare words as <unk>: whether it helps is measured, not assumed).  No dev or
test file.  Each file's last 2% of lines is held out for bits per character.  Budget: both LMs together
within 60 minutes on 2 CPU cores (the preset ``charlm-english``).

    python benchmarks/charlm_english.py [--shared ../shared/data] [--ptb] [--minutes 60]

Writes results/charlm_english.json (or charlm_english_ptb.json): the files and their characters, the
training time and steps, bits per character forward and backward; the run is RUNS/charlm-english[-ptb],
what ``--model.contextual`` of the tagger benchmarks names.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, exit_on_user_error, parser, pretraining, train_or_resume, write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def pretraining_files(shared: Path, scratch: Path, ptb: bool) -> list[Path]:
    """The pretraining files; SST-2's 'label sentence' lines are written without their labels into ``scratch``."""
    from seqlab.data.labelled import read_labelled

    sst = scratch / "sst2_train_sentences.txt"
    scratch.mkdir(parents=True, exist_ok=True)
    sst.write_text("".join(ex.text + "\n" for ex in read_labelled(shared / "sentiment" / "sst2" / "stsa.binary.train",
                                                                  fmt="lines")), encoding="utf-8")
    files = [shared / "pos" / "ud_english_ewt" / "en_ewt-ud-train.conllu", shared / "ner" / "eng.train", sst,
             shared / "mt" / "multi30k" / "train.en", shared / "char_lm" / "input.txt"]
    return files + ([shared / "word_lm" / "ptb.train.txt"] if ptb else [])


def main(argv=None) -> None:
    from seqlab.errors import UserError
    from seqlab.tasks import registry
    from seqlab.tasks.charlm import split_texts

    ap = parser(__doc__.splitlines()[0], "runs/bench-charlm", minutes=None)
    ap.add_argument("--shared", default=str(SHARED), help="the shared datasets")
    ap.add_argument("--ptb", action="store_true", help="add the Penn Treebank's training text")
    args, rest = ap.parse_known_args(argv)
    shared = Path(args.shared)
    if not shared.is_dir():
        raise UserError(f"--shared {shared} does not exist (the shared datasets live in ../shared/data)")
    name = "charlm-english" + ("-ptb" if args.ptb else "")
    run_dir = Path(args.runs) / name
    files = pretraining_files(shared, Path(args.runs) / "text", args.ptb)
    cfg = configure("charlm", "charlm-english", {"data.path": ",".join(map(str, files))}, args.minutes, rest)
    _, _, counts = split_texts(cfg.data)
    chars = {str(f): counts[str(f)]["chars"] for f in files}
    print(f"pretraining text: {sum(chars.values()):,} characters in {len(files)} files", flush=True)
    start = time.perf_counter()
    final = train_or_resume(registry.get("charlm"), cfg, run_dir)
    seconds = time.perf_counter() - start
    row = {"run": str(run_dir), "files": counts,
           "chars": sum(chars.values()), "train_time_s": round(pretraining(str(run_dir))["train_time_s"], 1),
           "this_invocation_s": round(seconds, 1), "steps": final["steps"],
           "bits_per_char_forward": round(final["bits_per_char_forward"], 4),
           "bits_per_char_backward": round(final["bits_per_char_backward"], 4),
           "held_out_chars": final["chars"], "config": config_of(cfg)}
    print({k: v for k, v in row.items() if k not in ("files", "config")}, flush=True)
    print(f"wrote {write_results(name.replace('-', '_'), row, seconds)}")


if __name__ == "__main__":
    exit_on_user_error(main)
