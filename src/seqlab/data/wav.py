"""Reading WAV recordings: integer PCM (8, 16, 24 or 32 bit), mono or mixed down, resampled on request.

The standard library's ``wave`` reads the container; samples come back as float32 in
[-1, 1).  Everything a user can get wrong -- a file that is not WAV, a truncated or empty
one, an encoding other than integer PCM (IEEE float, A-law, ...) -- is a one-line
:class:`UserError` naming the file.
"""
from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np
import torch

from seqlab.errors import UserError


def _samples(frames: bytes, width: int) -> np.ndarray:
    """Little-endian PCM frames -> float64 in [-1, 1)."""
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        return (np.frombuffer(frames, np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:  # 24-bit: widen each sample to 32 bits
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3)
        wide = np.zeros((len(raw), 4), np.uint8)
        wide[:, 1:] = raw
        return wide.view("<i4")[:, 0].astype(np.float64) / 2.0**31
    return np.frombuffer(frames, f"<i{width}").astype(np.float64) / 2.0 ** (8 * width - 1)


def read_wav(path: str | Path, rate: int | None = None,
             max_seconds: float | None = None) -> tuple[torch.Tensor, int]:
    """(samples (N,) float32, sample rate) of a WAV file; resampled to ``rate`` when given and different.
    A recording longer than ``max_seconds`` is refused from its header, before its samples are read."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, sr, n = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            if sr <= 0:
                raise UserError(f"{path}: the header gives a sample rate of {sr} Hz")
            if max_seconds is not None and n > max_seconds * sr:
                raise UserError(f"{path}: {n / sr:,.1f} s long, over the limit of {max_seconds:g} s "
                                f"(--max-seconds raises it; memory grows with the length)")
            frames = f.readframes(n)
    except wave.Error as e:
        what = "an IEEE-float or compressed WAV (only integer PCM is read)" if "format" in str(e) else "not a WAV file"
        raise UserError(f"{path}: {what} ({e})") from None
    except (EOFError, OSError, RuntimeError) as e:  # RuntimeError: the wave module seeking past a chunk's end
        raise UserError(f"{path}: not a readable WAV file ({e or 'it ends early'})") from None
    if n == 0:
        raise UserError(f"{path}: the recording is empty (no samples)")
    if len(frames) < n * channels * width:
        raise UserError(f"{path}: truncated: the header promises {n} frames, the file holds "
                        f"{len(frames) // (channels * width)}")
    x = _samples(frames, width).reshape(-1, channels).mean(1)  # (N,), channels mixed down
    if rate and rate != sr:
        x = resample(x, sr, rate)
        sr = rate
    return torch.from_numpy(x.astype(np.float32)), sr


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, a Kaiser-windowed low-pass)."""
    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(x, rate_out // g, rate_in // g)


def write_wav(path: str | Path, x: torch.Tensor, rate: int) -> Path:
    """Write mono float samples in [-1, 1] as 16-bit PCM."""
    pcm = (x.clamp(-1, 1 - 2**-15) * 32768).round().to(torch.int16).numpy().tobytes()
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm)
    return Path(path)


def wav_files(directory: str | Path) -> list[Path]:
    """The .wav files of ``directory``, sorted; an error if there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"no such directory: {directory}")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".wav")
    if not files:
        raise UserError(f"{directory} holds no .wav files")
    return files
