"""LSTM cells: the standard LSTM and the three variants of the notes ("LSTM的各种变体").

Standard (torch.nn.LSTM's gate order i, f, g, o; the notes write g_t as c~_t):

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Hand-derived backward step, given dL/dh_t and the dL/dc_t carried from t+1:

    dL/do   = dL/dh_t * tanh(c_t)
    dL/dc_t += dL/dh_t * o * (1 - tanh(c_t)^2)
    dL/di = dL/dc_t * g     dL/df = dL/dc_t * c_{t-1}     dL/dg = dL/dc_t * i
    dL/da_{i,f,o} = dL/d{i,f,o} * s * (1 - s)   (s the gate),   dL/da_g = dL/dg * (1 - g^2)
    dL/dc_{t-1} = dL/dc_t * f,    dL/dh_{t-1} = W_hh^T dL/da

Variants (one class each):

* ``PeepholeLSTMCell``: i, f see c_{t-1} and o sees c_t through diagonal weights
  V_i, V_f, V_o (parameters ``weight_ci``, ``weight_cf``, ``weight_co`` of shape (H,)).
* ``CoupledLSTMCell``: f_t = 1 - i_t, so c_t = (1 - i) * c_{t-1} + i * g; gates (i, g, o).
* ``NoForgetLSTMCell``: c_t = c_{t-1} + i * g (the original 1997 LSTM); gates (i, g, o).
"""
from __future__ import annotations

import torch
from torch import Tensor

from seqlab.nn.cell import Cell, State, flat, sigmoid_backward, stack_field, tanh_backward


def _emit(a_o: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """h_t = sigma(a_o) * tanh(c_t); returns h, o, tanh(c)."""
    o, tc = torch.sigmoid(a_o), torch.tanh(c)
    return o * tc, o, tc


def _emit_backward(d_h: Tensor, d_c: Tensor, o: Tensor, tc: Tensor) -> tuple[Tensor, Tensor]:
    """Back through h_t = o * tanh(c_t): returns dL/da_o and the total dL/dc_t."""
    return sigmoid_backward(d_h * tc, o), d_c + tanh_backward(d_h * o, tc)


class LSTMCell(Cell):
    """The standard LSTM step, gate order (i, f, g, o) as torch.nn.LSTM."""

    gate_names = ("i", "f", "g", "o")
    num_states = 2

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        c_prev = state[1]
        a = torch.addmm(xp, u, w[0].t())  # (B, 4H); xp holds b_ih + b_hh
        i, f, _, o = torch.sigmoid(a).chunk(4, 1)  # one kernel for the three sigmoid gates
        g = torch.tanh(a[:, 2 * c_prev.shape[1] : 3 * c_prev.shape[1]])
        c = torch.addcmul(f * c_prev, i, g)
        tc = torch.tanh(c)
        return (o * tc, c), (i, f, g, o, c_prev, tc)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h, d_c), (i, f, g, o, c_prev, tc) = d_state, cache
        d_a_o, d_c = _emit_backward(d_h, d_c, o, tc)
        d_a = torch.cat(
            [
                sigmoid_backward(d_c * g, i),
                sigmoid_backward(d_c * c_prev, f),
                tanh_backward(d_c * i, g),
                d_a_o,
            ],
            1,
        )  # (B, 4H)
        return d_a, d_a, d_a @ w[0], (None, d_c * f)


