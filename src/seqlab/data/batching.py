"""Mini-batches of whole sequences (sentences), grouped by length, reproducible per (seed, epoch).

The examples are shuffled, cut into pools of ``pool`` batches, sorted by length inside
each pool (so that a batch holds sentences of similar length and little padding), cut
into batches of ``batch_size``, and the batches shuffled again.  The same (seed, epoch)
gives the same batches in the same order, so a checkpoint can resume mid-epoch.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch's shuffles: a different stream per (seed, epoch), the same on every run."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def epochs(order: Callable[[int], Sequence], position, examples: Sequence | None = None):
    """The trainer's endless ``(next_position, batch)`` iterator, from ``position``.

    ``order(epoch)`` gives that epoch's batches, each a list (or tensor) of example indices; a batch
    is the examples at those indices, or the indices themselves when ``examples`` is None.  A
    position is (epoch, index of the next batch in that epoch's order); None is the start.
    """
    epoch, index = position or (0, 0)
    while True:
        batches = order(epoch)
        for i in range(index, len(batches)):
            batch = batches[i] if examples is None else [examples[j] for j in batches[i]]
            yield ((epoch, i + 1) if i + 1 < len(batches) else (epoch + 1, 0)), batch
        epoch, index = epoch + 1, 0


def sentence_batches(lengths: list[int], batch_size: int, seed: int, epoch: int, pool: int = 50) -> list[list[int]]:
    g = epoch_generator(seed, epoch)
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
    """:func:`epochs` over whole examples grouped by length (:func:`sentence_batches`)."""
    return epochs(lambda epoch: sentence_batches(lengths, batch_size, seed, epoch), position, examples)


def bucket_batches(lengths: list[int], max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices grouped by similar length, each batch at most ``max_tokens`` (padded) tokens, shuffled.

    The same (seed, epoch) gives the same batches in the same order.
    """
    g = epoch_generator(seed, epoch)
    noise = torch.rand(len(lengths), generator=g)  # break ties differently each epoch
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], noise[i].item()))
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if current and longest_if_added * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


def pad_batch(seqs: list[list[int]], pad: int) -> tuple[Tensor, Tensor]:
    """Right-padded (B, T) int64 tensor and the (B,) lengths."""
    lengths = torch.tensor([len(s) for s in seqs])
    out = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths
