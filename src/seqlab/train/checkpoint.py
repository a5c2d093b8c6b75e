"""Checkpoints written atomically, so that an interrupted run never loses its last good one.

A checkpoint is a directory:

    model.safetensors   the weights (safetensors; tied weights stored once)
    trainer.pt          optimizer, scheduler, RNG states, data position, task state, step

It is written as ``<name>.tmp``, flushed to disk (fsync of the files and the directory),
and then swapped in by renames, themselves flushed; if the process dies
between the renames the previous checkpoint survives as ``<name>.old``, which
:func:`find` falls back to.
"""
from __future__ import annotations

import os
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from seqlab.errors import UserError


class CheckpointWriteError(UserError):
    """The disk refused a checkpoint (full, read-only, gone); the previous checkpoint is still in place."""


def save(directory: Path, model: torch.nn.Module, trainer_state: dict) -> Path:
    """Write a checkpoint atomically.  An OSError on the way (ENOSPC and the like) leaves the previous
    checkpoint where :func:`find` reads it and ends in a :class:`CheckpointWriteError` naming what failed."""
    directory = Path(directory)
    tmp, old = directory.with_name(directory.name + ".tmp"), directory.with_name(directory.name + ".old")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_model(model, str(tmp / "model.safetensors"))
        torch.save(trainer_state, tmp / "trainer.pt")
        for path in (tmp / "model.safetensors", tmp / "trainer.pt", tmp):  # on disk before any rename
            _fsync(path)
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)  # if this fails, find() reads <name>.old
    except (OSError, RuntimeError) as e:  # torch.save reports a full disk as a RuntimeError from its writer
        shutil.rmtree(tmp, ignore_errors=True)
        kept = find(directory)
        raise CheckpointWriteError(f"could not write the checkpoint {directory}: {_reason(e)}; "
                                   + (f"the previous one is kept in {kept}" if kept else "no earlier checkpoint"))
    _fsync(directory.parent)  # the renames themselves survive a power loss
    shutil.rmtree(old, ignore_errors=True)
    return directory


def _reason(e: Exception) -> str:
    text = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    return (text.strip().splitlines() or [type(e).__name__])[0]


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's entries to disk (directories: where the OS allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def find(directory: Path) -> Path | None:
    """The checkpoint at ``directory``, or the one a crash mid-swap left at ``<name>.old``."""
    directory = Path(directory)
    for candidate in (directory, directory.with_name(directory.name + ".old")):
        if (candidate / "model.safetensors").is_file() and (candidate / "trainer.pt").is_file():
            return candidate
    return None


def load_weights(directory: Path, model: torch.nn.Module) -> None:
    path = Path(directory) / "model.safetensors"
    try:
        load_model(model, str(path), device=str(next(model.parameters()).device))
    except SafetensorError as e:  # truncated or not a safetensors file
        raise UserError(f"{path} is damaged (not a whole safetensors file: {_reason(e)})") from None
    except (RuntimeError, OSError) as e:
        raise UserError(f"{path} does not fit the model that config.json describes: {_reason(e)}") from None


def load_trainer_state(directory: Path) -> dict:
    """The trainer state, read with ``weights_only=True``: tensors and plain types only, so a run directory
    from someone else cannot run code on this machine when resumed."""
    path = Path(directory) / "trainer.pt"
    try:
        state = torch.load(path, weights_only=True)
    except pickle.UnpicklingError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else "unsafe content"
        raise UserError(f"{path} holds more than tensors and plain values, so it is not loaded "
                        f"(a checkpoint from an older seqlab, or not a seqlab checkpoint): {reason}") from None
    except (RuntimeError, EOFError, OSError) as e:  # truncated or not a torch file
        raise UserError(f"{path} is damaged (not a whole checkpoint: {_reason(e)})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path} is not a seqlab trainer state")
    return state


def rng_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
