"""Acoustic models over feature frames: isolated digits (many -> one), connected digits (CTC), frame labels.

    x_1..x_T          log-mel or MFCC frames (optionally k consecutive frames stacked: T/k steps)
    h_1..h_T          a bidirectional encoder of any seqlab.nn cell (models/encoder.py)
    isolated:         p(digit | x) = softmax(W · Pool(h_1..h_T) + b)       pooling as for sentences
    connected (CTC):  p_t(· | x) = softmax(W h_t + b) over blank + the labels, at every step;
                      trained with the CTC loss (torch.nn.functional.ctc_loss), which sums over
                      every alignment of the label sequence to the T steps
    frames:           p(y_t | x) = softmax(W h_t + b) over silence + the digits, at every frame (synchronous
                      many -> many, the notes' frame labelling), trained on known frame labels; optionally a
                      linear-chain CRF over the frame labels (seqlab.nn.crf)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.ctc import edit_distance, greedy_decode, prefix_beam_search
from seqlab.errors import UserError
from seqlab.fields import Size
from seqlab.metrics.segments import segment_scores, segments
from seqlab.models.encoder import EncoderConfig, SequenceEncoder
from seqlab.nn.pooling import POOLINGS, build_pooling


@dataclass
class SpeechModelConfig(EncoderConfig):
    pooling: Literal["last", "mean", "max", "attention"] = "mean"  # isolated digits: last | mean | max | attention
    stack: Size = 1  # consecutive frames joined into one step (CTC models: 2 halves the steps)
    output: Literal["softmax", "crf"] = "softmax"  # frame labels: softmax (per frame) | crf (Viterbi over the frames)


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

    symbols = ("-", *map(str, range(10)))

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

    def segments(self, log_probs: Tensor) -> list[tuple[int, int, int]]:
        """The greedy path's runs of one non-blank label as segments (label 1 + digit, first frame, end frame),
        in input frames (model steps times model.stack): CTC's peaky outputs read as frame labels."""
        return [(k, s * self.k, e * self.k) for k, s, e in segments(log_probs.argmax(-1).tolist())]

    @staticmethod
    def posteriors(output: Tensor) -> Tensor:
        return output.exp()  # (T', 1 + labels): blank first


class FrameTagger(_Acoustic):
    """Features (B, T, D) with lengths -> per-frame label scores (B, T, 1 + labels); 0 = silence.
    Targets: one label per frame (T,)."""

    metric = "frame_accuracy"
    symbols = ("sil", *map(str, range(10)))

    def __init__(self, cfg: SpeechModelConfig, features: int, labels: int = 10, frame_seconds: float = 0.01) -> None:
        if cfg.stack != 1:
            raise UserError(f"frame labels need one model step per frame: model.stack must be 1, got {cfg.stack}")
        if cfg.output not in ("softmax", "crf"):
            raise UserError(f"model.output must be softmax or crf, got {cfg.output!r}")
        super().__init__(cfg, features)
        from seqlab.nn.crf import LinearChainCRF

        self.out = nn.Linear(self.encoder.output_size, labels + 1)
        self.crf = LinearChainCRF(labels + 1) if cfg.output == "crf" else None
        self.frame_seconds = frame_seconds

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        h, lengths = self.encode(x, lengths)
        return self.out(h), lengths  # emissions (B, T, K)

    def loss(self, x: Tensor, lengths: Tensor, targets: list[Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Cross-entropy per frame (softmax) or the CRF's negative log-likelihood per utterance, and the raw output."""
        e, lengths = self(x, lengths)
        mask = torch.arange(e.shape[1], device=e.device) < lengths[:, None]
        tags = nn.utils.rnn.pad_sequence([y.to(e.device) for y in targets], batch_first=True)
        if tags.shape[1] != e.shape[1]:
            raise UserError(f"{tags.shape[1]} frame labels for {e.shape[1]} frames")
        loss = self.crf(e, tags, mask).mean() if self.crf is not None else F.cross_entropy(e[mask], tags[mask])
        return loss, (e, lengths)

    @staticmethod
    def outputs(raw: tuple[Tensor, Tensor]) -> list[Tensor]:
        """Each item's per-frame emissions (T_i, 1 + labels)."""
        e, lengths = raw
        return [x[:n].cpu() for x, n in zip(e, lengths.tolist())]

    def labels(self, emissions: Tensor) -> list[int]:
        """The frame labels of one utterance: Viterbi (CRF) or the per-frame argmax."""
        if self.crf is None:
            return emissions.argmax(-1).tolist()
        crf_device = self.crf.transitions.device
        return self.crf.decode(emissions[None].to(crf_device), torch.ones(1, len(emissions), dtype=torch.bool,
                                                                          device=crf_device))[0]

    def score(self, outputs: list[Tensor], targets: list[Tensor], beam: int = 1) -> dict:
        """Frame accuracy, and segment P/R/F1 (label and both boundaries within 2 frames)."""
        predicted = [self.labels(e) for e in outputs]
        right = sum(sum(p == g for p, g in zip(ps, y.tolist())) for ps, y in zip(predicted, targets))
        accuracy = right / sum(len(y) for y in targets)
        seg = segment_scores([segments(y.tolist()) for y in targets], [segments(p) for p in predicted])
        return {"frame_accuracy": accuracy, **seg, "selection": 1 - accuracy}

    def describe(self, output: Tensor, beam: int = 1) -> str:
        """``digits<TAB>digit@start-end ...`` (seconds) for one utterance."""
        found = segments(self.labels(output))
        spans = " ".join(f"{k - 1}@{s * self.frame_seconds:.2f}-{e * self.frame_seconds:.2f}" for k, s, e in found)
        return f"{''.join(str(k - 1) for k, _, _ in found)}\t{spans}"

    @staticmethod
    def posteriors(output: Tensor) -> Tensor:
        return output.softmax(-1)  # (T, 1 + labels): silence first
