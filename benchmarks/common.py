"""The benchmarks' one harness: what every script in benchmarks/ shares, written once.

    parser(description, runs=..., minutes=..., test=...)   the flags every benchmark takes: --runs, --minutes, --test
    configure(task, preset, settings, minutes, overrides)    a preset with data paths, budget and --key=value overrides
    train_or_resume(task, cfg, run_dir)                      train a run, resume it, or (finished) just reload it
    run_preset(task, preset, settings, ...)                  one trained preset as a result row (the curve, the scores)
    preset_benchmark(name, task, presets, ...)               a whole benchmark of presets on a task (lm_ptb, sst2, ...)
    previous_rows(name) / write_results(name, figures, ...)  the results file: what an earlier invocation wrote
    config_of(cfg), plain(metrics), flat_config, figures_before   rows as JSON: configs, rounded figures, what changed
    exit_on_user_error(main)                                 a user error (missing data, bad key) is one line, exit 1

Every result file holds the date, the machine (CPU and its flags), the torch version and the wall time.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def cpu_flags() -> list[str]:
    """The vector instruction sets of this CPU that the speed of torch and seqlab's loop depend on."""
    from seqlab.nn import fused

    return sorted(f for f in fused.cpu_flags() or () if f.startswith(("avx", "fma", "sse4", "amx", "asimd", "sve", "neon")))


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


def earlier_rows(name: str, key: Callable[[dict], Any]) -> tuple[dict, str]:
    """The rows of results/NAME.json by ``key(row)``, and the date they were written (for :func:`note_before`)."""
    return {key(r): r for r in previous_rows(name)}, previous_record(name).get("date", "")


def note_before(row: dict, old: dict | None, date: str) -> dict:
    """``row`` with the figures of the row it replaces (``old``, from the results of ``date``) under "before"."""
    before = figures_before(old, row, date) if old is not None else None
    if before:
        row["before"] = before
    return row


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


