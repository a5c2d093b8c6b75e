"""Initialisers that address a recurrent layer's gates by name, as the notes write them.

Every seqlab recurrent layer (``RNN``, ``LSTM``, ``GRU``, ``MinGRU``, ``MinLSTM``) exposes
``gate_names`` (the names of its gate blocks in row order: ``("i", "f", "g", "o")`` for the LSTM,
``("r", "z", "n")`` for the GRU, ``("z", "h")`` for minGRU), ``biases()`` and
``recurrent_weights()``; these functions work on any of them and change every layer and
direction alike.

* :func:`add_gate_bias` -- e.g. +1 on the LSTM's forget gate (Gers et al. 2000, Jozefowicz et al. 2015).
* :func:`identity_init` -- the IRNN (Le et al. 2015): W_hh = I, zero biases.
* :func:`chrono_init` -- chrono initialisation (Tallec & Ollivier 2018).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

# chrono: which gate keeps the state (its bias log tau) and which writes it (-log tau), per layout
_CHRONO = {("i", "f", "g", "o"): ("f", "i"), ("f", "i", "h"): ("f", "i"), ("z", "h"): (None, "z")}


def gate_rows(layer: nn.Module, gate: str) -> slice:
    """The rows of gate ``gate`` in the layer's stacked weights and biases."""
    if gate not in layer.gate_names:
        raise ValueError(f"gate must be one of {list(layer.gate_names)} for {type(layer).__name__}, got {gate!r}")
    k, h = layer.gate_names.index(gate), layer.hidden_size
    return slice(k * h, (k + 1) * h)


@torch.no_grad()
def add_gate_bias(layer: nn.Module, gate: str, value: float) -> None:
    """Add ``value`` to the input bias of ``gate`` in every layer and direction."""
    rows = gate_rows(layer, gate)
    for b_ih, _ in layer.biases():
        b_ih[rows] += value


@torch.no_grad()
def identity_init(layer: nn.Module) -> None:
    """W_hh = I and every bias 0 (the IRNN of Le et al. 2015, for ReLU Elman layers)."""
    if layer.gate_names != ("h",):
        raise ValueError(f"identity_init is for Elman layers (one block, W_hh square), got gates {layer.gate_names}")
    for w_hh in layer.recurrent_weights():
        w_hh.copy_(torch.eye(w_hh.shape[0]))
    for b_ih, b_hh in layer.biases():
        b_ih.zero_()
        b_hh.zero_()


def chrono_gates(layer: nn.Module) -> tuple[str | None, str] | None:
    """(retaining gate, writing gate) of a layout chrono initialisation knows; None for other layers."""
    return _CHRONO.get(tuple(layer.gate_names))


@torch.no_grad()
def chrono_init(layer: nn.Module, max_delay: int, generator: torch.Generator | None = None) -> None:
    """Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?").

    Each unit gets a characteristic memory time tau ~ U(1, max_delay - 1): the retaining gate's bias
    is log(tau) and the writing gate's −log(tau), every other bias 0, so that at initialisation the
    state forgets about 1/tau per step (the LSTM: b_f = log tau, b_i = −b_f; minGRU: b_z = −log tau;
    minLSTM: b_f = log tau, b_i = −log tau, so f' = f / (f + i) ≈ 1 − 1/tau).  A layer with a second
    (recurrent) bias gets it zeroed: the whole gate bias sits in b_ih.
    """
    gates = chrono_gates(layer)
    if gates is None:
        raise ValueError(f"chrono_init needs a retaining or writing gate (LSTM, minGRU, minLSTM), got {layer.gate_names}")
    retain, write = gates
    for b_ih, b_hh in layer.biases():
        _chrono_bias(layer, b_ih, retain, write, max_delay, generator)
        if b_hh is not None:
            b_hh.zero_()


def _chrono_bias(layer, bias: Tensor, retain, write, max_delay: int, generator) -> None:
    log_tau = torch.empty(layer.hidden_size).uniform_(1, max(max_delay - 1, 2), generator=generator).log()
    bias.zero_()
    if retain is not None:
        bias[gate_rows(layer, retain)] = log_tau
    bias[gate_rows(layer, write)] = -log_tau
