"""Sampling from an autoregressive model: greedy, temperature, top-k and nucleus (top-p).

    p_i proportional to exp(logit_i / temperature), restricted to the k most likely tokens (top-k)
    and to the smallest set whose probability reaches p (top-p, Holtzman et al. 2020).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from seqlab.errors import UserError
from seqlab.fields import Count, Mass, NonNegative, Seed, Size


@dataclass
class SampleConfig:
    temperature: NonNegative = 1.0  # 0: greedy
    top_k: Count = 0  # 0: off
    top_p: Mass = 1.0  # 1: off
    seed: Seed = 0

    def check(self) -> None:
        if self.temperature < 0:
            raise UserError(f"--temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise UserError(f"--top-k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"--top-p must lie in (0, 1], got {self.top_p}")


@dataclass
class SamplingOptions:
    """The sampling options of ``seqlab generate`` and of ``seqlab predict`` on a language model."""

    temperature: NonNegative = field(default=0.8, metadata={"help": "0 = greedy (default 0.8)"})
    top_k: Count = field(default=0, metadata={"help": "sample from the k most likely tokens (0 = off)"})
    top_p: Mass = field(default=1.0, metadata={"help": "nucleus sampling mass (1 = off)"})
    seed: Seed = field(default=0, metadata={"help": "seed of the sampling generator"})

    def sampling(self) -> SampleConfig:
        return SampleConfig(self.temperature, self.top_k, self.top_p, self.seed)


@dataclass
class GenerateOptions(SamplingOptions):
    """``seqlab generate RUN_DIR``: the sampling options, and what to start from."""

    prime: str | None = field(default=None, metadata={"help": "lm: text to start from"})
    length: Size = field(default=500, metadata={"help": "lm: tokens to generate"})
    condition: str | None = field(default=None, metadata={"help": "conditional_lm: the class to write a sentence "
                                                                   "of (a label or its name)"})
    count: Size = field(default=5, metadata={"help": "conditional_lm: sentences to sample"})


def next_token(logits: Tensor, cfg: SampleConfig, generator: torch.Generator) -> Tensor:
    """logits (B, V) -> token ids (B,)."""
    if cfg.temperature == 0:
        return logits.argmax(-1)
    logits = logits / cfg.temperature
    if cfg.top_k:
        kth = torch.topk(logits, min(cfg.top_k, logits.shape[-1])).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1:
        sorted_logits, order = logits.sort(-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= cfg.top_p  # tokens after the nucleus is full
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    probs = logits.softmax(-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


@torch.no_grad()
def generate(model, prime: list[int], length: int, cfg: SampleConfig,
             on_tokens: Callable[[list[int]], None] | None = None) -> list[int]:
    """Feed ``prime`` and draw ``length`` more tokens; returns the new tokens only.

    The model provides ``start(prime (B, P)) -> (logits (B, V), state)`` and
    ``step_logits(token (B,), state) -> (logits (B, V), state)``.
    """
    cfg.check()
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(cfg.seed)
    logits, state = model.start(torch.tensor([prime], device=device))  # (1, V)
    out = []
    for _ in range(length):
        token = next_token(logits, cfg, generator)
        out.append(int(token))
        if on_tokens is not None:
            on_tokens(out)
        logits, state = model.step_logits(token, state)
    return out
