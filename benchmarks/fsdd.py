"""Free Spoken Digit Dataset: isolated digits (official and speaker-held-out splits) and connected digits with CTC.

Rows: ``isolated-official`` (takes 0-4 of every speaker are the test set), ``isolated-speaker-NAME``
(NAME's recordings are the test set, for each of the six speakers: mean and worst reported;
``--speaker-epochs``, 15 by default, keeps the six folds within the CPU budget),
``connected-official`` (utterances of 2-7 digits built from training takes; the test utterances
from test takes only), decoded greedily and with a prefix beam of 8.  Model selection on a
validation part held out of the training recordings.  Goals: isolated >= 99% test accuracy on the
official split; connected digit error rate <= 3% on the official split's test utterances.

    python benchmarks/fsdd.py [--data DIR] [--test DIR] [--parts isolated,speakers,connected]
                              [--minutes M] [--speaker-epochs E] [--runs DIR] [--section.key=value ...]

A row that replaces one of the results file with other settings keeps the old figures beside the new
(``before``: its test figures, steps and the settings that changed).

``--test DIR`` scores the trained models on the test side of another FSDD-layout directory.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, earlier_rows, note_before, parser, train_or_resume, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech" / "recordings"
GOAL = "isolated digits >= 99% test accuracy (official split); connected digits DER <= 3% (official split)"


def main(argv=None) -> None:
    from seqlab.errors import UserError

    try:
        run(argv)
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def _row(name: str, preset: str, split: str, args, rest) -> dict:
    from seqlab.tasks import speech

    settings = {"data.path": args.data, "data.split": split}
    if split.startswith("speaker:"):
        settings["train.epochs"] = args.speaker_epochs
    cfg = configure("speech", preset, settings, args.minutes, rest)
    run_dir = Path(args.runs) / name
    t0 = time.perf_counter()
    final = train_or_resume(speech.TASK, cfg, run_dir)
    trained = speech.TASK.load(run_dir)
    beams = [1] if cfg.data.mode == "isolated" else [1, 8]
    row = {"name": name, "preset": preset, "split": split, "steps": final["steps"], "seed": cfg.train.seed,
           "parameters": sum(p.numel() for p in trained.model.parameters()),
           "wall_time_s": round(time.perf_counter() - t0, 1), "config": config_of(cfg),
           "test": {f"beam{b}": _round(speech.evaluate(trained, speech.EvaluateOptions(None, "test", b)))
                    for b in beams}}
    if args.test:
        row["extra_test"] = _round(speech.evaluate(trained, speech.EvaluateOptions(args.test, "test", 1)))
    return row


def _round(m: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()}


def run(argv) -> None:
    from seqlab.data.fsdd import read_fsdd
    from seqlab.errors import UserError

    ap = parser(__doc__.splitlines()[0], "runs/bench-fsdd", minutes=None, minutes_help="training budget per model (default: the preset's)", test="another FSDD-layout directory whose test side is scored too")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--parts", default="isolated,speakers,connected")
    ap.add_argument("--speaker-epochs", type=float, default=15,
                    help="epochs of each speaker-held-out fold (six of them: fewer than the official run's 40)")
    args, rest = ap.parse_known_args(argv)
    if not Path(args.data).is_dir():
        raise UserError(f"--data {args.data} is not a directory (the shared datasets live in ../shared/data)")
    parts = set(args.parts.split(","))
    if parts - {"isolated", "speakers", "connected"}:
        raise UserError(f"--parts takes isolated, speakers and connected, got {args.parts!r}")
    jobs = []
    if "isolated" in parts:
        jobs.append(("isolated-official", "fsdd-isolated", "official"))
    if "speakers" in parts:
        jobs += [(f"isolated-speaker-{s}", "fsdd-isolated", f"speaker:{s}")
                 for s in sorted({r.speaker for r in read_fsdd(args.data)})]
    if "connected" in parts:
        jobs.append(("connected-official", "fsdd-ctc", "official"))
    earlier, date = earlier_rows("fsdd", lambda r: r["name"])
    kept = [r for name, r in earlier.items() if name not in {name for name, _, _ in jobs}]
    start, rows = time.perf_counter(), []
    for name, preset, split in jobs:
        rows.append(note_before(_row(name, preset, split, args, rest), earlier.get(name), date))
        summary = _summary(kept + rows)
        path = write_results("fsdd", {"data": args.data, "goal": GOAL, "summary": summary, "runs": kept + rows},
                      time.perf_counter() - start)
        print(json.dumps({k: rows[-1][k] for k in ("name", "steps", "wall_time_s", "test")}), flush=True)
    print(json.dumps(_summary(kept + rows), indent=2))
    print(f"wrote {path}")


def _summary(rows: list[dict]) -> dict:
    out = {}
    speakers = [r["test"]["beam1"]["accuracy"] for r in rows if r["name"].startswith("isolated-speaker-")]
    if speakers:
        out["speaker_held_out_accuracy"] = {"mean": round(sum(speakers) / len(speakers), 4), "worst": min(speakers),
                                            "folds": len(speakers)}
    before = [r["before"]["test"]["beam1"]["accuracy"] for r in rows
              if r["name"].startswith("isolated-speaker-") and r.get("before")]
    if before and len(before) == len(speakers):
        out["speaker_held_out_accuracy_before"] = {"mean": round(sum(before) / len(before), 4), "worst": min(before)}
    for r in rows:
        if r["name"] == "isolated-official":
            out["isolated_official_accuracy"] = r["test"]["beam1"]["accuracy"]
            if r.get("before"):
                out["isolated_official_accuracy_before"] = r["before"]["test"]["beam1"]["accuracy"]
        if r["name"] == "connected-official":
            out["connected_official"] = {b: {k: r["test"][b][k] for k in ("digit_error_rate", "utterance_accuracy")}
                                         for b in r["test"]}
    return out


if __name__ == "__main__":
    main()
