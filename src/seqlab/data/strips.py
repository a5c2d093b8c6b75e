"""Handwritten digit strips: k digit images side by side, the input of the handwriting task.

The digits are scikit-learn's copy of the UCI optical digits (``load_digits``: 1,797 8x8 grey
images, 0..16 ink counts, shipped inside the wheel).  Each split draws from its own disjoint
set of source images (:func:`source_split`), so a digit image never appears in two splits.
A strip (:func:`make_strip`) places k of them on a canvas of fixed height, light ink on a dark
ground, each upsampled to ``digit_size`` pixels, then scaled by a random factor, shifted up or
down at random and separated by random gaps:

    canvas (H = 24)  |  3   1   4 |   one strip: digits "314", width = margins + digits + gaps
                     +------------+

User images (PNG, JPEG: :func:`read_strip`) are turned into the same form: grey, light ink on
dark (a dark-on-light scan is inverted), cropped to the ink, scaled to the largest digits' height.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.errors import UserError
from seqlab.fields import Count, Positive, Size

SPLITS = ("train", "valid", "test")


@dataclass
class StripConfig:
    height: Size = 24  # canvas height in pixels
    digit_size: Size = 16  # the 8x8 digits are upsampled to this size before the random scale
    min_scale: Positive = 0.8  # each digit is scaled by a factor drawn from [min_scale, max_scale]
    max_scale: Positive = 1.1
    max_gap: Count = 4  # pixels between neighbouring digits, drawn from 0..max_gap
    margin: Count = 2  # pixels left and right of the strip

    def check(self) -> None:
        if not 0 < self.min_scale <= self.max_scale:
            raise UserError(f"data.min_scale and data.max_scale must satisfy 0 < min <= max, got "
                            f"{self.min_scale} and {self.max_scale}")
        if round(self.digit_size * self.max_scale) > self.height:
            raise UserError(f"data.height={self.height} is smaller than the largest digit "
                            f"(data.digit_size={self.digit_size} x data.max_scale={self.max_scale})")
        if self.max_gap < 0 or self.margin < 0:
            raise UserError(f"data.max_gap and data.margin must be >= 0, got {self.max_gap} and {self.margin}")


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,)) of scikit-learn's optical digits."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def source_split(seed: int = 0, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> dict[str, np.ndarray]:
    """Disjoint index sets of the source images for train / valid / test, stratified by digit, from ``seed``."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise UserError(f"data.fractions must be three positive numbers that sum to 1, got {fractions}")
    _, labels = digits()
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {s: [] for s in SPLITS}
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(labels == d))
        a = round(len(idx) * fractions[0])
        b = a + round(len(idx) * fractions[1])
        for name, chunk in zip(SPLITS, (idx[:a], idx[a:b], idx[b:])):
            parts[name] += chunk.tolist()
    return {s: np.array(sorted(v)) for s, v in parts.items()}


def _scaled(image: np.ndarray, size: int) -> torch.Tensor:
    """An 8x8 digit as a (size, size) image, bilinear."""
    x = torch.from_numpy(image)[None, None]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0, 0].clamp_(0, 1)


@dataclass
class Strip:
    image: torch.Tensor  # (H, W) float32 in [0, 1], ink light
    digits: list[int]
    boxes: list[tuple[int, int, int, int]]  # (left, top, width, height) of each digit
    sources: list[int]  # the index of each digit image in load_digits


def make_strip(pool: np.ndarray, k: int, rng: random.Random, cfg: StripConfig) -> Strip:
    """A strip of ``k`` digits drawn from the source images ``pool``."""
    images, labels = digits()
    chosen = [int(pool[rng.randrange(len(pool))]) for _ in range(k)]
    sizes = [round(cfg.digit_size * rng.uniform(cfg.min_scale, cfg.max_scale)) for _ in chosen]
    gaps = [rng.randint(0, cfg.max_gap) for _ in range(k - 1)]
    width = 2 * cfg.margin + sum(sizes) + sum(gaps)
    canvas = torch.zeros(cfg.height, width)
    x, boxes = cfg.margin, []
    for i, (src, size) in enumerate(zip(chosen, sizes)):
        top = rng.randint(0, cfg.height - size)
        canvas[top : top + size, x : x + size] = torch.maximum(canvas[top : top + size, x : x + size],
                                                               _scaled(images[src], size))
        boxes.append((x, top, size, size))
        x += size + (gaps[i] if i < k - 1 else 0)
    return Strip(canvas, [int(labels[s]) for s in chosen], boxes, chosen)


