"""The model of the long-range memory problems (:mod:`seqlab.tasks.memory`): a one-direction sequence encoder
with a linear read-out, and the initialisations that the notes' memory discussion compares (IRNN's identity,
chrono gate biases, a forget-gate bias)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import seqlab.nn as snn
from seqlab.data.memory import VOCAB
from seqlab.errors import UserError
from seqlab.fields import Finite, Probability, Size
from seqlab.models.encoder import EncoderConfig, SequenceEncoder


@dataclass
class MemoryModelConfig(EncoderConfig):
    bidirectional: bool = False
    dropout: Probability = 0.0
    hidden_size: Size = 128
    init: Literal["default", "identity", "chrono"] = "default"  # default | identity (IRNN: identity recurrent weights, zero biases; Le et al. 2015)
    #   | chrono (lstm, min_gru, min_lstm: gate biases that keep memory for 1..data.length steps; Tallec & Ollivier 2018)
    forget_bias: Finite = 0.0  # lstm: added to the forget gate's bias (1.0: Gers et al. 2000, Jozefowicz et al. 2015)


class MemoryModel(nn.Module):
    """adding: the two channels in, the last state -> the sum; copy / selective: one-hot symbols in, a symbol per step out."""

    def __init__(self, cfg: MemoryModelConfig, problem: str, length: int = 100) -> None:
        super().__init__()
        if cfg.bidirectional:
            raise UserError("model.bidirectional=true: a backward direction would read the whole sequence before "
                            "the answer, so there would be no delay to bridge; memory problems take one direction")
        self.problem, self.regression = problem, problem == "adding"
        self.encoder = SequenceEncoder(cfg, 2 if self.regression else VOCAB)
        self.out = nn.Linear(self.encoder.output_size, 1 if self.regression else VOCAB)
        _initialise(self.encoder, cfg, length)

    def forward(self, x: Tensor) -> Tensor:
        inputs = x if self.regression else F.one_hot(x, VOCAB).float()  # (B, T, 2 | V)
        lengths = torch.full((len(x),), x.shape[1], device=x.device)
        h = self.encoder(inputs, lengths)  # (B, T, D)
        return self.out(h[:, -1])[:, 0] if self.regression else self.out(h)


CHRONO_CELLS = ("lstm", "min_gru", "min_lstm")


def _initialise(encoder: SequenceEncoder, cfg: MemoryModelConfig, length: int) -> None:
    if cfg.init not in ("default", "identity", "chrono"):
        raise UserError(f"model.init must be default, identity or chrono, got {cfg.init!r}")
    if cfg.init == "identity" and cfg.cell != "rnn_relu":
        raise UserError(f"model.init=identity is for model.cell=rnn_relu (the IRNN), got model.cell={cfg.cell}")
    if cfg.init == "chrono" and cfg.cell not in CHRONO_CELLS:
        raise UserError(f"model.init=chrono is for model.cell={'|'.join(CHRONO_CELLS)}, got model.cell={cfg.cell}")
    if cfg.forget_bias and cfg.cell != "lstm":
        raise UserError(f"model.forget_bias is for model.cell=lstm, got model.cell={cfg.cell}")
    if cfg.init == "identity":
        snn.identity_init(encoder.rnn)
    elif cfg.init == "chrono":
        if snn.chrono_gates(encoder.rnn) is None:
            raise UserError(f"model.init=chrono needs the gates (i, f, g, o); model.variant={cfg.variant} has "
                            f"{encoder.rnn.gate_names}")
        snn.chrono_init(encoder.rnn, length)
    if cfg.forget_bias:
        if "f" not in encoder.rnn.gate_names:
            raise UserError(f"model.forget_bias: model.variant={cfg.variant} has no forget gate")
        snn.add_gate_bias(encoder.rnn, "f", cfg.forget_bias)
