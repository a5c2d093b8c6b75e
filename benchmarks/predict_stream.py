"""Long and large input at prediction time: peak memory and throughput of ``seqlab predict``.

Every row runs ``seqlab predict`` (or ``transcribe``) as a user would, in a subprocess, and
reads its peak resident memory from the kernel (``os.wait4``):

* 1,000,000 short lines on stdin (SST-2 training phrases, cycled) through the SST-2 BiLSTM
  classifier (``sst2-bilstm-max``), beside 1,000 lines of the same: lines/s and peak memory --
  streamed input keeps the two peaks close;
* one line of 100,000 tokens (accepted: a recurrent model reads any length) and one of 10 MB
  without a newline (refused at ``--max-chars``, 1,000,000 by default);
* a character LM continuing a 1,000,000-character prime (read in windows of 1,024 with the state carried);
* a spoken-digit CTC model on a 600 s WAV (the default ``--max-seconds``) and a 1-hour WAV (refused
  from its header).

    python benchmarks/predict_stream.py [--run RUN_DIR] [--lines 1000000] [--minutes 3] [--runs DIR]
                                        [--sst2 DIR] [--fsdd DIR]

``--run`` uses a trained classifier run instead of training the preset for ``--minutes``.
No test split is read (the input is training phrases; the model's accuracy is not measured here).
"""
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import configure, exit_on_user_error, parser, write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SEQLAB = [sys.executable, "-m", "seqlab"]


# A small Python runs the command and reports its children's peak memory: Linux counts, in a child's peak,
# the memory of the process it was forked from, and this script holds a trained model by then.
PEAK = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
        "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def measure(args: list[str], stdin: Path | None = None) -> dict:
    """Run a seqlab command: exit status, wall time, peak resident memory, output lines, the error's last line."""
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as src:
        proc = subprocess.Popen([sys.executable, "-c", PEAK, *SEQLAB, *args], stdin=src, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        lines = sum(1 for _ in proc.stdout)
        err = proc.stderr.read().decode().strip().splitlines()
        code = proc.wait()
    peak_kb = int(err.pop().split()[1])
    return {"exit": code, "wall_s": round(time.perf_counter() - start, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
            "output_lines": lines, "message": err[-1] if err else ""}


def _row(name: str, result: dict, **extra) -> dict:
    row = {"row": name, **extra, **result}
    print(row, flush=True)
    return row


def _train(task_name: str, preset: str, data: dict, minutes: float, run_dir: Path, overrides=()) -> Path:
    from seqlab.tasks import registry
    from seqlab.train import checkpoint

    if checkpoint.find(run_dir / "best") is None:
        cfg = configure(task_name, preset, data, minutes, list(overrides))
        registry.get(task_name).train(cfg, run_dir)
    return run_dir


def main() -> None:
    ap = parser(__doc__.split("\n\n")[0], "runs/bench-predict_stream", minutes=3.0, minutes_help="training time of each model trained here")
    ap.add_argument("--run", default=None, help="a trained classifier run (default: train sst2-bilstm-max)")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--sst2", default=str(SHARED / "sentiment" / "sst2"))
    ap.add_argument("--fsdd", default=str(SHARED / "speech" / "recordings"))
    args = ap.parse_args()
    from seqlab.data.wav import write_wav
    from seqlab.errors import UserError

    sst2, runs, start = Path(args.sst2), Path(args.runs), time.perf_counter()
    if not (sst2 / "glue" / "train.tsv").is_file():
        raise UserError(f"--sst2 {sst2} has no glue/train.tsv (the shared datasets live in ../shared/data)")
    work = runs / "inputs"
    work.mkdir(parents=True, exist_ok=True)
    run = Path(args.run) if args.run else _train(
        "classify", "sst2-bilstm-max", {"data.path": str(sst2 / "stsa.binary.train"),
                                        "data.valid": str(sst2 / "stsa.binary.dev")}, args.minutes, runs / "sst2")
    phrases = [line.split("\t")[1] for line in (sst2 / "glue" / "train.tsv").read_text().splitlines()[1:]]
    random.Random(0).shuffle(phrases)
    many, few = work / "many.txt", work / "few.txt"
    with open(many, "w") as f:
        f.writelines(phrases[i % len(phrases)] + "\n" for i in range(args.lines))
    few.write_text("\n".join(phrases[:1000]) + "\n")
    words = " ".join(phrases).split()
    long_line, huge_line = work / "100k_tokens.txt", work / "10MB_line.txt"
    long_line.write_text(" ".join(words[i % len(words)] for i in range(100_000)) + "\n")
    huge_line.write_text(("the film " * 1_200_000)[: 10 * 1024 * 1024])  # no newline at all
    rows = []
    r = measure(["predict", str(run)], stdin=many)
    rows.append(_row(f"{args.lines:,} lines on stdin", r, run=str(run),
                     lines_per_s=round(r["output_lines"] / r["wall_s"], 1)))
    r = measure(["predict", str(run)], stdin=few)
    rows.append(_row("1,000 lines on stdin", r, run=str(run), lines_per_s=round(r["output_lines"] / r["wall_s"], 1)))
    rows.append(_row("one line of 100,000 tokens", measure(["predict", str(run), "--input", str(long_line)]),
                     chars=long_line.stat().st_size))
    rows.append(_row("one 10 MB line without a newline", measure(["predict", str(run), "--input", str(huge_line)]),
                     chars=huge_line.stat().st_size))

    lm_run = _train("lm", "char-lstm-small", {}, min(args.minutes, 1.0), runs / "char-lm")
    prime = work / "prime.txt"
    corpus = "".join(c for c in " ".join(phrases) if c.isascii() and c.isalpha() or c == " ")
    prime.write_text((corpus * 2)[:1_000_000] + "\n")
    rows.append(_row("char LM, a 1,000,000-character prime", measure(
        ["predict", str(lm_run), "--input", str(prime), "--length", "200"])))

    if Path(args.fsdd).is_dir():
        speech_run = _train("speech", "fsdd-ctc", {"data.path": args.fsdd}, min(args.minutes, 1.0),
                            runs / "speech")
        rng = random.Random(0)
        import torch

        tone = torch.tensor([0.3 * rng.uniform(-1, 1) for _ in range(8000)])  # one second of noise, tiled
        for seconds, name in ((600, "a 600 s WAV (the default limit)"), (3600, "a 1-hour WAV")):
            wav = write_wav(work / f"{seconds}s.wav", tone.repeat(seconds), 8000)
            rows.append(_row(name, measure(["transcribe", str(speech_run), str(wav)]), seconds=seconds))
    else:
        print(f"--fsdd {args.fsdd} is not a directory: the WAV rows are left out", flush=True)
    path = write_results("predict_stream", {"rows": rows, "lines": args.lines, "minutes": args.minutes,
                                            "seed": 0}, time.perf_counter() - start)
    print(f"wrote {path}")


if __name__ == "__main__":
    exit_on_user_error(main)
