"""The run directory: what a training run leaves behind, and reading it back.

    runs/NAME/config.json     {"task": "lm" | "translate", ...the config tree...}
    runs/NAME/vocab.json      the task's vocabulary / tokenizer
    runs/NAME/metrics.jsonl   one JSON record per log line and evaluation
    runs/NAME/last/, best/    checkpoints (seqlab.train.checkpoint)
"""
from __future__ import annotations

import json
from pathlib import Path

from seqlab.data.files import read_json
from seqlab.errors import UserError
from seqlab.train import checkpoint, distributed
from seqlab.train.config import apply_dict, to_dict


def task_of(run_dir: str | Path) -> str:
    path = Path(run_dir) / "config.json"
    try:
        found = path.is_file()
    except OSError as err:  # a name too long, a path through a file, ...: is_file() raises some of these
        raise UserError(f"{str(run_dir)[:200]} is not a seqlab run directory ({err.strerror})") from None
    if not found:
        raise UserError(f"{run_dir} is not a seqlab run directory (no config.json)")
    return read_json(path).get("task", "lm")


def read_config(run_dir: str | Path, task: str, cfg):
    """Fill ``cfg`` (an empty config of ``task``) from the run's config.json."""
    if task_of(run_dir) != task:
        raise UserError(f"{run_dir} is not a {task} run (it is a {task_of(run_dir)} run)")
    tree = read_json(Path(run_dir) / "config.json")
    tree.pop("task", None)
    apply_dict(cfg, tree)
    return cfg


def start(run_dir: Path, task: str, cfg) -> bool:
    """A new run: refuse to overwrite a trained one, then write config.json and clear old metrics.
    Returns whether this process writes the run directory (under torchrun only rank 0 does)."""
    if checkpoint.find(run_dir / "last"):
        raise UserError(f"{run_dir} already holds a trained run: continue it with --resume {run_dir}, "
                        "or choose another --name")
    if not distributed.is_main():
        return False
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"task": task, **to_dict(cfg)}, indent=2) + "\n")
    return True


def trained_checkpoint(run_dir: str | Path, which: str = "best") -> Path:
    found = checkpoint.find(Path(run_dir) / which) or checkpoint.find(Path(run_dir) / "last")
    if found is None:
        raise UserError(f"{run_dir} has no checkpoint yet (no {which}/ or last/)")
    return found
