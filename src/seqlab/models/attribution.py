"""What a classifier looked at: integrated gradients over the embeddings, and position x symbol maps.

For a class c and an input x_1..x_T with embeddings e_t = E[x_t], integrated gradients
(Sundararajan et al. 2017) attribute the log-probability f(e) = log p(c | e) to each step:

    a_t = (e_t - ē) · ∫_0^1 ∂f/∂e_t (ē + α (e - ē)) dα        (midpoint rule, ``steps`` points)

with the baseline ē the mean embedding of the vocabulary's symbols (padding left out), so that
a_t measures what *this* symbol at t adds against an average one.  Completeness:
Σ_t a_t = f(e) - f(ē) up to the quadrature error.  Everything else of the model (learned
positions, convolutions, the encoder, pooling) sits inside f.

For aligned sequences (DNA around a junction) :func:`position_map` averages a_t over a set of
sequences per position and symbol -- the sequence-logo-style map of :func:`seqlab.plots.plot_logo`.
"""
from __future__ import annotations

import torch
from torch import Tensor


def integrated_gradients(model, tokens: Tensor, lengths: Tensor, target: Tensor, steps: int = 32) -> Tensor:
    """(B, T) attributions of ``log p(target | tokens)`` for a :class:`~seqlab.models.classifier.SequenceClassifier`
    in eval mode; zero on padding."""
    weight = model.embed.weight.detach()
    keep = torch.ones(len(weight), dtype=torch.bool, device=weight.device)
    if model.embed.padding_idx is not None:
        keep[model.embed.padding_idx] = False
    baseline = weight[keep].mean(0)  # ē (D,)
    e = model.embed(tokens).detach()  # (B, T, D)
    mask = (torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None])[..., None]
    total = torch.zeros_like(e)
    rows = torch.arange(len(tokens), device=tokens.device)
    for alpha in (torch.arange(steps, dtype=e.dtype) + 0.5) / steps:
        point = (baseline + alpha * (e - baseline)).requires_grad_(True)
        with torch.enable_grad():
            logp = model(tokens, lengths, embedded=point).log_softmax(-1)[rows, target].sum()
            (grad,) = torch.autograd.grad(logp, point)
        total += grad
    return ((e - baseline) * total / steps * mask).sum(-1)


def position_map(attributions: Tensor, tokens: Tensor, symbols: list[int]) -> Tensor:
    """(len(symbols), T): the mean over the N sequences of the attribution at t where x_t is each symbol
    (0 where it is another), so that a row's height is the symbol's average contribution at t."""
    return torch.stack([(attributions * (tokens == s)).sum(0) for s in symbols]) / max(len(tokens), 1)
