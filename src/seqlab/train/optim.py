"""Optimizers and learning-rate schedules.

Schedules (``optim.schedule``):

* ``constant``
* ``cosine``  -- linear warm-up over ``warmup_steps``, then cosine decay to ``min_lr`` at the last step
* ``step``    -- Zaremba et al. 2014: lr for the first ``decay_start`` epochs, then times
  ``decay`` after every further epoch (small model: lr 1, decay 0.5 from epoch 5)
* ``plateau`` -- times ``decay`` whenever the validation loss fails to improve

``optim.ema`` > 0 keeps an exponential moving average of the weights, theta_ema <- d theta_ema + (1 - d) theta
after every step (torch.optim.swa_utils); the trainer evaluates and saves the average as the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import torch

from seqlab.errors import UserError
from seqlab.fields import Count, Fraction, NonNegative, Positive, Probability, Range


@dataclass
class OptimConfig:
    name: Literal["adamw", "sgd"] = "adamw"
    lr: Positive = 2e-3  # peak learning rate
    weight_decay: NonNegative = 0.0  # decoupled weight decay (adamw) / L2 (sgd)
    beta2: Probability = 0.99
    momentum: Probability = 0.0  # sgd
    clip: Annotated[float, Range(0, low_open=True, off=0)] = 5.0  # max global gradient norm, the notes' theta (0: no clipping)
    schedule: Literal["constant", "cosine", "step", "plateau"] = "cosine"
    warmup_steps: Count = 0  # linear warm-up from 0 over this many steps
    min_lr: NonNegative = 0.0  # cosine: the learning rate it ends at
    decay: Fraction = 0.5  # step / plateau factor
    decay_start: Count = 4  # step: epochs at full lr
    ema: Probability = 0.0  # > 0: evaluate and keep an exponential moving average of the weights with this decay
    # (e.g. 0.999; 0: off); best/ holds the averaged weights, last/ the trained ones and the average


def build_optimizer(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    """(Each field's own range is declared on it and checked before this.)"""
    if cfg.min_lr > cfg.lr:
        raise UserError(f"optim.min_lr ({cfg.min_lr:g}) must not exceed optim.lr ({cfg.lr:g})")
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, cfg.beta2), weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise UserError(f"optim.name must be 'adamw' or 'sgd', got {cfg.name!r}")


def _cosine(cfg: OptimConfig, max_steps: int):
    floor = cfg.min_lr / cfg.lr

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, max_steps - cfg.warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def build_scheduler(cfg: OptimConfig, optimizer, max_steps: int, steps_per_epoch: int):
    """A torch scheduler stepped once per training step (``plateau``: once per evaluation)."""
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine(cfg, max_steps))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: cfg.decay ** max(0, step // steps_per_epoch + 1 - cfg.decay_start)
        )
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.decay, patience=0)
    raise UserError(f"optim.schedule must be one of ['constant', 'cosine', 'plateau', 'step'], got {cfg.schedule!r}")


def averaged(cfg: OptimConfig, model: torch.nn.Module):
    """The moving average of ``model``'s weights (and buffers) that ``optim.ema`` asks for, or None."""
    if cfg.ema <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
