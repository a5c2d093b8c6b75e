"""Shared by the benchmarks: machine description and the results file."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
from pathlib import Path

import torch

from seqlab.train.trainer import flush_denormals

flush_denormals()  # every benchmark imports this module first: before torch starts its worker threads
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


def figures_before(old: dict, new: dict, date: str) -> dict | None:
    """The replaced row's figures (from the results file of ``date``) beside the new ones, with the settings that
    changed as [old, new]; a rerun with the same settings keeps what the old row was compared with."""
    if old.get("config") == new["config"]:
        return old.get("before")
    flat_old, flat_new = flat_config(old.get("config", {})), flat_config(new["config"])
    changed = {k: [flat_old[k], v] for k, v in flat_new.items()  # settings the old run had too, bar the paths
               if k in flat_old and flat_old[k] != v and k not in ("data.path", "train.progress")}
    kept = {k: old[k] for k in ("steps", "train_time_s", "valid", "test") if k in old}
    return {"results_of": date, **kept, "changed": changed}


def flat_config(config: dict) -> dict:
    return {f"{section}.{k}": v for section, values in config.items() for k, v in values.items()}


def exit_on_user_error(main) -> None:
    """Run a benchmark's ``main()``; a user error (missing data, bad option) ends it with its one-line message."""
    from seqlab.errors import UserError

    try:
        main()
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def lm_benchmark(name: str, presets: list[str], description: str, goal: dict, argv=None) -> None:
    """Train language-model presets on real data; record validation loss against training time.

    Command line: --data PATH (default under ../shared/data), --test FILE (a withheld test
    split, scored with the same code), --presets a,b (default: the script's), --minutes M,
    --runs DIR (each preset trains in DIR/<preset>; a run already there is resumed, or just
    re-evaluated when finished), and any config override.  A user error (missing data, bad
    key) ends the script with its one-line message.
    """
    from seqlab.errors import UserError

    try:
        _lm_benchmark(name, presets, description, goal, argv)
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def _lm_benchmark(name: str, presets: list[str], description: str, goal: dict, argv) -> None:
    import argparse
    import time

    from seqlab.errors import UserError

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", default=str(goal["default_data"]))
    ap.add_argument("--test", default="", help="a test file to score the final models on")
    ap.add_argument("--presets", default=",".join(presets), help="comma-separated presets to train and compare")
    ap.add_argument("--minutes", type=float, default=None, help="training time budget (default: the preset's)")
    ap.add_argument("--runs", default=f"runs/bench-{name}")
    args, rest = ap.parse_known_args(argv)
    if not Path(args.data).exists():
        raise UserError(f"--data {args.data} does not exist (the shared datasets live in ../shared/data)")
    start = time.perf_counter()
    names = args.presets.split(",")
    kept = [r for r in _previous_rows(name) if r["preset"] not in names]  # rows of presets not run this time
    rows = []
    for preset_name in names:
        rows.append(_lm_run(preset_name, args, rest))
        path = write_results(name, {"data": args.data, "goal": goal["text"], "runs": kept + rows},
                             time.perf_counter() - start)
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("config", "valid_curve")}), flush=True)
    print(f"wrote {path}")


def _lm_run(preset_name: str, args, overrides: list[str]) -> dict:
    """Train (or resume) one preset; its figures, with the validation curve against training time."""
    import math

    from seqlab import plots
    from seqlab.tasks import lm
    from seqlab.train import checkpoint

    cfg = configure("lm", preset_name, {"data.path": args.data, "data.test_path": args.test}, args.minutes, overrides)
    run_dir = Path(args.runs) / preset_name
    final = lm.TASK.train(cfg, run_dir, resume=checkpoint.find(run_dir / "last") is not None)
    curve = [{"step": r["step"], "time_s": r["time_s"], "valid_loss": round(r["loss"], 4)}
             for r in plots.read_metrics(run_dir) if r.get("split") == "valid"]
    best = min(c["valid_loss"] for c in curve)
    row = {"preset": preset_name, "model": f"{cfg.model.cell} {cfg.model.num_layers}x{cfg.model.hidden_size}",
           "parameters": sum(p.numel() for p in lm.TASK.load(run_dir).model.parameters()),
           "train_time_s": curve[-1]["time_s"], "steps": final["steps"], "final_valid_loss": round(final["loss"], 4),
           "best_valid_loss": best, "best_valid_ppl": round(math.exp(best), 2), "valid_curve": curve,
           "config": _as_dict(cfg)}
    if args.test:
        test = lm.evaluate_run(lm.TASK.load(run_dir), args.test, cfg.train.eval_batch_size)
        row["test_loss"], row["test_ppl"] = round(test["loss"], 4), round(test["ppl"], 2)
    return row


