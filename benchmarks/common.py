"""Shared by the benchmarks: machine description and the results file."""
from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def write_results(name: str, figures: dict, wall_time_s: float, out: Path | None = None) -> Path:
    """benchmarks/results/<name>.json with date, machine, torch version and wall time."""
    record = {
        "name": name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch": torch.__version__,
        "wall_time_s": round(wall_time_s, 1),
        **figures,
    }
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return path


def lm_benchmark(name: str, preset_name: str, description: str, goal: dict, argv=None) -> None:
    """Train a language-model preset on real data and record validation loss against wall time.

    Command line: --data PATH (default under ../shared/data), --test FILE (a withheld test
    split, scored with the same code), --minutes M, --run-dir DIR, and any config override.
    A user error (missing data, bad key) ends the script with its one-line message.
    """
    from seqlab.errors import UserError

    try:
        _lm_benchmark(name, preset_name, description, goal, argv)
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def _lm_benchmark(name: str, preset_name: str, description: str, goal: dict, argv) -> dict:
    import argparse
    import math
    import time

    from seqlab import plots
    from seqlab.errors import UserError
    from seqlab.tasks import lm
    from seqlab.tasks.presets import preset
    from seqlab.train.config import parse_overrides, set_key

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", default=str(goal["default_data"]))
    ap.add_argument("--test", default="", help="a test file to score the final model on")
    ap.add_argument("--minutes", type=float, default=None, help="training time budget (default: the preset's)")
    ap.add_argument("--run-dir", default=f"runs/bench-{name}")
    args, rest = ap.parse_known_args(argv)
    cfg = preset(preset_name)
    cfg.data.path, cfg.data.test_path = args.data, args.test
    if args.minutes is not None:
        cfg.train.max_minutes = args.minutes
    for key, value in parse_overrides(rest):
        set_key(cfg, key, value)
    if not Path(args.data).exists():
        raise UserError(f"--data {args.data} does not exist (the shared datasets live in ../shared/data)")
    start = time.perf_counter()
    final = lm.train(cfg, Path(args.run_dir))
    wall = time.perf_counter() - start
    curve = [{"step": r["step"], "time_s": r["time_s"], "valid_loss": round(r["loss"], 4)}
             for r in plots.read_metrics(args.run_dir) if r.get("split") == "valid"]
    best = min(c["valid_loss"] for c in curve)
    figures = {"preset": preset_name, "data": args.data, "config": _as_dict(cfg), "valid_curve": curve,
               "final_valid_loss": round(final["loss"], 4), "best_valid_loss": best,
               "best_valid_ppl": round(math.exp(best), 2), "steps": final["steps"], "goal": goal["text"]}
    if args.test:
        test = lm.evaluate_file(args.run_dir, args.test, cfg.train.eval_batch_size)
        figures["test_loss"], figures["test_ppl"] = round(test["loss"], 4), round(test["ppl"], 2)
    path = write_results(name, figures, wall)
    print(json.dumps({k: v for k, v in figures.items() if k not in ("config", "valid_curve")}, indent=2))
    print(f"wrote {path}")
    return figures


def _as_dict(cfg) -> dict:
    import dataclasses

    return dataclasses.asdict(cfg)