class PeepholeLSTMCell(Cell):
    """LSTM with diagonal peephole connections (Gers & Schmidhuber 2000; the notes' variant):

        i = sigma(a_i + V_i * c_{t-1})   f = sigma(a_f + V_f * c_{t-1})   o = sigma(a_o + V_o * c_t)

    Backward adds the peephole paths: dL/dc_t += dL/da_o * V_o and
    dL/dc_{t-1} = dL/dc_t * f + dL/da_i * V_i + dL/da_f * V_f.
    """

    gate_names = ("i", "f", "g", "o")
    num_states = 2

    def extra_params(self, hidden_size: int) -> dict[str, tuple[int, ...]]:
        return {"weight_ci": (hidden_size,), "weight_cf": (hidden_size,), "weight_co": (hidden_size,)}

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        v_i, v_f, v_o = w[2:]
        c_prev = state[1]
        a_i, a_f, a_g, a_o = torch.addmm(xp, u, w[0].t()).chunk(4, 1)  # 4 x (B, H)
        i = torch.sigmoid(torch.addcmul(a_i, v_i, c_prev))
        f = torch.sigmoid(torch.addcmul(a_f, v_f, c_prev))
        g = torch.tanh(a_g)
        c = torch.addcmul(f * c_prev, i, g)
        h, o, tc = _emit(torch.addcmul(a_o, v_o, c), c)
        return (h, c), (i, f, g, o, c_prev, tc, c)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h, d_c), (i, f, g, o, c_prev, tc, _) = d_state, cache
        v_i, v_f, v_o = w[2:]
        d_a_o, d_c = _emit_backward(d_h, d_c, o, tc)
        d_c = torch.addcmul(d_c, d_a_o, v_o)
        d_a_i, d_a_f = sigmoid_backward(d_c * g, i), sigmoid_backward(d_c * c_prev, f)
        d_a = torch.cat([d_a_i, d_a_f, tanh_backward(d_c * i, g), d_a_o], 1)  # (B, 4H)
        d_c_prev = torch.addcmul(torch.addcmul(d_c * f, d_a_i, v_i), d_a_f, v_f)
        return d_a, d_a, d_a @ w[0], (None, d_c_prev)

    def param_grads(self, d_hp: Tensor, u: Tensor, caches: list[State], w: State) -> State:
        d_a_i, d_a_f, _, d_a_o = flat(d_hp).chunk(4, 1)  # 4 x (T*B, H)
        c_prev, c = flat(stack_field(caches, 4)), flat(stack_field(caches, 6))
        peep = ((d_a_i * c_prev).sum(0), (d_a_f * c_prev).sum(0), (d_a_o * c).sum(0))
        return super().param_grads(d_hp, u, caches, w) + peep


class CoupledLSTMCell(Cell):
    """LSTM with coupled input and forget gates, f_t = 1 - i_t; gate order (i, g, o).

        c_t = (1 - i) * c_{t-1} + i * g = c_{t-1} + i * (g - c_{t-1})
        dL/di = dL/dc_t * (g - c_{t-1}),   dL/dc_{t-1} = dL/dc_t * (1 - i)
    """

    gate_names = ("i", "g", "o")
    num_states = 2

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        c_prev = state[1]
        a_i, a_g, a_o = torch.addmm(xp, u, w[0].t()).chunk(3, 1)  # 3 x (B, H)
        i, g = torch.sigmoid(a_i), torch.tanh(a_g)
        c = torch.addcmul(c_prev, i, g - c_prev)
        h, o, tc = _emit(a_o, c)
        return (h, c), (i, g, o, c_prev, tc)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h, d_c), (i, g, o, c_prev, tc) = d_state, cache
        d_a_o, d_c = _emit_backward(d_h, d_c, o, tc)
        d_a = torch.cat(
            [sigmoid_backward(d_c * (g - c_prev), i), tanh_backward(d_c * i, g), d_a_o], 1
        )  # (B, 3H)
        return d_a, d_a, d_a @ w[0], (None, d_c - d_c * i)


class NoForgetLSTMCell(Cell):
    """LSTM without a forget gate, c_t = c_{t-1} + i * g; gate order (i, g, o).

    The cell state is a running sum, so dL/dc_{t-1} = dL/dc_t: the notes' linear
    recurrence h_t = h_{t-1} + g(x_t, h_{t-1}) that lets gradients flow unchanged.
    """

    gate_names = ("i", "g", "o")
    num_states = 2

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        c_prev = state[1]
        a_i, a_g, a_o = torch.addmm(xp, u, w[0].t()).chunk(3, 1)  # 3 x (B, H)
        i, g = torch.sigmoid(a_i), torch.tanh(a_g)
        c = torch.addcmul(c_prev, i, g)
        h, o, tc = _emit(a_o, c)
        return (h, c), (i, g, o, tc)

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        (d_h, d_c), (i, g, o, tc) = d_state, cache
        d_a_o, d_c = _emit_backward(d_h, d_c, o, tc)
        d_a = torch.cat([sigmoid_backward(d_c * g, i), tanh_backward(d_c * i, g), d_a_o], 1)  # (B, 3H)
        return d_a, d_a, d_a @ w[0], (None, d_c)
