"""Gradient-flow probe: ||dL/dh_k|| at every time step k (the notes' vanishing/exploding picture).

BPTT multiplies dL/dh_t by diag(f'(z)) W_hh^T once per step back in time, so for a
loss on the last output the norm ||dL_T/dh_k|| shrinks or grows geometrically in
T - k for a plain RNN, while the LSTM's additive cell path keeps it alive.

The probe runs the layer's cell step by step under plain autograd and keeps the
gradient of every h_k, which is the *total* derivative: through the output at k and
through all later steps.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from seqlab.nn.recurrent import RecurrentLayer
from seqlab.nn.scan import autograd_scan


def gradient_flow(layer: RecurrentLayer, input: Tensor, loss_fn: Callable[[Tensor], Tensor], hx=None,
                  first_only: bool = False) -> Tensor:
    """||dL/dh_k|| for k = 1..T (norm over batch and hidden units), shape (T,).

    ``layer`` is a one-layer, one-direction seqlab RNN/LSTM/GRU; ``input`` is shaped as
    its forward expects (batched); ``loss_fn`` maps the output sequence, shaped as
    forward returns it, to a scalar.  Eval-mode semantics (no dropout).  With
    ``first_only`` a deeper or bidirectional layer is probed through its first layer's
    forward direction alone (``loss_fn`` then gets that direction's outputs, hidden_size wide).
    """
    if not first_only and (layer.num_layers != 1 or layer.bidirectional):
        raise ValueError(
            f"gradient_flow needs a one-layer unidirectional layer, got num_layers={layer.num_layers}, "
            f"bidirectional={layer.bidirectional}"
        )
    x, state = layer.time_major(input, hx)
    state = tuple(s[0] for s in state)  # the first layer's forward direction
    with torch.enable_grad():
        hs = [s[0] for s in autograd_scan(layer.cell, x, state, *layer.cell_weights(0))]
        for h in hs:
            h.retain_grad()
        out = torch.stack(hs)  # (T, B, H)
        loss_fn(out.transpose(0, 1) if layer.batch_first else out).backward()
    return torch.stack([h.grad.norm() if h.grad is not None else h.new_zeros(()) for h in hs]).detach()
