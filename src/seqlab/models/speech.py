"""Acoustic models over feature frames: isolated digits (many -> one) and connected digits (CTC).

    x_1..x_T          log-mel or MFCC frames (optionally k consecutive frames stacked: T/k steps)
    h_1..h_T          a bidirectional encoder of any seqlab.nn cell (models/encoder.py)
    isolated:         p(digit | x) = softmax(W · Pool(h_1..h_T) + b)       pooling as for sentences
    connected (CTC):  p_t(· | x) = softmax(W h_t + b) over blank + the labels, at every step;
                      trained with the CTC loss (torch.nn.functional.ctc_loss), which sums over
                      every alignment of the label sequence to the T steps
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.ctc import edit_distance, greedy_decode, prefix_beam_search
from seqlab.errors import UserError
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.pooling import POOLINGS, build_pooling


@dataclass
class SpeechModelConfig(EncoderConfig):
    pooling: str = "mean"  # isolated digits: last | mean | max | attention
    stack: int = 1  # consecutive frames joined into one step (CTC models: 2 halves the steps)


def stack_frames(x: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(B, T, D) -> (B, ceil(T/k), k·D): k consecutive frames side by side (the last zero-padded)."""
    if k == 1:
        return x, lengths
    B, T, D = x.shape
    pad = -T % k
    x = torch.cat([x, x.new_zeros(B, pad, D)], 1) if pad else x
    return x.reshape(B, (T + pad) // k, k * D), (lengths + k - 1) // k


class _Acoustic(nn.Module):
    def __init__(self, cfg: SpeechModelConfig, features: int) -> None:
        super().__init__()
        if cfg.stack < 1:
            raise UserError(f"model.stack must be at least 1, got {cfg.stack}")
        self.k = cfg.stack
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = SequenceEncoder(cfg, features * cfg.stack)

    def encode(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x, lengths = stack_frames(x, lengths, self.k)
        return self.drop(self.encoder(x, lengths)), lengths  # (B, T', D), (B,)


class DigitClassifier(_Acoustic):
    """Features (B, T, D) with lengths -> logits (B, classes).  Targets: one digit per recording."""

    metric = "accuracy"

    def __init__(self, cfg: SpeechModelConfig, features: int, classes: int = 10) -> None:
        super().__init__(cfg, features)
        if cfg.pooling not in POOLINGS:
            raise UserError(f"model.pooling must be one of {sorted(POOLINGS)}, got {cfg.pooling!r}")
        self.pool = build_pooling(cfg.pooling, self.encoder.output_size, self.encoder.bidirectional)
        self.out = nn.Linear(self.encoder.output_size, classes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        h, lengths = self.encode(x, lengths)
        mask = torch.arange(h.shape[1], device=h.device) < lengths[:, None]  # (B, T')
        return self.out(self.pool(h, mask))

    def loss(self, x: Tensor, lengths: Tensor, targets: list[int]) -> tuple[Tensor, Tensor]:
        """Mean cross-entropy of a batch, and the raw output (logits) for :meth:`outputs`."""
        logits = self(x, lengths)
        return F.cross_entropy(logits, torch.tensor(targets, device=x.device)), logits

    @staticmethod
    def outputs(logits: Tensor) -> list[Tensor]:
        """Each item's class probabilities."""
        return list(logits.softmax(-1).cpu())

    @staticmethod
    def score(outputs: list[Tensor], targets: list[int], beam: int = 1) -> dict:
        accuracy = sum(int(p.argmax()) == y for p, y in zip(outputs, targets)) / len(targets)
        return {"accuracy": accuracy, "selection": 1 - accuracy}

    @staticmethod
    def describe(output: Tensor, beam: int = 1) -> str:
        """``digit<TAB>probability``."""
        return f"{int(output.argmax())}\t{float(output.max()):.4f}"

    @staticmethod
    def posteriors(output: Tensor) -> None:
        return None  # one decision per recording: nothing per frame to draw


class CTCModel(_Acoustic):
    """Features (B, T, D) with lengths -> per-step log-probabilities (B, T', 1 + labels) and T' lengths; 0 = blank.
    Targets: the digit sequence of each utterance."""

    metric = "digit_error_rate"

    def __init__(self, cfg: SpeechModelConfig, features: int, labels: int = 10) -> None:
        super().__init__(cfg, features)
        self.out = nn.Linear(self.encoder.output_size, labels + 1)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        h, lengths = self.encode(x, lengths)
        return self.out(h).log_softmax(-1), lengths

    def loss(self, x: Tensor, lengths: Tensor, targets: list[list[int]]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The CTC loss of a batch (every alignment summed), and the raw output for :meth:`outputs`."""
        log_probs, out_lengths = self(x, lengths)  # (B, T', V)
        flat = torch.tensor([d + 1 for digits in targets for d in digits], device=x.device)  # 0 is the blank
        target_lengths = torch.tensor([len(digits) for digits in targets], device=x.device)
        ctc = F.ctc_loss(log_probs.transpose(0, 1), flat, out_lengths, target_lengths, blank=0, zero_infinity=True)
        return ctc, (log_probs, out_lengths)

    @staticmethod
    def outputs(raw: tuple[Tensor, Tensor]) -> list[Tensor]:
        """Each item's per-step log-probabilities (T'_i, 1 + labels)."""
        log_probs, steps = raw
        return [lp[:n].cpu() for lp, n in zip(log_probs, steps.tolist())]

    @staticmethod
    def decode(log_probs: Tensor, beam: int = 1) -> list[int]:
        """The digits of one utterance: greedy (beam 1) or CTC prefix beam search."""
        labels = prefix_beam_search(log_probs, beam) if beam > 1 else greedy_decode(log_probs)
        return [c - 1 for c in labels]

    @classmethod
    def score(cls, outputs: list[Tensor], targets: list[list[int]], beam: int = 1) -> dict:
        """Digit error rate (edit distance / digits) and utterance accuracy."""
        errors = digits = exact = 0
        for lp, truth in zip(outputs, targets):
            guess = cls.decode(lp, beam)
            errors, digits, exact = errors + edit_distance(guess, truth), digits + len(truth), exact + (guess == truth)
        der = errors / digits
        return {"digit_error_rate": der, "utterance_accuracy": exact / len(targets), "selection": der, "beam": beam}

    @classmethod
    def describe(cls, output: Tensor, beam: int = 1) -> str:
        return "".join(map(str, cls.decode(output, beam)))

    @staticmethod
    def posteriors(output: Tensor) -> Tensor:
        return output.exp()  # (T', 1 + labels): blank first
