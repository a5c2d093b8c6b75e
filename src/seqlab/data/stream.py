"""Contiguous-stream batching for truncated BPTT (Zaremba et al. 2014; char-rnn).

The token sequence is cut into B parallel streams, one per batch row; training walks
them in windows of T steps.  Window k of row b continues exactly where window k-1 of
row b stopped, so the hidden state at the end of one window is the right initial state
for the next (carried, and detached: the gradient flows back at most T steps).

    tokens  a b c d e f g h i j k l m n o p q r s t u v w x      (N = 24, B = 2)
    streams [a .. l]                                              (B, N // B)
            [m .. x]
    window  x = streams[:, i : i+T],  y = streams[:, i+1 : i+1+T]  (targets shifted by one)
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from seqlab.errors import UserError


def batchify(tokens: Tensor | np.ndarray, batch_size: int, bptt: int = 1, what: str = "train"):
    """(N,) -> (B, N // B): B contiguous streams; the tail that does not fill a row is dropped.  A memory-mapped
    array stays one (a view: nothing is read until a window is)."""
    length = len(tokens) // batch_size
    if length < bptt + 1 or length < 2:
        raise UserError(
            f"the {what} split has {len(tokens)} tokens: too short for batch_size={batch_size} x "
            f"window {bptt} (needs at least {batch_size * (max(bptt, 1) + 1)})"
        )
    return tokens[: length * batch_size].reshape(batch_size, length)


def as_ids(window, device) -> Tensor:
    """A window of streams as an int64 tensor on ``device`` (read from the memory map here, if it is one)."""
    if isinstance(window, Tensor):
        return window.to(device)
    return torch.from_numpy(np.asarray(window, dtype=np.int64)).to(device)


def windows(streams, bptt: int, start: int = 0, device=None) -> Iterator[tuple[int, Tensor, Tensor]]:
    """(position, x, y) for each window from ``start``; x, y are (B, <=T), y shifted by one (``device``: as int64
    tensors there, read from a memory map window by window)."""
    length = streams.shape[1]
    for i in range(start, length - 1, bptt):
        t = min(bptt, length - 1 - i)
        x, y = streams[:, i : i + t], streams[:, i + 1 : i + 1 + t]
        yield (i, x, y) if device is None else (i, as_ids(x, device), as_ids(y, device))


def num_windows(streams: Tensor, bptt: int) -> int:
    return -(-(streams.shape[1] - 1) // bptt)
