"""seqlab serve under load: rounds of 20 concurrent requests to a classifier and a tagger panel, all answered?

Starts ``seqlab serve`` on a free local port over the given runs (by default it trains two small ones
first, or reuses those of an earlier run: an SST-2 classifier with attention pooling and a CoNLL NER
tagger, 300 steps each), then sends
``--rounds`` rounds of ``--concurrency`` simultaneous requests (sentences from the validation files) to
each panel and reports how many were answered and the median and 95th-percentile latency, beside the
latency of one request alone.  Traffic goes to 127.0.0.1 only; the loop is bounded by the rounds.

    python benchmarks/serve_load.py [--classifier RUN] [--tagger RUN] [--rounds 5] [--concurrency 20]
"""
from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, parser, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SST2, CONLL = DATA / "sentiment" / "sst2", DATA / "ner"


def _train(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "seqlab", "train", *args, "--train.progress=false"], check=True,
                   stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(url: str, text: str) -> tuple[float, bool]:
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            ok = r.status == 200 and "error" not in json.load(r)
    except (urllib.error.URLError, OSError):
        ok = False
    return time.perf_counter() - start, ok


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(url: str, sentences: list[str], rounds: int, concurrency: int) -> dict:
    alone = [_ask(url, sentences[k])[0] for k in range(5)]
    latencies, answered = [], 0
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for r in range(rounds):
            batch = [sentences[(r * concurrency + k) % len(sentences)] for k in range(concurrency)]
            for seconds, ok in pool.map(lambda s: _ask(url, s), batch):
                latencies.append(seconds)
                answered += ok
    wall = time.perf_counter() - start
    ms = lambda s: round(1000 * s, 1)
    return {"requests": rounds * concurrency, "answered": answered, "concurrency": concurrency,
            "median_ms": ms(statistics.median(latencies)), "p95_ms": ms(_percentile(latencies, 0.95)),
            "max_ms": ms(max(latencies)), "alone_median_ms": ms(statistics.median(alone)),
            "requests_per_s": round(rounds * concurrency / wall, 1)}


def main() -> None:
    from seqlab.errors import UserError

    ap = parser(__doc__.splitlines()[0], "runs/bench-serve_load", minutes_help=None)
    ap.add_argument("--classifier", help="a classify run (default: train one, 300 steps)")
    ap.add_argument("--tagger", help="a tag run (default: train one, 300 steps)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=20)
    args = ap.parse_args()
    for path in (SST2 / "stsa.binary.train", SST2 / "stsa.binary.dev", CONLL / "eng.train", CONLL / "eng.testa"):
        if not path.exists():
            raise UserError(f"{path} does not exist (the shared datasets live in ../shared/data)")
    start = time.perf_counter()
    classifier = args.classifier or f"{args.runs}/classifier"
    tagger = args.tagger or f"{args.runs}/tagger"
    if not args.classifier and not Path(classifier, "config.json").is_file():  # trained by an earlier run: reused
        _train(["classify", "--preset", "sst2-bilstm-attention", "--data", str(SST2 / "stsa.binary.train"),
                "--data.valid", str(SST2 / "stsa.binary.dev"), "--runs", args.runs, "--name", "classifier",
                "--train.max_steps=300"])
    if not args.tagger and not Path(tagger, "config.json").is_file():
        _train(["tag", "--preset", "conll-bilstm-crf", "--data", str(CONLL / "eng.train"),
                "--data.valid", str(CONLL / "eng.testa"), "--runs", args.runs, "--name", "tagger",
                "--train.max_steps=300"])
    sentences = [line.split(maxsplit=1)[1] for line in (SST2 / "stsa.binary.dev").read_text().splitlines() if line]
    tokens = [line.split()[0] for line in (CONLL / "eng.testa").read_text().splitlines()[:3000]
              if line.strip() and not line.startswith("-DOCSTART-")]
    tag_sentences = [" ".join(tokens[i : i + 14]) for i in range(0, len(tokens) - 14, 14)]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "seqlab", "serve", classifier, tagger, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/api/runs", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise UserError(f"seqlab serve exited: {server.stderr.read().strip()}") from None
                time.sleep(0.2)
        figures = {"classifier": {"run": classifier, **load(f"{base}/api/0/predict", sentences, args.rounds,
                                                            args.concurrency)},
                   "tagger": {"run": tagger, **load(f"{base}/api/1/predict", tag_sentences, args.rounds,
                                                    args.concurrency)}}
    finally:
        server.terminate()
        server.wait(10)
    for name, f in figures.items():
        print(f"{name}: {f['answered']}/{f['requests']} answered, {f['concurrency']} at a time: median "
              f"{f['median_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms ({f['requests_per_s']} requests/s); "
              f"one alone: {f['alone_median_ms']} ms")
    print(f"wrote {write_results('serve_load', {'config': vars(args), **figures}, time.perf_counter() - start)}")


if __name__ == "__main__":
    exit_on_user_error(main)
