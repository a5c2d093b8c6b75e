"""The notes' vanishing-gradient picture on real text: ||dL_T/dh_k|| for RNN, LSTM and GRU.

One-layer models of each cell read the same batch of one-hot characters; the loss is
the cross-entropy of predicting the character after step T from h_T through a linear
read-out.  The probe (:func:`seqlab.nn.gradient_flow`) gives the total derivative
dL_T/dh_k for every k: it decays geometrically going back in time for the plain RNN.
The gated cells start with their "keep" gates leaning open (bias +1 on the LSTM's
forget gate, Jozefowicz et al. 2015, and on the GRU's update gate), as usually done;
float64, so that the smallest norms do not underflow.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

import seqlab.nn as snn
from seqlab.data.corpus import bundled_corpus
from seqlab.data.files import read_text
from seqlab.data.tokens import CharVocab
from seqlab.errors import UserError

CELLS = {"RNN (tanh)": snn.RNN, "LSTM": snn.LSTM, "GRU": snn.GRU}


def gradient_norms(text: str, steps: int, batch: int = 16, hidden: int = 128, seed: int = 0) -> dict[str, list[float]]:
    vocab = CharVocab.build(text)
    ids = torch.tensor(vocab.encode(text[: 200_000]))
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - steps - 1, (batch,), generator=g)
    window = torch.stack([ids[s : s + steps + 1] for s in starts.tolist()])  # (B, T+1)
    x = F.one_hot(window[:, :-1], len(vocab)).float()  # (B, T, V)
    target = window[:, -1]
    norms = {}
    for name, cls in CELLS.items():
        torch.manual_seed(seed)
        layer = cls(len(vocab), hidden, batch_first=True, dtype=torch.float64)
        readout = torch.nn.Linear(hidden, len(vocab), dtype=torch.float64)
        if name != "RNN (tanh)":  # the gate that keeps the state: the LSTM's forget gate, the GRU's update gate
            snn.add_gate_bias(layer, "f" if "f" in layer.gate_names else "z", 1.0)
        loss = lambda out, readout=readout: F.cross_entropy(readout(out[:, -1]), target)
        norms[name] = snn.gradient_flow(layer, x.double(), loss).tolist()
    return norms


def gradient_flow_plot(path: str | None, steps: int, out: Path) -> Path:
    if steps < 2:
        raise UserError(f"--steps must be at least 2, got {steps}")
    text = read_text(path or bundled_corpus())
    if len(text) < steps + 2:
        raise UserError(f"--data has {len(text)} characters, fewer than --steps + 2 = {steps + 2}")
    title = f"gradient flow back from step T={steps} (untrained; gate biases +1)"
    from seqlab.plots import plot_gradient_flow  # matplotlib only when a plot is drawn

    return plot_gradient_flow(gradient_norms(text, steps), out, title)
