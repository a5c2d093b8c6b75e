"""The Elman (simple) recurrent cell of the notes.

    z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        (the notes' z_t = U h_{t-1} + W x_t + b)
    h_t = f(z_t),   f in {tanh, relu}

BPTT (notes, "随时间反向传播算法"): with delta_t = dL/dz_t,

    delta_t     = dL/dh_t * f'(z_t)
    dL/dh_{t-1} = W_hh^T delta_t                          (diag(f'(z)) U^T, one step of the product)
    dL/dW_hh    = sum_t delta_t h_{t-1}^T,   dL/dW_ih = sum_t delta_t x_t^T,   dL/db = sum_t delta_t

f' is computed from h itself: tanh' = 1 - h^2, relu' = [h > 0].
"""
from __future__ import annotations

import torch
from torch import Tensor

from seqlab.nn.cell import Cell, State


def _tanh_grad(h: Tensor) -> Tensor:
    return 1 - h * h


def _relu_grad(h: Tensor) -> Tensor:
    return (h > 0).to(h.dtype)


_ACTIVATIONS = {"tanh": (torch.tanh, _tanh_grad), "relu": (torch.relu, _relu_grad)}


class ElmanCell(Cell):
    """h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); torch.nn.RNN's cell."""

    gate_names = ("h",)  # one block: the pre-activation itself
    num_states = 1

    def __init__(self, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(
                f"nonlinearity must be one of {sorted(_ACTIVATIONS)}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self.f, self.f_grad = _ACTIVATIONS[nonlinearity]

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        h = self.f(torch.addmm(xp, u, w[0].t()))  # (B, H); xp holds b_ih + b_hh
        return (h,), (h,)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h,), (h,) = d_state, cache
        delta = d_h * self.f_grad(h)  # dL/dz_t
        d_u = delta @ w[0]  # W_hh^T delta, as a row batch: (B, H) @ (H, H)
        return delta, delta, d_u, (None,)

    def __repr__(self) -> str:
        return f"ElmanCell(nonlinearity={self.nonlinearity!r})"
