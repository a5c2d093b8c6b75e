"""What several tasks do alike, written once; a task calls these and supplies only what is its own.

* :class:`BucketedTask` -- a trainer's view whose training examples are a list, cut into batches of
  similar length (:func:`seqlab.data.batching.epoch_batches`), reproducible per (seed, epoch);
* :func:`chunks` and :func:`by_length` -- no-grad evaluation in batches of one size, :data:`EVAL_BATCH`;
* :func:`train_and_valid` -- the validation file, or the last part of the training file held out;
* :func:`write_vocab` and :func:`read_vocab` -- a run's ``vocab.json``, one schema: a JSON object of named
  parts, each a vocabulary's ``to_json()`` (or plain JSON);
* :func:`recurrent_export` -- the scaffold of ``seqlab export`` for the recurrent models.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from seqlab.data.batching import epoch_batches, num_batches
from seqlab.data.files import read_json
from seqlab.data.split import hold_out
from seqlab.errors import UserError
from seqlab.export import Exportable
from seqlab.train.trainer import TrainingTask

EVAL_BATCH = 64  # examples per batch of every no-grad evaluation and prediction (memory, not results, depends on it)
VOCAB_FILE = "vocab.json"


class BucketedTask(TrainingTask):
    """A trainer's view trained on a list of encoded examples in batches of similar length: the task calls
    :meth:`examples` with them and their lengths; ``cfg.train.batch_size`` and ``cfg.train.seed`` cut them."""

    cfg: Any

    def examples(self, train: list, lengths: list[int]) -> None:
        self.train, self.lengths = train, lengths
        self.steps_per_epoch = num_batches(len(train), self.cfg.train.batch_size)

    def batches(self, position):
        return epoch_batches(self.train, self.lengths, self.cfg.train.batch_size, self.cfg.train.seed, position)


def chunks(items: Sequence, size: int = EVAL_BATCH) -> Iterator[Sequence]:
    """``items`` in consecutive batches of ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def by_length(lengths: Sequence[int], size: int = EVAL_BATCH) -> Iterator[list[int]]:
    """Indices into ``lengths`` in batches of ``size``, shortest first (similar lengths together: little padding)."""
    return chunks(sorted(range(len(lengths)), key=lambda i: lengths[i]), size)


def train_and_valid(d, read: Callable[[str], Any], task: str, needs: str = "training data",
                    what: str = "examples", hold: Callable[[Any], tuple] | None = None) -> tuple[Any, Any]:
    """(training, validation) data: ``read(d.path)`` and ``read(d.valid)``, or without ``d.valid`` the last
    ``d.valid_fraction`` of the training data held out (``hold(train)`` where a task holds out otherwise)."""
    if not d.path:
        raise UserError(f"{task} needs {needs}: --data FILE")
    train = read(d.path)
    if d.valid:
        return train, read(d.valid)
    return hold(train) if hold is not None else hold_out(train, d.valid_fraction, d.path, what)


def write_vocab(run_dir: Path, **parts) -> None:
    """``run_dir/vocab.json``: each part by name, as its ``to_json()`` (or as it is, when plain JSON)."""
    tree = {name: part.to_json() if hasattr(part, "to_json") else part for name, part in parts.items()}
    (Path(run_dir) / VOCAB_FILE).write_text(json.dumps(tree, ensure_ascii=False))


def read_vocab(run_dir: Path) -> dict:
    """The parts of ``run_dir/vocab.json`` (a missing part is a KeyError, which the recipe reports as an
    incomplete run directory)."""
    return read_json(Path(run_dir) / VOCAB_FILE)


def recurrent_export(run, what: str, module: torch.nn.Module, batch: Callable[[torch.Generator, Any], dict],
                     shapes: tuple, outputs: list[str], dynamic: dict, notes: dict, files: list[Path]) -> Exportable:
    """seqlab export of a recurrent model (a Transformer is refused): ``batch(generator, shape)`` makes example
    inputs from one seeded generator, the first of ``shapes`` the example traced and the second the check."""
    if run.cfg.model.cell == "transformer":
        raise UserError(f"seqlab export covers the recurrent {what}; this run has model.cell=transformer")
    generator = torch.Generator().manual_seed(0)
    example = batch(generator, shapes[0])
    return Exportable(module, example, outputs, dynamic, batch(generator, shapes[1]), notes, files)