def _as_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def task_benchmark(name: str, task_name: str, presets: list[str], description: str, goal: str,
                   files: dict[str, str], argv=None, extra=None) -> list[dict]:
    """Train presets of a task (through the task registry) and score them on the validation file.

    ``files`` maps config keys to default paths (e.g. ``{"data.path": TRAIN, "data.valid": DEV}``);
    each is a command-line option (``--data.path``, ...).  ``--test FILE`` scores a withheld
    test file with the same code; ``--presets``, ``--minutes``, ``--runs`` and any
    ``--section.key=value`` override as for the LM benchmarks.  Runs already in ``--runs``
    are resumed (or, when finished, only re-scored); the results file keeps the rows of
    presets not run this time, so presets can be run one invocation at a time.  ``extra(args)``,
    when given, is called once with the parsed arguments before the presets train and returns
    figures (e.g. baselines measured on the same files) written into the results beside the rows.
    """
    from seqlab.errors import UserError

    try:
        return _task_benchmark(name, task_name, presets, description, goal, files, argv, extra)
    except UserError as e:
        raise SystemExit(f"error: {e}") from None


def _task_benchmark(name, task_name, presets, description, goal, files, argv, extra) -> list[dict]:
    import argparse
    import time

    from seqlab.errors import UserError

    ap = argparse.ArgumentParser(description=description)
    for key, default in files.items():
        ap.add_argument(f"--{key}", dest=key.replace(".", "_"), default=str(default))
    ap.add_argument("--test", default="", help="a withheld test file, scored with the same code")
    ap.add_argument("--presets", default=",".join(presets), help="comma-separated presets to train and compare")
    ap.add_argument("--minutes", type=float, default=None, help="training time budget per preset (default: the preset's)")
    ap.add_argument("--runs", default=f"runs/bench-{name}")
    args, rest = ap.parse_known_args(argv)
    for key in files:
        if not Path(getattr(args, key.replace(".", "_"))).exists():
            raise UserError(f"--{key} {getattr(args, key.replace('.', '_'))} does not exist "
                            "(the shared datasets live in ../shared/data)")
    start = time.perf_counter()
    figures = extra(args) if extra else {}
    names = [n for n in args.presets.split(",") if n]
    kept = [r for r in _previous_rows(name) if r["preset"] not in names]  # rows of presets not run this time
    rows = []
    path = write_results(name, {"goal": goal, **figures, "runs": kept}, time.perf_counter() - start)
    for preset_name in names:
        rows.append(_task_run(task_name, preset_name, args, files, rest))
        path = write_results(name, {"goal": goal, **figures, "runs": kept + rows}, time.perf_counter() - start)
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("config", "valid", "test")}), flush=True)
    print(f"wrote {path}")
    return rows


def configure(task_name: str, preset_name: str, settings: dict, minutes: float | None, overrides: list[str]):
    """A task's preset with ``settings`` (dotted keys, e.g. the data paths), the time budget and overrides."""
    from seqlab.tasks import registry
    from seqlab.train.config import apply_overrides, parse_overrides, set_key

    cfg = registry.get(task_name).preset(preset_name)
    for key, value in settings.items():
        set_key(cfg, key, value)
    if minutes is not None:
        cfg.train.max_minutes = minutes
    apply_overrides(cfg, parse_overrides(overrides))
    return cfg


def _previous_rows(name: str) -> list[dict]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()).get("runs", []) if path.is_file() else []


def _task_run(task_name: str, preset_name: str, args, files: dict, overrides: list[str]) -> dict:
    """Train (or resume) one preset of a task; its validation (and test) scores and training time."""
    from seqlab import plots
    from seqlab.tasks import registry
    from seqlab.train import checkpoint

    task = registry.get(task_name)
    cfg = configure(task_name, preset_name, {key: getattr(args, key.replace(".", "_")) for key in files}, args.minutes,
                    overrides)
    run_dir = Path(args.runs) / preset_name
    final = task.train(cfg, run_dir, resume=checkpoint.find(run_dir / "last") is not None)
    records = plots.read_metrics(run_dir)
    valid_rows = [r for r in records if r.get("split") == "valid"]
    run = task.load(run_dir, "auto")
    valid = task.evaluate(run, task.evaluate_options(data=cfg.data.valid))
    row = {"preset": preset_name, "parameters": sum(p.numel() for p in run.model.parameters()),
           "train_time_s": valid_rows[-1]["time_s"], "steps": final["steps"], "seed": cfg.train.seed,
           "valid_curve": [{k: round(r[k], 4) if isinstance(r[k], float) else r[k]
                            for k in ("step", "time_s", "accuracy", "f1", "ppl") if k in r} for r in valid_rows],
           "valid": _plain(valid), "config": _as_dict(cfg)}
    if args.test:
        row["test"] = _plain(task.evaluate(run, _test_options(task, args.test, run_dir)))
    return row


def _test_options(task, path: str, run_dir: Path):
    """The task's evaluate options for a test file (classification: its confusion matrix beside the validation one)."""
    fields = {f.name for f in dataclasses.fields(task.evaluate_options)}
    extra = {"plot": str(run_dir / "confusion_test.png")} if "plot" in fields else {}
    return task.evaluate_options(data=path, **extra)


def _plain(metrics: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
