"""Truncated BPTT and gradient clipping, as the notes describe them.

Truncated BPTT: run a long stream window by window, carry the final state of one
window into the next, but cut the graph there with :func:`detach_state`, so the
error flows back at most one window ("误差仅在有限时间内反传").

Gradient clipping by global norm (the notes' g <- min(1, theta / ||g||) g) is
``torch.nn.utils.clip_grad_norm_(parameters, theta)``, re-exported here as
:func:`clip_grad_norm_`; it returns ||g|| before clipping.
"""
from __future__ import annotations

from torch import Tensor
from torch.nn.utils import clip_grad_norm_

__all__ = ["clip_grad_norm_", "detach_state"]


def detach_state(state):
    """Cut the graph behind a recurrent state: a Tensor, or a (nested) tuple/list of them, or None."""
    if state is None or isinstance(state, Tensor):
        return None if state is None else state.detach()
    return type(state)(detach_state(s) for s in state)
