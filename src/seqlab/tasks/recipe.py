"""The recipe every task shares, written once: train (or resume) a run, load a trained run.

    train:  every field in range -> device -> seed -> task.setup (data, model, the trainer's view) -> Trainer
            -> resume, or start the run directory (config.json and the task's own files)
            -> fit -> {last validation metrics, "best": {metric, value, step}, "steps"} (+ "test")
    load:   config.json -> task.build (model and files) -> the trained weights -> eval mode

A task supplies only what is its own (see :class:`seqlab.tasks.registry.Task`).
"""
from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlab.errors import TrainingDiverged, UserError
from seqlab.fields import check
from seqlab.train import checkpoint, distributed, rundir
from seqlab.train.trainer import Interrupted, Trainer, resolve_device, training_device


@dataclass
class Run:
    """A trained run as predict / evaluate / export use it; a task adds its own files (vocabularies, ...)."""

    cfg: Any
    model: nn.Module
    run_dir: Path
    device: torch.device


def train(task, cfg, run_dir: Path, resume: bool = False, callbacks=None) -> dict:
    check(cfg)  # every field within its declared range (seqlab.fields), before anything is read or written
    device = training_device(cfg.train)
    checkpoint.seed_everything(cfg.train.seed)
    with _run_files(run_dir if resume else None):
        objective = task.setup(cfg, run_dir if resume else None, device)
    with _no_half_written_run(run_dir, fresh=not resume and not run_dir.exists()):
        if not objective.gradient_steps:
            result = _fit_without_steps(task, objective, cfg, run_dir, resume)
        else:
            trainer = Trainer(objective, cfg.train, cfg.optim, run_dir, callbacks)
            if resume:
                trainer.resume()
            elif rundir.start(run_dir, task.name, cfg):
                objective.save(run_dir)
            metrics = trainer.fit()
            result = {**metrics, "best": trainer.best(objective.metric), "steps": trainer.progress.step}
    if task.test is not None:
        scores = task.test(load(task, run_dir, cfg.train.device))
        if scores is not None:
            result["test"] = scores
    return result


def _fit_without_steps(task, objective, cfg, run_dir: Path, resume: bool) -> dict:
    """A model fitted in one go (least squares) or with nothing to fit: fit, score, save -- no steps."""
    if resume:
        _load_weights(run_dir, objective.model, "best")
    else:
        main = rundir.start(run_dir, task.name, cfg)
        if main:
            objective.save(run_dir)
        objective.fit()
    metrics = objective.evaluate()
    if not resume and distributed.is_main():
        for name in ("last", "best"):
            checkpoint.save(run_dir / name, objective.model, {"step": 0})
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": 0, "time_s": 0.0, "split": "valid", **metrics}) + "\n")
    return {**metrics, "best": {"metric": objective.metric, "value": metrics[objective.metric], "step": 0},
            "steps": 0}


def load(task, run_dir: Path, device: str = "auto", which: str = "best") -> Run:
    cfg = rundir.read_config(run_dir, task.name, task.config())
    with _run_files(run_dir):
        run = task.build(cfg, run_dir, resolve_device(device))
    _load_weights(run_dir, run.model, which)
    run.model.eval()
    return run


@contextmanager
def _no_half_written_run(run_dir: Path, fresh: bool):
    """A new run that fails with a user error before its first checkpoint leaves no directory behind (one that
    diverged, was interrupted or holds a checkpoint is kept: it can be resumed or read)."""
    try:
        yield
    except UserError as e:
        if fresh and not isinstance(e, (TrainingDiverged, Interrupted)) and distributed.is_main() \
                and run_dir.is_dir() and checkpoint.find(run_dir / "last") is None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


@contextmanager
def _run_files(run_dir: Path | None):
    """Reading a run directory's own files: an entry missing from an edited or incomplete one is a UserError."""
    try:
        yield
    except KeyError as e:
        if run_dir is None:
            raise
        raise UserError(f"{run_dir}: a file of the run lacks the entry {e} (an incomplete or edited run directory)") \
            from None


def _load_weights(run_dir: Path, model: nn.Module, which: str) -> None:
    found = rundir.trained_checkpoint(run_dir, which)
    if any(True for _ in model.parameters()):  # a parameter-free baseline has nothing to load
        checkpoint.load_weights(found, model)


def train_report(result: dict) -> str:
    """One line after training: the last validation figures and the best checkpoint's."""
    figures = "  ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float))
    best = result["best"]
    return (f"valid {figures} after {result['steps']} steps; best {best['metric']} {best['value']:.4f} "
            f"(step {best['step']})")