def parser(description: str, runs: str, minutes: float | None = None, test: str | None = None,
           minutes_help: str | None = "training time budget per run (default: the preset's)") -> argparse.ArgumentParser:
    """The flags every benchmark shares: ``--runs DIR`` (each run trains in DIR/NAME; one already there is resumed,
    or only re-scored when finished), ``--minutes M`` (unless ``minutes_help`` is None: a benchmark that trains
    nothing) and, unless ``test`` is None, ``--test FILE`` (a withheld test file scored with the same code; ``test``
    is its help)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--runs", default=runs, help=f"directory of the benchmark's runs (default {runs})")
    if minutes_help is not None:
        ap.add_argument("--minutes", type=float, default=minutes, help=minutes_help)
    if test is not None:
        ap.add_argument("--test", default="", help=test)
    return ap


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


def train_or_resume(task, cfg, run_dir: Path) -> dict:
    """Train ``cfg`` in ``run_dir``, or resume the run there (a finished one is only re-evaluated)."""
    from seqlab.train import checkpoint

    return task.train(cfg, run_dir, resume=checkpoint.find(Path(run_dir) / "last") is not None)


def config_of(cfg) -> dict:
    """A config as the JSON of a result row."""
    return dataclasses.asdict(cfg)


def plain(metrics: dict) -> dict:
    """Metrics with their floats rounded to 4 places (a results file's precision)."""
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def previous_record(name: str) -> dict:
    """results/NAME.json as an earlier invocation wrote it ({} when there is none)."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def previous_rows(name: str) -> list[dict]:
    """The rows of results/NAME.json from an earlier invocation (under "runs" or "rows"), or none."""
    record = previous_record(name)
    return record.get("runs", record.get("rows", []))


CURVE = ("step", "time_s", "loss", "accuracy", "f1", "ppl")  # the validation figures a row's curve keeps


def row_label(overrides) -> str:
    """What a row's name gains from the command line: "+contextual" when ``--model.contextual=RUN`` is given (the
    same preset with and without the char LMs' vectors are two rows, trained in two run directories)."""
    return "+contextual" if any(a.startswith("--model.contextual=") and a.split("=", 1)[1] for a in overrides) else ""


def run_preset(task_name: str, preset_name: str, settings: dict, runs: str, minutes: float | None = None,
               overrides: list[str] = (), test: str = "", score: Callable | None = None) -> dict:
    """Train (or resume) one preset of a task in ``runs/PRESET`` (``runs/PRESET+contextual`` with char-LM vectors);
    its row: parameters, training time, steps, seed, the validation curve, the config, and
    ``score(task, run, cfg, test)``'s figures (default: the task's own evaluation of ``data.valid`` under "valid",
    and of ``test`` under "test")."""
    from seqlab import plots
    from seqlab.tasks import registry

    task = registry.get(task_name)
    cfg = configure(task_name, preset_name, settings, minutes, list(overrides))
    run_dir = Path(runs) / (preset_name + row_label(overrides))
    final = train_or_resume(task, cfg, run_dir)
    valid_rows = [r for r in plots.read_metrics(run_dir) if r.get("split") == "valid"]
    run = task.load(run_dir, "auto")
    row = {"preset": preset_name + row_label(overrides), "parameters": sum(p.numel() for p in run.model.parameters()),
           "train_time_s": valid_rows[-1]["time_s"], "steps": final["steps"], "seed": cfg.train.seed,
           "valid_curve": [{k: round(r[k], 4) if isinstance(r[k], float) else r[k] for k in CURVE if k in r}
                           for r in valid_rows],
           "config": config_of(cfg)}
    if getattr(cfg.model, "contextual", ""):  # the char LMs' pretraining is part of the row's cost
        row["contextual_lm"] = pretraining(cfg.model.contextual)
    row.update((score or evaluation)(task, run, cfg, test))
    return row


def pretraining(run_dir: str) -> dict:
    """A ``seqlab train charlm`` run as a tagger row cites it: its text (files, characters: as the run recorded them
    in text.json when it started), its training time and steps over all its invocations, and its bits per character
    on the held-out text (its last validation)."""
    from seqlab.plots import read_metrics
    from seqlab.tasks.charlm import TEXT_FILE

    cfg = json.loads((Path(run_dir) / "config.json").read_text())
    files = [p.strip() for p in cfg["data"]["path"].split(",") if p.strip()]
    counts = json.loads((Path(run_dir) / TEXT_FILE).read_text())["files"]
    metrics = read_metrics(Path(run_dir))
    valid = [r for r in metrics if r.get("split") == "valid"]
    return {"run": str(run_dir), "files": files, "chars": sum(c["chars"] for c in counts.values()),
            "train_time_s": max((r.get("time_s", 0.0) for r in metrics), default=0.0),
            "steps": max((r.get("step", 0) for r in metrics), default=0),
            "bits_per_char_forward": round(valid[-1]["bits_per_char_forward"], 4) if valid else None,
            "bits_per_char_backward": round(valid[-1]["bits_per_char_backward"], 4) if valid else None,
            "model": cfg["model"]}


def evaluation(task, run, cfg, test: str) -> dict:
    """The task's own evaluation of the validation file (and of ``test``, when given)."""
    out = {"valid": plain(task.evaluate(run, task.evaluate_options(data=cfg.data.valid)))}
    if test:
        fields = {f.name for f in dataclasses.fields(task.evaluate_options)}
        extra = {"plot": str(run.run_dir / "confusion_test.png")} if "plot" in fields else {}  # beside the valid one's
        out["test"] = plain(task.evaluate(run, task.evaluate_options(data=test, **extra)))
    return out


def preset_benchmark(name: str, task_name: str, presets: list[str], description: str, goal: str,
                     files: dict[str, str], argv=None, extra=None, score: Callable | None = None) -> list[dict]:
    """Train presets of a task on real data and score them: the whole of lm_ptb.py, sst2.py, conll_ner.py ...

    ``files`` maps config keys to default paths (e.g. ``{"data.path": TRAIN, "data.valid": DEV}``); each is a
    command-line option (``--data.path``, ...).  ``--test FILE`` scores a withheld test file with the same code;
    ``--presets``, ``--minutes``, ``--runs`` and any ``--section.key=value`` override.  Runs already in ``--runs``
    are resumed (or, when finished, only re-scored); the results file keeps the rows of presets not run this time,
    so presets can be run one invocation at a time.  ``extra(args)``, when given, is called once with the parsed
    arguments before the presets train and returns figures (e.g. baselines measured on the same files) written
    beside the rows; ``score`` replaces the task's own evaluation (see :func:`run_preset`).
    """
    from seqlab.errors import UserError

    ap = parser(description, f"runs/bench-{name}", test="a withheld test file, scored with the same code")
    for key, default in files.items():
        ap.add_argument(f"--{key}", dest=key.replace(".", "_"), default=str(default))
    ap.add_argument("--presets", default=",".join(presets), help="comma-separated presets to train and compare")
    ap.add_argument("--results", default=name, help=f"results/NAME.json (default {name}; another name for a variant "
                                                     "measured with --key=value overrides)")
    args, rest = ap.parse_known_args(argv)
    name = args.results
    settings = {key: getattr(args, key.replace(".", "_")) for key in files}
    for key, path in settings.items():
        if not Path(path).exists():
            raise UserError(f"--{key} {path} does not exist (the shared datasets live in ../shared/data)")
    start = time.perf_counter()
    figures = extra(args) if extra else {}
    names = [n for n in args.presets.split(",") if n]
    kept = [r for r in previous_rows(name) if r["preset"] not in [n + row_label(rest) for n in names]]  # not run now
    rows = []
    path = write_results(name, {"goal": goal, **figures, "runs": kept}, time.perf_counter() - start)
    for preset_name in names:
        rows.append(run_preset(task_name, preset_name, settings, args.runs, args.minutes, rest, args.test, score))
        path = write_results(name, {"goal": goal, **figures, "runs": kept + rows}, time.perf_counter() - start)
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("config", "valid_curve", "valid", "test")}),
              flush=True)
    print(f"wrote {path}")
    return rows


def lm_scores(task, run, cfg, test: str) -> dict:
    """A language model's row: its size, the final and best validation loss, and the test file's loss."""
    import math

    from seqlab.plots import read_metrics

    losses = [r["loss"] for r in read_metrics(run.run_dir) if r.get("split") == "valid"]
    best = round(min(losses), 4)
    out = {"model": f"{cfg.model.cell} {cfg.model.num_layers}x{cfg.model.hidden_size}",
           "final_valid_loss": round(losses[-1], 4), "best_valid_loss": best, "best_valid_ppl": round(math.exp(best), 2)}
    if test:
        m = task.evaluate(run, task.evaluate_options(data=test, batch_size=cfg.train.eval_batch_size))
        out["test_loss"], out["test_ppl"] = round(m["loss"], 4), round(m["ppl"], 2)
    return out
