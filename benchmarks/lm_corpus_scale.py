"""Language-model corpora of any size: memory and time of preparing a token file, and of starting to train from it.

For each corpus size (10 MB, 100 MB, 1 GB by default) and level (char, bpe), as a user would run them, each in a
subprocess whose peak resident memory the kernel reports:

* ``seqlab prepare lm --data DIR`` on a fresh cache: wall time, MB/s of training text, peak RSS;
* ``seqlab train lm --data DIR --preset char-lstm-small`` on the prepared corpus, a few steps: seconds from the
  command's start to its first logged training step (Python, torch and the model included), peak RSS, tokens/s;
* the same under ``torchrun --nproc-per-node 2`` (peak RSS: the largest of the processes).

The corpora are built from the English text in ../shared/data (tiny Shakespeare, the PTB training file, the SST-2
sentences) by repetition, the lines of each copy shuffled with a fixed seed: DIR/train.txt of the size asked, and
DIR/valid.txt of 100 kB (so that the evaluation at the end stays short).  Goals: peak RSS <= 1.5 GB everywhere,
>= 50 MB/s preparing characters and >= 10 MB/s BPE, <= 5 s to the first step of a prepared corpus at every size.

    python benchmarks/lm_corpus_scale.py [--sizes 10,100,1000] [--levels char,bpe] [--runs DIR] [--keep]
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, parser, write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = ["char_lm/input.txt", "word_lm/ptb.train.txt", "sentiment/sst2/stsa.binary.train"]
PEAK = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
        "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")
SEED = 1234


def base_lines() -> list[str]:
    lines = []
    for name in SOURCES:
        path = SHARED / name
        if path.is_file():
            lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        from seqlab.data.corpus import bundled_corpus
        from seqlab.data.files import read_text

        lines = [line for line in read_text(bundled_corpus()).splitlines() if line.strip()]
    return lines


def write_corpus(directory: Path, megabytes: int) -> None:
    """DIR/train.txt of ``megabytes`` MB and DIR/valid.txt of 100 kB: copies of the base lines, each shuffled."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "train.txt").is_file() and (directory / "train.txt").stat().st_size >= megabytes * 10**6:
        return
    lines, rng = base_lines(), random.Random(SEED)
    for name, size in (("valid.txt", 10**5), ("train.txt", megabytes * 10**6)):
        written = 0
        with open(directory / f"{name}.tmp", "w", encoding="utf-8") as f:
            while written < size:
                rng.shuffle(lines)
                for line in lines:
                    f.write(line + "\n")
                    written += len(line.encode("utf-8")) + 1
                    if written >= size:
                        break
        os.replace(directory / f"{name}.tmp", directory / name)


def measure(command: list[str], env: dict, metrics: Path | None = None) -> dict:
    """Run a command: exit status, wall time, peak RSS, and (``metrics``: a run's metrics.jsonl) the seconds from
    the start to the first training record and the training tokens/s."""
    start, first = time.perf_counter(), None
    proc = subprocess.Popen([sys.executable, "-c", PEAK, *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    while metrics is not None and proc.poll() is None and first is None:
        if metrics.is_file() and '"train"' in metrics.read_text():
            first = time.perf_counter() - start
        time.sleep(0.05)
    _, err = proc.communicate()
    lines = err.strip().splitlines()
    peak = int(lines.pop().split()[1]) if lines and lines[-1].startswith("peak_kb") else 0
    row = {"exit": proc.returncode, "wall_s": round(time.perf_counter() - start, 2),
           "peak_rss_mb": round(peak / 1024, 1)}
    if proc.returncode != 0:
        row["error"] = (lines or ["?"])[-1][-300:]
    if metrics is not None and metrics.is_file():
        records = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        rates = [r["tokens_per_s"] for r in records if r.get("split") == "train" and "tokens_per_s" in r]
        row["first_step_s"] = round(first, 2) if first is not None else None
        row["tokens_per_s"] = round(rates[-1]) if rates else None
    return row


def main(argv=None) -> None:
    ap = parser(__doc__.splitlines()[0], "runs/bench-lm_corpus_scale", minutes_help=None)
    ap.add_argument("--sizes", default="10,100,1000", help="corpus sizes in MB (default 10,100,1000)")
    ap.add_argument("--levels", default="char,bpe", help="token levels (default char,bpe)")
    ap.add_argument("--steps", type=int, default=20, help="training steps of each start (default 20)")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpora and token files")
    args = ap.parse_args(argv)
    work = Path(args.runs)
    rows, began = [], time.perf_counter()
    seqlab = ["-m", "seqlab"]
    torchrun = [str(Path(sys.executable).with_name("torchrun")), "--nproc-per-node", "2", "-m", "seqlab"]
    for megabytes in [int(x) for x in args.sizes.split(",") if x]:
        corpus = work / f"corpus-{megabytes}mb"
        t0 = time.perf_counter()
        write_corpus(corpus, megabytes)
        print(f"corpus {corpus}: {megabytes} MB written in {time.perf_counter() - t0:.1f} s", flush=True)
        for level in [x for x in args.levels.split(",") if x]:
            cache = work / f"cache-{megabytes}mb-{level}"
            shutil.rmtree(cache, ignore_errors=True)
            env = {**os.environ, "SEQLAB_CACHE": str(cache)}
            row = {"size_mb": megabytes, "level": level,
                   "train_bytes": (corpus / "train.txt").stat().st_size}
            prep = measure([sys.executable, *seqlab, "prepare", "lm", "--data", str(corpus), "--level", level], env)
            row["prepare"] = {**prep, "mb_per_s": round(row["train_bytes"] / 1e6 / prep["wall_s"], 1)}
            row["token_file_bytes"] = sum(p.stat().st_size for p in cache.rglob("*.bin"))
            for name, launcher in (("train", [sys.executable, *seqlab]), ("train_torchrun_2", torchrun)):
                run = work / f"run-{megabytes}mb-{level}-{name}"
                shutil.rmtree(run, ignore_errors=True)
                row[name] = measure([*launcher, "train", "lm", "--data", str(corpus), "--preset", "char-lstm-small",
                                     f"--data.level={level}", f"--train.max_steps={args.steps}",
                                     "--train.log_every=1", f"--train.eval_every={args.steps}",
                                     "--train.progress=false", "--runs", str(work), "--name", run.name],
                                    env, run / "metrics.jsonl")
                shutil.rmtree(run, ignore_errors=True)
            print(json.dumps(row), flush=True)
            rows.append(row)
            if not args.keep:
                shutil.rmtree(cache, ignore_errors=True)
            path = write_results("lm_corpus_scale", {
                "goal": "peak RSS <= 1.5 GB preparing and training at every size; >= 50 MB/s preparing characters, "
                        ">= 10 MB/s BPE; <= 5 s from the command's start to the first step of a prepared corpus",
                "seed": SEED, "sources": SOURCES, "rows": rows}, time.perf_counter() - began)
        if not args.keep:
            shutil.rmtree(corpus, ignore_errors=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    exit_on_user_error(main)
