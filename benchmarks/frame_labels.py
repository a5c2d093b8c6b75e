"""Frame-level labelling of spoken digits (synchronous many -> many on audio): every 10 ms frame of a
connected-digit utterance labelled silence or the digit being spoken.

Utterances of 2-7 FSDD recordings joined by silences (the speech task's connected mode,
official split: test utterances from takes 0-4 only); the frame labels come from how each
utterance was assembled, the silence at each recording's ends from an energy threshold
(``data.silence_db``, see ``seqlab.data.fsdd.frame_labels``).  Rows: a bidirectional GRU frame
tagger with a per-frame softmax (``fsdd-frames``) and with a CRF over the frames, and beside
them the CTC model of the connected-digit task, its greedy path read as segments (runs of
one non-blank label).  Reported on the validation and test utterances: frame accuracy and
segment precision / recall / F1 (a segment counts when its label and both boundaries within
+-2 frames match a gold segment), and the digit error rate of the segments read as a string.

    python benchmarks/frame_labels.py [--data DIR] [--presets fsdd-frames,...] [--ctc-minutes 15] [--minutes M]
                                      [--test DIR] [--runs DIR] [--section.key=value ...]

``--test DIR`` scores the models on the test side of another FSDD-layout directory as well.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import config_of, configure, exit_on_user_error, parser, train_or_resume, write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech" / "recordings"
GOAL = "frame taggers: frame accuracy and segment F1 on the test utterances, beside CTC read as segments"
PRESETS = {"frames-softmax": ("fsdd-frames", {}), "frames-crf": ("fsdd-frames", {"model.output": "crf"})}


def _round(m: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()}


def _train(name: str, preset: str, settings: dict, args, rest):
    from seqlab.tasks import speech

    cfg = configure("speech", preset, {"data.path": args.data, **settings}, None, rest)
    run_dir = Path(args.runs) / name
    t0 = time.perf_counter()
    final = train_or_resume(speech.TASK, cfg, run_dir)
    return speech.TASK.load(run_dir), {"name": name, "preset": preset, "settings": settings, "steps": final["steps"],
                                       "seed": cfg.train.seed, "wall_time_s": round(time.perf_counter() - t0, 1),
                                       "config": config_of(cfg)}


def ctc_as_segments(ctc_run, frames_cfg, data: str, part: str) -> dict:
    """The CTC model on the frame task's utterances: its greedy path's runs as segments, scored as the taggers'."""
    from seqlab.metrics.segments import segment_scores, segments
    from seqlab.tasks import speech

    items = speech.examples(frames_cfg, ctc_run.features, speech.split_recordings(frames_cfg.data, data)[part], part)
    outputs = speech.outputs(ctc_run.model, items, ctc_run.device)
    found = [ctc_run.model.segments(lp) for lp in outputs]
    gold = [segments(y.tolist()) for _, y in items]
    return {**segment_scores(gold, found), "digit_error_rate": digit_error_rate(found, gold), "examples": len(items)}


def digit_error_rate(found, gold) -> float:
    """The segments' labels read as digit strings: edit distance / gold digits."""
    from seqlab.ctc import edit_distance

    errors = sum(edit_distance([k for k, _, _ in f], [k for k, _, _ in g]) for f, g in zip(found, gold))
    return errors / sum(map(len, gold))


def tagger_scores(run, data: str, part: str) -> dict:
    from seqlab.metrics.segments import segments
    from seqlab.tasks import speech

    items = speech.examples(run.cfg, run.features, speech.split_recordings(run.cfg.data, data)[part], part)
    outputs = speech.outputs(run.model, items, run.device)
    scores = run.model.score(outputs, [y for _, y in items])
    found = [segments(run.model.labels(e)) for e in outputs]
    gold = [segments(y.tolist()) for _, y in items]
    return {**scores, "digit_error_rate": digit_error_rate(found, gold), "examples": len(items)}


def run(argv=None) -> None:
    ap = parser(__doc__.splitlines()[0], "runs/bench-frame_labels", minutes=None, minutes_help="training budget per frame tagger", test="another FSDD-layout directory whose test side is scored too")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--presets", default=",".join(PRESETS), help=f"rows among {', '.join(PRESETS)}")
    ap.add_argument("--ctc-minutes", type=float, default=15.0, help="training budget of the CTC comparison (0: none)")
    args, rest = ap.parse_known_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"error: --data {args.data} is not a directory (the shared datasets live in ../shared/data)")
    start, rows = time.perf_counter(), []
    frames_cfg = None
    for name in [n for n in args.presets.split(",") if n]:
        if name not in PRESETS:
            raise SystemExit(f"error: --presets: no row {name!r}; rows: {', '.join(PRESETS)}")
        preset, settings = PRESETS[name]
        settings = {**settings, **({"train.max_minutes": args.minutes} if args.minutes else {})}
        trained, row = _train(name, preset, settings, args, rest)
        frames_cfg = trained.cfg
        for part in ("valid", "test"):
            row[part] = _round(tagger_scores(trained, args.data, part))
        if args.test:
            row["extra_test"] = _round(tagger_scores(trained, args.test, "test"))
        rows.append(row)
        print({k: v for k, v in row.items() if k != "config"}, flush=True)
        write_results("frame_labels", {"goal": GOAL, "runs": rows}, time.perf_counter() - start)
    if args.ctc_minutes > 0:
        trained, row = _train("ctc", "fsdd-ctc", {"train.max_minutes": args.ctc_minutes}, args, rest)
        frames_cfg = frames_cfg or configure("speech", "fsdd-frames", {"data.path": args.data}, None, rest)
        for part in ("valid", "test"):
            row[part] = _round(ctc_as_segments(trained, frames_cfg, args.data, part))
        rows.append(row)
        print({k: v for k, v in row.items() if k != "config"}, flush=True)
    print(f"wrote {write_results('frame_labels', {'goal': GOAL, 'runs': rows}, time.perf_counter() - start)}")


if __name__ == "__main__":
    exit_on_user_error(run)
