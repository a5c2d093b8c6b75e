"""A sequence encoder shared by the classification and tagging tasks: features in, one state per step out.

    h_1..h_T = BiRNN(x_1..x_T)      any seqlab.nn cell (the notes' bidirectional RNN), or
    h_1..h_T = Transformer(x + PE)  the Transformer encoder with sinusoidal positions

Padding is handled by ``lengths``: the recurrent layers stop at each sequence's end (both
directions), and the Transformer masks the padded keys.  Output (B, T, output_size).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from seqlab.fields import Probability, Size
from seqlab.models.recurrent import WITH_TRANSFORMER, RecurrentConfig, check_heads, check_recurrent, recurrent_layer


@dataclass
class EncoderConfig(RecurrentConfig):
    cell: Literal["rnn_tanh", "rnn_relu", "lstm", "gru", "min_gru", "min_lstm", "transformer"] = "lstm"
    hidden_size: Size = 256  # per direction; the Transformer's d_model
    bidirectional: bool = True  # a bidirectional recurrent encoder (the Transformer sees both sides anyway)
    dropout: Probability = 0.5  # on the encoder's input and output, and between layers
    num_heads: Size = 4  # transformer only; FFN 4 * hidden_size


class SequenceEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, input_size: int) -> None:
        super().__init__()
        check_recurrent(cfg, WITH_TRANSFORMER)
        self.transformer = cfg.cell == "transformer"
        self.bidirectional = cfg.bidirectional and not self.transformer
        if self.transformer:
            from seqlab.nn.positional import SinusoidalPositionalEncoding
            from seqlab.nn.transformer import TransformerEncoder, TransformerEncoderLayer

            d = cfg.hidden_size
            check_heads(d, cfg.num_heads)
            self.proj = nn.Linear(input_size, d)
            self.pos = SinusoidalPositionalEncoding(d, 4096, cfg.dropout)
            self.layers = TransformerEncoder(TransformerEncoderLayer(d, cfg.num_heads, 4 * d, cfg.dropout),
                                             cfg.num_layers)
            self.output_size = d
            self.max_positions: int | None = len(self.pos.pe)  # the positions it has encodings for
        else:
            self.rnn = recurrent_layer(cfg, input_size)
            self.output_size = cfg.hidden_size * (2 if self.bidirectional else 1)
            self.max_positions = None  # a recurrent layer reads any length

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x (B, T, I), lengths (B,) -> states (B, T, output_size), zero past each end for RNNs."""
        if self.transformer:
            from seqlab.nn.attention import padding_mask

            return self.layers(self.pos(self.proj(x)), padding_mask(lengths, x.shape[1]))
        out, _ = self.rnn(x, lengths=lengths)
        return out
