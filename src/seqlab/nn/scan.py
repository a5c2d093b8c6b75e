"""The generic driver: runs any :class:`~seqlab.nn.cell.Cell` over time with hand-written BPTT.

One ``torch.autograd.Function`` does the whole sequence:

forward
    ``xp = W_ih x + b_ih`` for all T steps in one matmul, then the loop of ``cell.step``.
backward
    the loop of ``cell.step_backward`` in reverse time, carrying dL/d(state), then
    the parameter gradients of the notes in one matmul each over all steps:
    dL/dW_ih = sum_t d_xp_t x_t^T, dL/dx = d_xp W_ih, and ``cell.param_grads`` for W_hh.

Variable lengths come in as a boolean ``mask`` (T, B, 1), True where step t is
inside sequence b.  Past its end a sequence's state is carried unchanged and its
output is zero, as torch does for packed sequences:

    s_t = m_t ? s'_t : s_{t-1},     out_t = m_t ? h'_t : 0

Variational dropout comes in as ``u_mask`` (B, H): the recurrent input is
u_t = h_{t-1} * u_mask with one mask for all time steps of the sequence.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from seqlab.nn import fused
from seqlab.nn.cell import Cell, State, input_grads, input_projection


def _mask_carry(mask_t: Tensor, new: State, old: State) -> State:
    return tuple(torch.where(mask_t, n, o) for n, o in zip(new, old))


def _run(cell: Cell, x: Tensor, state: State, w_ih: Tensor, b_ih: Tensor, w: State, mask, u_mask):
    """The forward loop: outputs (T, B, H), final state, and what backward needs (xp, caches, us)."""
    xp = input_projection(cell, x, w_ih, b_ih, w)  # (T, B, G*H)
    outs, caches, us = [], [], []
    for t in range(x.shape[0]):
        u = state[0] if u_mask is None else state[0] * u_mask
        new, cache = cell.step(xp[t], state, u, w)
        if mask is None:
            state, out = new, new[0]
        else:
            state, out = _mask_carry(mask[t], new, state), torch.where(mask[t], new[0], 0)
        outs.append(out)
        caches.append(cache)
        us.append(u)
    return torch.stack(outs), state, xp, caches, us


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, n_states, x, mask, u_mask, w_ih, b_ih, *tensors):
        state, w = tuple(tensors[:n_states]), tuple(tensors[n_states:])
        out, state, xp, caches, us = _run(cell, x, state, w_ih, b_ih, w, mask, u_mask)
        # xp is dead after the loop; its buffer will hold dL/dxp, so backward needs no
        # fresh (T, B, G*H) allocation (on CPU the page faults of one cost more than the copy).
        ctx.cell, ctx.caches, ctx.us, ctx.xp = cell, caches, us, xp
        ctx.save_for_backward(x, mask, u_mask, w_ih, *w)
        return (out,) + state  # (T, B, H), then the final state

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, *d_state):
        x, mask, u_mask, w_ih, *w = ctx.saved_tensors
        cell, caches, us = ctx.cell, ctx.caches, ctx.us
        w = tuple(w)
        d_xp_all, d_hps = ctx.xp, [None] * len(caches)
        for t in reversed(range(len(caches))):
            d_new = (d_state[0] + d_out[t],) + d_state[1:]
            if mask is not None:
                carry = tuple(torch.where(mask[t], 0, d) for d in d_state)
                d_new = tuple(torch.where(mask[t], d, 0) for d in d_new)
            d_xp, d_hp, d_u, d_prev = cell.step_backward(d_new, caches[t], us[t], w)
            if u_mask is not None:
                d_u = d_u * u_mask
            d_state = (d_u if d_prev[0] is None else d_u + d_prev[0],) + d_prev[1:]
            if mask is not None:
                d_state = tuple(d + c for d, c in zip(d_state, carry))
            d_xp_all[t].copy_(d_xp)
            d_hps[t] = None if d_hp is d_xp else d_hp
        d_hp_all = d_xp_all if d_hps[0] is None else torch.stack(d_hps)  # (T, B, G*H)
        d_w = cell.param_grads(d_hp_all, torch.stack(us), caches, w)
        d_x, d_w_ih, d_b_ih = input_grads(x, w_ih, d_xp_all, ctx.needs_input_grad[2])
        return (None, None, d_x, None, None, d_w_ih, d_b_ih) + d_state + tuple(d_w)


def scan(
    cell: Cell,
    x: Tensor,
    state: State,
    w_ih: Tensor,
    b_ih: Tensor,
    w: State,
    mask: Tensor | None = None,
    u_mask: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I) from ``state``; returns outputs (T, B, H) and the final state.

    ``w`` is ``(w_hh, b_hh, *extra)``; ``mask`` (T, B, 1) bool marks valid steps;
    ``u_mask`` (B, H) is the variational-dropout mask on the recurrent input.
    No argument is checked here: the layers in :mod:`seqlab.nn.recurrent` validate.
    The loop runs in C++ (:mod:`seqlab.nn.fused`) where that applies, else in Python below.
    """
    tensors = (x, w_ih, b_ih, *state, *w)
    training = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    if fused.applies(cell, x, (*tensors, u_mask), mask):
        return fused.scan(cell, x, state, w_ih, b_ih, w, mask, u_mask, training)
    if not training:
        with torch.no_grad():  # inference: the same loop, nothing kept for backward
            return _run(cell, x, state, w_ih, b_ih, w, mask, u_mask)[:2]
    out, *final = _Recurrence.apply(cell, len(state), x, mask, u_mask, w_ih, b_ih, *state, *w)
    return out, tuple(final)


def autograd_scan(cell: Cell, x: Tensor, state: State, w_ih: Tensor, b_ih: Tensor, w: State) -> list[State]:
    """The same recurrence as :func:`scan` left to plain autograd: the state after every step.

    The reference the hand-written backward is measured against, and what the
    gradient-flow probe differentiates (it needs every h_t as a graph node).
    """
    xp = input_projection(cell, x, w_ih, b_ih, w)  # (T, B, G*H)
    states = []
    for xp_t in xp:
        state, _ = cell.step(xp_t, state, state[0], w)
        states.append(state)
    return states
