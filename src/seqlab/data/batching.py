"""Mini-batches of whole sequences (sentences), grouped by length, reproducible per (seed, epoch).

The examples are shuffled, cut into pools of ``pool`` batches, sorted by length inside
each pool (so that a batch holds sentences of similar length and little padding), cut
into batches of ``batch_size``, and the batches shuffled again.  The same (seed, epoch)
gives the same batches in the same order, so a checkpoint can resume mid-epoch.
"""
from __future__ import annotations

import torch


def sentence_batches(lengths: list[int], batch_size: int, seed: int, epoch: int, pool: int = 50) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(lengths), generator=g).tolist()
    batches = []
    for start in range(0, len(order), batch_size * pool):
        chunk = sorted(order[start : start + batch_size * pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


def num_batches(n: int, batch_size: int, pool: int = 50) -> int:
    full, rest = divmod(n, batch_size * pool)
    return full * pool + -(-rest // batch_size)


def epoch_batches(examples: list, lengths: list[int], batch_size: int, seed: int, position):
    """The trainer's endless ``(next_position, batch)`` iterator over whole examples, from ``position``.

    A position is (epoch, index of the next batch in that epoch's order); None is the start.
    """
    epoch, index = position or (0, 0)
    while True:
        order = sentence_batches(lengths, batch_size, seed, epoch)
        for i in range(index, len(order)):
            yield ((epoch, i + 1) if i + 1 < len(order) else (epoch + 1, 0)), [examples[j] for j in order[i]]
        epoch, index = epoch + 1, 0
