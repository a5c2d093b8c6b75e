"""The recurrent part of every model: one config, one factory, one validation.

Every model config with a recurrent part (the LM, the encoder of the classifier, tagger and
speech models, the forecasters) derives from :class:`RecurrentConfig`, so its fields are the
same flat keys everywhere (``--model.cell=gru --model.hidden_size=128``); a model changes only
the defaults.  :func:`recurrent_layer` turns the config into a ``seqlab.nn`` layer (batch first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

import seqlab.nn as snn
from seqlab.errors import UserError
from seqlab.fields import Probability, Size

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru", "min_gru", "min_lstm")  # every recurrent cell of seqlab.nn
WITH_TRANSFORMER = (*CELLS, "transformer")  # the models that can swap recurrence for attention


@dataclass
class RecurrentConfig:
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru", "min_gru", "min_lstm"] = "lstm"
    variant: Literal["standard", "peephole", "coupled", "no_forget", "after", "before"] = "standard"  # lstm: standard | peephole | coupled | no_forget;  gru: after | before
    hidden_size: Size = 256  # units per layer and direction
    num_layers: Size = 1  # stacked layers
    dropout: Probability = 0.0  # between stacked layers (the model adds its own, see its docstring)
    variational_dropout: Probability = 0.0  # per-sequence masks on the inputs and recurrent h inside the layers
    backend: Literal["auto", "bptt", "native"] = "auto"  # auto | bptt (hand-derived BPTT) | native (torch's kernels)
    bidirectional: bool = False  # a second layer reads the sequence backwards; outputs joined (2 x hidden_size)


def check_recurrent(cfg: RecurrentConfig, cells: tuple[str, ...] = CELLS) -> None:
    """The recurrent fields a model can use, with the value received named."""
    if cfg.cell not in cells:
        raise UserError(f"model.cell must be one of {sorted(cells)}, got {cfg.cell!r}")
    if cfg.hidden_size < 1 or cfg.num_layers < 1:
        raise UserError(f"model.hidden_size and model.num_layers must be positive, got {cfg.hidden_size} "
                        f"and {cfg.num_layers}")
    for key in ("dropout", "variational_dropout"):
        if not 0 <= getattr(cfg, key) < 1:
            raise UserError(f"model.{key} must lie in [0, 1), got {getattr(cfg, key)}")


def check_heads(width: int, heads: int) -> None:
    """A Transformer of width ``width`` (model.hidden_size) splits it into ``heads`` equal heads."""
    if heads < 1 or width % heads:
        raise UserError(f"model.hidden_size must be divisible by model.num_heads, got {width} and {heads}")


def recurrent_layer(cfg: RecurrentConfig, input_size: int) -> nn.Module:
    """The seqlab.nn layer that ``cfg`` names, batch_first."""
    check_recurrent(cfg)
    dropout = cfg.dropout if cfg.num_layers > 1 else 0.0
    if cfg.cell in ("min_gru", "min_lstm"):  # gates on x_t alone: trained as a parallel scan over the sequence
        if cfg.variational_dropout:
            raise UserError(f"model.variational_dropout is not available for model.cell={cfg.cell}")
        layer = snn.MinGRU if cfg.cell == "min_gru" else snn.MinLSTM
        return layer(input_size, cfg.hidden_size, cfg.num_layers, batch_first=True, bidirectional=cfg.bidirectional,
                     dropout=dropout)
    common = {"num_layers": cfg.num_layers, "batch_first": True, "variational_dropout": cfg.variational_dropout,
              "dropout": dropout, "backend": cfg.backend, "bidirectional": cfg.bidirectional}
    try:
        if cfg.cell in ("rnn_tanh", "rnn_relu"):
            return snn.RNN(input_size, cfg.hidden_size, nonlinearity=cfg.cell[4:], **common)
        if cfg.cell == "lstm":
            return snn.LSTM(input_size, cfg.hidden_size, variant=cfg.variant, **common)
        reset = "after" if cfg.variant == "standard" else cfg.variant
        return snn.GRU(input_size, cfg.hidden_size, reset=reset, **common)
    except ValueError as e:
        raise UserError(f"model: {e}") from None
