"""Checkpoints written atomically, so that an interrupted run never loses its last good one.

A checkpoint is a directory:

    model.safetensors   the weights (safetensors; tied weights stored once)
    trainer.pt          optimizer, scheduler, RNG states, data position, task state, step

It is written as ``<name>.tmp`` and then swapped in by renames; if the process dies
between the renames the previous checkpoint survives as ``<name>.old``, which
:func:`find` falls back to.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from seqlab.errors import UserError


def save(directory: Path, model: torch.nn.Module, trainer_state: dict) -> Path:
    directory = Path(directory)
    tmp, old = directory.with_name(directory.name + ".tmp"), directory.with_name(directory.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    torch.save(trainer_state, tmp / "trainer.pt")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def find(directory: Path) -> Path | None:
    """The checkpoint at ``directory``, or the one a crash mid-swap left at ``<name>.old``."""
    directory = Path(directory)
    for candidate in (directory, directory.with_name(directory.name + ".old")):
        if (candidate / "model.safetensors").is_file() and (candidate / "trainer.pt").is_file():
            return candidate
    return None


def load_weights(directory: Path, model: torch.nn.Module) -> None:
    try:
        load_model(model, str(Path(directory) / "model.safetensors"), device=str(next(model.parameters()).device))
    except (RuntimeError, OSError) as e:
        raise UserError(f"checkpoint {directory} does not fit this model: {str(e).splitlines()[0]}") from None


def load_trainer_state(directory: Path) -> dict:
    return torch.load(Path(directory) / "trainer.pt", weights_only=False)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
