"""Speech features in torch: log-mel filterbank energies and MFCCs, normalisation, SpecAugment.

    X_t(k)   = STFT of the samples (Hann window of ``win`` samples, hop ``hop``, ``n_fft`` points)
    P_t(k)   = |X_t(k)|²                                        power spectrum, bins f_k = k·sr/n_fft
    mel(f)   = 2595 · log10(1 + f / 700)                        the HTK mel scale
    W[m, k]  = max(0, min((f_k − f_{m−1}) / (f_m − f_{m−1}), (f_{m+1} − f_k) / (f_{m+1} − f_m)))
               triangles between M + 2 frequencies f_0..f_{M+1} equally spaced in mel
    S_t(m)   = log(Σ_k W[m, k] P_t(k) + ε)                       log-mel energies
    c_t(n)   = √(2/M) · s_n · Σ_m S_t(m) cos(π n (m + ½) / M),   s_0 = 1/√2, else 1   (orthonormal DCT-II)

VTLP (:mod:`seqlab.data.augment`) warps the bin frequencies f_k before the triangles are laid on them.
Per-utterance normalisation subtracts each feature's mean over the frames and divides by
the utterance's overall standard deviation.  SpecAugment (Park et al. 2019) zeroes random bands of frequency
channels and of frames during training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from seqlab.data.augment import vtlp_warp
from seqlab.errors import UserError
from seqlab.fields import NonNegative, Size


@dataclass
class FeatureConfig:
    kind: Literal["logmel", "mfcc"] = "logmel"
    sample_rate: Size = 8000  # recordings are resampled to this rate (Hz)
    resample: bool = True  # false: a file at another rate is refused at prediction time instead of resampled
    n_fft: Size = 256  # FFT size (samples)
    win: Size = 200  # 25 ms at 8 kHz
    hop: Size = 80  # 10 ms at 8 kHz
    n_mels: Size = 40  # mel bands
    n_mfcc: Size = 13  # MFCCs kept (features=mfcc)
    fmin: NonNegative = 0.0  # lowest mel frequency (Hz)
    fmax: NonNegative = 0.0  # 0: half the sample rate
    normalise: bool = True  # per-utterance mean and variance


def hz_to_mel(f: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float = 0.0,
                   warp: float = 1.0) -> Tensor:
    """W (n_mels, n_fft // 2 + 1): triangular filters equally spaced on the HTK mel scale (no area normalisation);
    ``warp`` ≠ 1: each bin's energy counted at its VTLP-warped frequency."""
    fmax = fmax or sample_rate / 2
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise UserError(f"features: need 0 <= fmin < fmax <= sample_rate / 2, got fmin {fmin}, fmax {fmax}, "
                        f"sample_rate {sample_rate}")
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft  # f_k
    if warp != 1.0:
        bins = vtlp_warp(bins, warp, sample_rate)
    lo, hi = hz_to_mel(torch.tensor([fmin, fmax], dtype=torch.float64)).tolist()
    edges = mel_to_hz(torch.linspace(lo, hi, n_mels + 2, dtype=torch.float64))  # f_0 .. f_{M+1}
    lower = (bins[None] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - bins[None]) / (edges[2:] - edges[1:-1])[:, None]
    return torch.clamp(torch.minimum(lower, upper), min=0.0).float()


def dct_matrix(n_mfcc: int, n_mels: int) -> Tensor:
    """D (n_mfcc, n_mels), the orthonormal DCT-II: c = D @ S."""
    n, m = torch.arange(n_mfcc, dtype=torch.float64)[:, None], torch.arange(n_mels, dtype=torch.float64)[None]
    d = torch.cos(math.pi * n * (m + 0.5) / n_mels) * math.sqrt(2.0 / n_mels)
    d[0] /= math.sqrt(2.0)
    return d.float()


class Features(torch.nn.Module):
    """Samples (N,) -> features (T, D): log-mel (D = n_mels) or MFCC (D = n_mfcc)."""

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        if cfg.kind not in ("logmel", "mfcc"):
            raise UserError(f"features.kind must be logmel or mfcc, got {cfg.kind!r}")
        if not 0 < cfg.win <= cfg.n_fft or cfg.hop < 1:
            raise UserError(f"features: need 0 < win <= n_fft and hop >= 1, got win {cfg.win}, n_fft {cfg.n_fft}, "
                            f"hop {cfg.hop}")
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.win), persistent=False)
        self.register_buffer("fbank", mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax),
                             persistent=False)
        self.register_buffer("dct", dct_matrix(cfg.n_mfcc, cfg.n_mels), persistent=False)

    @property
    def size(self) -> int:
        return self.cfg.n_mels if self.cfg.kind == "logmel" else self.cfg.n_mfcc

    def log_mel(self, x: Tensor, warp: float = 1.0) -> Tensor:
        """Log-mel energies (T, M); ``warp`` ≠ 1: through a VTLP-warped filterbank (training augmentation)."""
        c = self.cfg
        spec = torch.stft(x, c.n_fft, c.hop, c.win, self.window, center=True, return_complex=True)  # (K, T)
        power = spec.real.pow(2) + spec.imag.pow(2)
        fbank = self.fbank if warp == 1.0 else \
            mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.fmin, c.fmax, warp).to(power.device)
        return torch.log(fbank @ power + 1e-6).T  # (T, M)

    def frames(self, samples: int) -> int:
        """How many frames ``samples`` samples give (the STFT is centred)."""
        return 1 + samples // self.cfg.hop

    def forward(self, x: Tensor, warp: float = 1.0) -> Tensor:
        s = self.log_mel(x, warp)
        f = s if self.cfg.kind == "logmel" else s @ self.dct.T  # (T, n_mfcc)
        return normalise(f) if self.cfg.normalise else f


def normalise(f: Tensor) -> Tensor:
    """Per-utterance normalisation of features (T, D): each feature's mean over the frames removed, then one
    scale for the utterance (the bands keep their relative variances: a silent band is not blown up to unit variance)."""
    f = f - f.mean(0)
    return f / (f.pow(2).mean().sqrt() + 1e-5)


def _mask(size: int, width: int, g: torch.Generator) -> slice:
    """A random run of at most ``width`` of ``size`` positions."""
    w = int(torch.randint(0, min(width, size) + 1, (), generator=g))
    start = int(torch.randint(0, size - w + 1, (), generator=g))
    return slice(start, start + w)


def spec_augment(f: Tensor, g: torch.Generator, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2,
                 time_width: int = 10) -> Tensor:
    """Zero ``freq_masks`` bands of up to ``freq_width`` channels and ``time_masks`` runs of up to ``time_width`` frames."""
    f = f.clone()  # (T, D)
    for _ in range(freq_masks):
        f[:, _mask(f.shape[1], freq_width, g)] = 0.0
    for _ in range(time_masks):
        f[_mask(f.shape[0], time_width, g)] = 0.0
    return f