MAX_DIGITS = 100  # digits in one strip (a strip of 100 is about 1,700 pixels wide)


def parse_lengths(text: str, what: str = "data.lengths") -> tuple[int, int]:
    """``"3-8"`` -> (3, 8); ``"5"`` -> (5, 5)."""
    try:
        lo, _, hi = text.partition("-")
        lo_n, hi_n = int(lo), int(hi or lo)
    except ValueError:
        raise UserError(f"{what} must be a length or a range like 3-8, got {text!r}") from None
    if not 1 <= lo_n <= hi_n <= MAX_DIGITS:
        raise UserError(f"{what} must satisfy 1 <= shortest <= longest <= {MAX_DIGITS}, got {text!r}")
    return lo_n, hi_n


def strips(pool: np.ndarray, n: int, lengths: tuple[int, int], seed: int, cfg: StripConfig) -> list[Strip]:
    """``n`` strips with lengths drawn uniformly from ``lengths``; the same seed gives the same strips."""
    rng = random.Random(seed)
    return [make_strip(pool, rng.randint(*lengths), rng, cfg) for _ in range(n)]


# ------------------------------------------------------------------------ user images
def read_strip(path: str | Path, cfg: StripConfig, scale: float = 0.0) -> torch.Tensor:
    """A PNG / JPEG strip as a (height, W) image like the generated ones.

    Grey levels in [0, 1]; an image whose border is mostly light is read as dark ink on light
    paper and inverted.  Cropped to the ink, then scaled so that the ink is as tall as the largest
    training digit (``digit_size`` x ``max_scale``), or by ``scale`` when given, and centred on the
    canvas.  Errors name the file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            grey = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(f"{path}: not an image Pillow can read ({type(e).__name__})") from None
    if grey.size == 0:
        raise UserError(f"{path}: the image is empty (0 pixels)")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 0.5:
        grey = 1.0 - grey  # dark ink on light paper
    ink = grey > 0.25
    if not ink.any():
        raise UserError(f"{path}: the image is empty (no ink: every pixel is close to the background)")
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    grey = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if scale < 0:
        raise UserError(f"--scale must be positive (0: automatic), got {scale}")
    factor = scale or round(cfg.digit_size * cfg.max_scale) / grey.shape[0]  # the ink as tall as the largest digit
    h, w = max(1, round(grey.shape[0] * factor)), max(1, round(grey.shape[1] * factor))
    if h > cfg.height:
        raise UserError(f"{path}: the strip is {h} pixels tall after scaling by {factor:g}, taller than the "
                        f"model's canvas of {cfg.height} (a smaller --scale, or 0 to fit the digits' height)")
    if w > 100 * cfg.height:
        raise UserError(f"{path}: the strip is {w} pixels wide after scaling, over the limit of {100 * cfg.height}")
    x = F.interpolate(torch.from_numpy(np.ascontiguousarray(grey))[None, None], size=(h, w), mode="bilinear",
                      align_corners=False)[0, 0].clamp(0, 1)
    canvas = torch.zeros(cfg.height, w + 2 * cfg.margin)
    top = (cfg.height - h) // 2
    canvas[top : top + h, cfg.margin : cfg.margin + w] = x
    return canvas


def write_strip(path: str | Path, image: torch.Tensor, dark_on_light: bool = False) -> Path:
    """A (H, W) strip as an 8-bit grey PNG (or any format Pillow knows from the suffix)."""
    from PIL import Image

    x = image.clamp(0, 1).numpy()
    if dark_on_light:
        x = 1.0 - x
    Image.fromarray((x * 255).round().astype(np.uint8), mode="L").save(path)
    return Path(path)
