"""Waveform augmentations for speech, drawn afresh for every training example.

* **speed perturbation** (Ko et al. 2015): the samples resampled by a factor s, so the
  recording plays s times faster -- shorter by 1/s, every frequency times s (sox's ``speed``);
* **vocal-tract-length perturbation** (VTLP; Jaitly & Hinton 2013): the frequency axis warped
  by α before the mel filterbank, piecewise linearly so that 0 and the Nyquist frequency stay::

      f' = α f                                             f <= F_b = F_hi min(α, 1) / α
      f' = S/2 − (S/2 − F_hi min(α, 1)) / (S/2 − F_b) · (S/2 − f)    above,

  with S the sample rate and F_hi = 0.6 · S/2 (4,800 Hz at 16 kHz, as in the paper);
* **additive noise**: white Gaussian noise at a signal-to-noise ratio drawn in dB.

SpecAugment, which masks features rather than samples, is in :mod:`seqlab.data.mel`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def draw(g: torch.Generator, low: float, high: float) -> float:
    """A number drawn uniformly from [low, high]."""
    return low + (high - low) * float(torch.rand((), generator=g))


def change_speed(x: Tensor, factor: float) -> Tensor:
    """The samples x (N,) played ``factor`` times faster: linear interpolation at the times ``factor`` · n."""
    n = max(2, round(len(x) / factor))
    return F.interpolate(x[None, None], size=n, mode="linear", align_corners=True)[0, 0]


def add_noise(x: Tensor, snr_db: float, g: torch.Generator) -> Tensor:
    """x plus white Gaussian noise whose power is the signal's mean power divided by 10^(snr_db / 10)."""
    power = x.pow(2).mean()
    return x + torch.randn(x.shape, generator=g) * torch.sqrt(power / 10 ** (snr_db / 10))


def vtlp_warp(f: Tensor, alpha: float, sample_rate: int) -> Tensor:
    """Frequencies f (Hz) warped by VTLP's piecewise-linear map with factor ``alpha`` (1: unchanged)."""
    nyquist = sample_rate / 2
    f_hi = 0.6 * nyquist
    boundary = f_hi * min(alpha, 1.0) / alpha
    upper = nyquist - (nyquist - f_hi * min(alpha, 1.0)) / (nyquist - boundary) * (nyquist - f)
    return torch.where(f <= boundary, alpha * f, upper)
