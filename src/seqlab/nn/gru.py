"""GRU cells: reset gate applied after the recurrent matmul (torch/cuDNN) or before it (the notes).

Update convention.  The notes write the GRU update both as

    h_t = z * h_{t-1} + (1 - z) * h~_t        (Dive into Deep Learning, torch.nn.GRU)
    h_t = (1 - z) * h_{t-1} + z * h~_t        (Cho et al. 2014 as the first seed writes it)

These are one model: swap z <-> 1 - z, i.e. negate the update gate's weights and
bias.  seqlab uses the first form, z = "keep the old state", as torch.nn.GRU does,
so its weights load unchanged.  Gate order in the stacked weights: (r, z, n).

``GRUCell`` (reset="after", torch.nn.GRU):

    r = sigma(x_r + h_r)   z = sigma(x_z + h_z)      with [x_r,x_z,x_n] = W_ih x + b_ih,
    n = tanh(x_n + r * h_n)                          [h_r,h_z,h_n] = W_hh h_{t-1} + b_hh
    h_t = z * h_{t-1} + (1 - z) * n

``GRUResetBeforeCell`` (reset="before", the notes' h~ = tanh(W x + U (r * h) + b)):

    n = tanh(x_n + W_hn (r * h_{t-1}) + b_hn)

Both have the same parameter shapes as torch.nn.GRU, (3H, I) and (3H, H).
"""
from __future__ import annotations

import torch
from torch import Tensor

from seqlab.nn.cell import Cell, State, flat, sigmoid_backward, stack_field, tanh_backward


def _update_backward(d_h: Tensor, z: Tensor, n: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Back through h = z * h_prev + (1 - z) * n: returns dL/da_z, dL/da_n, dL/dh_prev (direct)."""
    d_h_prev = d_h * z
    d_a_z = sigmoid_backward(d_h * (h_prev - n), z)
    d_a_n = tanh_backward(d_h - d_h_prev, n)
    return d_a_z, d_a_n, d_h_prev


class _GRUBase(Cell):
    gate_names = ("r", "z", "n")
    num_states = 1

    def input_bias(self, b_ih: Tensor, w: State) -> Tensor:
        return b_ih  # b_hh is added in the step: its n part sits inside r * (...) or W_hn (r * h)


class GRUCell(_GRUBase):
    """GRU with the reset gate after the recurrent matmul: n = tanh(x_n + r * (W_hn h + b_hn))."""

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        w_hh, b_hh = w
        h_prev = state[0]
        x_r, x_z, x_n = xp.chunk(3, 1)
        h_r, h_z, h_n = torch.addmm(b_hh, u, w_hh.t()).chunk(3, 1)  # 3 x (B, H)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = torch.addcmul(n, z, h_prev - n)
        return (h,), (r, z, n, h_n, h_prev)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h,), (r, z, n, h_n, h_prev) = d_state, cache
        d_a_z, d_a_n, d_h_prev = _update_backward(d_h, z, n, h_prev)
        d_a_r = sigmoid_backward(d_a_n * h_n, r)
        d_xp = torch.cat([d_a_r, d_a_z, d_a_n], 1)  # (B, 3H)
        d_hp = torch.cat([d_a_r, d_a_z, d_a_n * r], 1)  # (B, 3H)
        return d_xp, d_hp, d_hp @ w[0], (d_h_prev,)


class GRUResetBeforeCell(_GRUBase):
    """GRU with the reset gate before the recurrent matmul, as the notes write it.

    Backward: with d(ru) = W_hn^T dL/da_n,  dL/da_r = d(ru) * h_{t-1} * r (1 - r) and
    dL/dh_{t-1} = z * dL/dh_t + W_hrz^T dL/da_{r,z} + d(ru) * r;  dL/dW_hn = sum_t dL/da_n (r*h)^T.
    """

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        w_hh, b_hh = w
        h_prev, hidden = state[0], u.shape[1]
        w_rz, w_n = w_hh[: 2 * hidden], w_hh[2 * hidden :]
        a_rz = torch.addmm(xp[:, : 2 * hidden] + b_hh[: 2 * hidden], u, w_rz.t())  # (B, 2H)
        r, z = torch.sigmoid(a_rz).chunk(2, 1)
        ru = r * u
        n = torch.tanh(torch.addmm(xp[:, 2 * hidden :] + b_hh[2 * hidden :], ru, w_n.t()))
        h = torch.addcmul(n, z, h_prev - n)
        return (h,), (r, z, n, ru, h_prev)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h,), (r, z, n, _, h_prev) = d_state, cache
        hidden = u.shape[1]
        w_rz, w_n = w[0][: 2 * hidden], w[0][2 * hidden :]
        d_a_z, d_a_n, d_h_prev = _update_backward(d_h, z, n, h_prev)
        d_ru = d_a_n @ w_n  # (B, H)
        d_a_r = sigmoid_backward(d_ru * u, r)
        d_a = torch.cat([d_a_r, d_a_z, d_a_n], 1)  # (B, 3H)
        d_u = d_a[:, : 2 * hidden] @ w_rz + d_ru * r
        return d_a, d_a, d_u, (d_h_prev,)

    def param_grads(self, d_hp: Tensor, u: Tensor, caches: list[State], w: State) -> State:
        hidden = u.shape[-1]
        d_rz, d_n = flat(d_hp)[:, : 2 * hidden], flat(d_hp)[:, 2 * hidden :]
        ru = flat(stack_field(caches, 3))
        d_w_hh = torch.cat([d_rz.t() @ flat(u), d_n.t() @ ru], 0)  # (3H, H)
        return (d_w_hh, flat(d_hp).sum(0))
