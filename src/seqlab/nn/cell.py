"""The cell contract: what every recurrent cell provides to the generic driver.

A cell is one time step of a recurrent network, written twice: forward, and its
hand-derived backward step (back-propagation through time, BPTT).  The generic
driver in :mod:`seqlab.nn.scan` runs any cell over a sequence; adding a cell
never edits the driver.

Notation (per time step t, batch B, hidden size H, G gate blocks):

* ``xp``  -- the input projection ``W_ih x_t + input_bias``, shape (B, G*H).  The
  driver computes it for all t in one matmul before the loop.  ``input_bias`` holds
  every bias that is simply added to the pre-activation: b_ih + b_hh by default, so
  the step need not add b_hh again (GRUs keep b_hh apart: b_hn sits inside r * (...)).
* ``state`` -- a tuple of ``num_states`` tensors of shape (B, H); ``state[0]`` is
  always ``h``, the output of the step (LSTMs add ``c``).
* ``u`` -- the recurrent input, ``h_{t-1}`` times the variational-dropout mask
  (just ``h_{t-1}`` without it).  Every recurrent matmul reads ``u``; elementwise
  state updates (``c = f*c_prev + ...``, ``h = z*h_prev + ...``) read ``state``.
* ``w`` -- the recurrent parameters, ``(w_hh, b_hh, *extra)`` where ``extra`` are
  the tensors named in ``extra_params`` (e.g. peephole weights).
* ``hp`` -- the recurrent pre-activation ``W_hh u + b_hh``, shape (B, G*H).

A cell must provide:

``gate_names`` and ``num_states``
    class attributes: the names of the G gate blocks, in the order of their rows in
    ``weight_ih``/``weight_hh``/the biases (``("i", "f", "g", "o")``; ``num_gates`` = G
    follows from it), and the size of the state tuple.
``input_bias(b_ih, w) -> Tensor``
    the bias folded into ``xp`` (default ``b_ih + b_hh``).
``extra_params(hidden_size) -> dict[name, shape]``
    recurrent parameters beyond ``weight_hh``/``bias_hh`` (empty for most cells).
``step(xp, state, u, w) -> (state, cache)``
    one forward step; ``cache`` is a tuple of tensors kept for the backward step.
``step_backward(d_state, cache, u, w) -> (d_xp, d_hp, d_u, d_state_prev)``
    the hand-derived backward step: given dL/d(state_t) it returns dL/d(xp_t),
    dL/d(hp_t), dL/du_t and the *direct* part of dL/d(state_{t-1}) (entries may be
    ``None`` when the state enters the step only through ``u``).
``param_grads(d_hp, u, caches, w) -> tuple``
    gradients of ``w`` from all time steps at once, after the backward loop;
    ``d_hp`` and ``u`` are stacked over time, (T, B, G*H) and (T, B, H).  The
    default is the one-matmul sum of the notes, dL/dW_hh = sum_t d_hp_t u_t^T.
"""
from __future__ import annotations

import torch
from torch import Tensor

State = tuple[Tensor, ...]

# dL/da for s = sigmoid(a) or s = tanh(a), given dL/ds and s, each one fused kernel:
#   sigmoid_backward(d, s) = d * s * (1 - s),   tanh_backward(d, s) = d * (1 - s^2)
sigmoid_backward = torch.ops.aten.sigmoid_backward
tanh_backward = torch.ops.aten.tanh_backward


def flat(t: Tensor) -> Tensor:
    """(T, B, K) -> (T*B, K): all time steps as one batch, for one matmul."""
    return t.reshape(-1, t.shape[-1])


class Cell:
    """Base class of all cells; see the module docstring for the contract."""

    gate_names: tuple[str, ...] = ("h",)
    num_gates: int = 1  # len(gate_names), set for every subclass
    num_states: int = 1

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.num_gates = len(cls.gate_names)

    def extra_params(self, hidden_size: int) -> dict[str, tuple[int, ...]]:
        return {}

    def input_bias(self, b_ih: Tensor, w: State) -> Tensor:
        return b_ih + w[1]

    def step(self, xp: Tensor, state: State, u: Tensor, w: State) -> tuple[State, State]:
        raise NotImplementedError

    def step_backward(self, d_state: State, cache: State, u: Tensor, w: State):
        raise NotImplementedError

    def param_grads(self, d_hp: Tensor, u: Tensor, caches: list[State], w: State) -> State:
        d_w_hh = flat(d_hp).t() @ flat(u)  # (G*H, T*B) @ (T*B, H) -> (G*H, H)
        d_b_hh = flat(d_hp).sum(0)
        return (d_w_hh, d_b_hh)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def input_projection(cell: Cell, x: Tensor, w_ih: Tensor, b_ih: Tensor, w: State) -> Tensor:
    """``xp = W_ih x_t + input_bias`` for all T steps in one matmul: (T, B, I) -> (T, B, G*H)."""
    return torch.addmm(cell.input_bias(b_ih, w), flat(x), w_ih.t()).view(x.shape[0], x.shape[1], -1)


def input_grads(x: Tensor, w_ih: Tensor, d_xp: Tensor, need_x: bool, d_b_ih: Tensor | None = None) -> tuple:
    """dL/dx (None unless ``need_x``), dL/dW_ih and dL/db_ih from all steps at once; d_xp is (T, B, G*H).
    ``d_b_ih`` is the sum of d_xp over steps, unless the caller has it already."""
    d_x = (flat(d_xp) @ w_ih).view_as(x) if need_x else None
    return d_x, flat(d_xp).t() @ flat(x), flat(d_xp).sum(0) if d_b_ih is None else d_b_ih


def stack_field(caches: list[State], k: int) -> Tensor:
    """Field ``k`` of every step's cache, stacked over time: (T, B, H)."""
    return torch.stack([c[k] for c in caches])
