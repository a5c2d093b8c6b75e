"""Handwriting: a strip of handwritten digits in, the digit string out (sequence recognition on images).

    seqlab train handwriting [--preset digits-ctc | digits-attention] [--data.lengths=3-8] [--key=value ...]
    seqlab predict RUN_DIR strip.png [more.png ...] [--beam 4] [--plot out.png] [--scale S]
    seqlab evaluate RUN_DIR [--split test] [--lengths 7-10] [--strips 2000] [--beam 4]

The digits are scikit-learn's optical digits (no download), split into disjoint train / valid
/ test sets of source images; training strips are drawn afresh from (seed, step) (an
"epoch" is 100 batches, and a run resumes exactly), validation and test strips are fixed sets
drawn from their own images (see :mod:`seqlab.data.strips`).  Two decoders read the column
states (:mod:`seqlab.models.handwriting`): CTC and an attention decoder.  Figures: the
character error rate (edit distance / reference digits), the whole-string accuracy, and both
per strip length.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seqlab.ctc import edit_distance
from seqlab.data.lines import numbered_chunks
from seqlab.data.strips import Strip, StripConfig, parse_lengths, read_strip, source_split, strips
from seqlab.errors import UserError
from seqlab.fields import NonNegative, Seed, Size
from seqlab.models.handwriting import ReaderConfig, build_reader
from seqlab.tasks.panel import upload_panel
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import chunks
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, TrainingTask

STEPS_PER_EPOCH = 100


@dataclass
class HandwritingDataConfig(StripConfig):
    lengths: str = "3-8"  # digits per training (and validation) strip: a range, or one length
    valid_strips: Size = 500  # the fixed validation set, drawn from the validation images
    split_seed: Seed = 0  # which source images go to train / valid / test
    path: str = ""  # unused (the digits ship with scikit-learn); kept so that --data is refused clearly


@dataclass
class HandwritingConfig:
    data: HandwritingDataConfig = field(default_factory=HandwritingDataConfig)
    model: ReaderConfig = field(default_factory=ReaderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def pad(images: list[torch.Tensor], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Strips (H, W_i) -> (B, H, max W) right-padded with background, and the widths (B,)."""
    widths = torch.tensor([x.shape[1] for x in images])
    out = torch.zeros(len(images), images[0].shape[0], int(widths.max()))
    for i, x in enumerate(images):
        out[i, :, : x.shape[1]] = x
    return out.to(device), widths.to(device)


class HandwritingTask(TrainingTask):
    """The trainer's view: fresh training strips from (seed, step), a fixed validation set."""

    def __init__(self, model, cfg: HandwritingConfig, device) -> None:
        self.model, self.cfg, self.device = model, cfg, device
        self.metric, self.steps_per_epoch = "cer", STEPS_PER_EPOCH
        self.lengths = parse_lengths(cfg.data.lengths)
        self.pools = source_split(cfg.data.split_seed)
        self.valid = strips(self.pools["valid"], cfg.data.valid_strips, self.lengths, cfg.train.seed - 1, cfg.data)

    def batches(self, position):
        step = position or 0
        while True:
            yield step + 1, strips(self.pools["train"], self.cfg.train.batch_size, self.lengths,
                                   self.cfg.train.seed * 1_000_003 + step, self.cfg.data)
            step += 1

    def train_step(self, batch: list[Strip]):
        images, widths = pad([s.image for s in batch], self.device)
        return self.model.loss(images, widths, [s.digits for s in batch]), len(batch)

    def evaluate(self) -> dict:
        return score(self.model, self.valid, self.device)


@torch.no_grad()
def read(model, images: list[torch.Tensor], device, beam: int = 1) -> list[tuple]:
    """(digits, attention or posteriors) for each image."""
    model.eval()
    out = []
    for batch in chunks(images):
        out += model.read(*pad(batch, device), beam)
    return out


@torch.no_grad()
def score(model, items: list[Strip], device, beam: int = 1) -> dict:
    """Loss, character error rate, string accuracy, and both per strip length."""
    model.eval()
    loss = 0.0
    for batch in chunks(items):
        loss += model.loss(*pad([s.image for s in batch], device), [s.digits for s in batch]).item() * len(batch)
    guesses = [digits for digits, _ in read(model, [s.image for s in items], device, beam)]
    return {"loss": loss / len(items), **error_rates([s.digits for s in items], guesses), "beam": beam}


def error_rates(truth: list[list[int]], guesses: list[list[int]]) -> dict:
    """CER (edit distance / reference digits) and string accuracy, overall and per reference length."""
    by_length: dict[int, list[int]] = {}
    for t, g in zip(truth, guesses):
        row = by_length.setdefault(len(t), [0, 0, 0, 0])  # errors, digits, exact, strips
        row[0] += edit_distance(g, t)
        row[1] += len(t)
        row[2] += g == t
        row[3] += 1
    errors, digits = sum(r[0] for r in by_length.values()), sum(r[1] for r in by_length.values())
    exact = sum(r[2] for r in by_length.values())
    table = {k: {"cer": r[0] / r[1], "string_accuracy": r[2] / r[3], "strips": r[3]}
             for k, r in sorted(by_length.items())}
    return {"cer": errors / digits, "string_accuracy": exact / len(truth), "selection": errors / digits,
            "strips": len(truth), "per_length": table}


# ------------------------------------------------------------------------ setup / build
def setup(cfg: HandwritingConfig, resume_dir: Path | None, device) -> HandwritingTask:
    if cfg.data.path:
        raise UserError("the handwriting digits ship with scikit-learn: no --data (choose strips with "
                        "--data.lengths and the --data.* sizes)")
    cfg.data.check()
    return HandwritingTask(build_reader(cfg.model, cfg.data.height).to(device), cfg, device)


def build(cfg: HandwritingConfig, run_dir: Path, device) -> Run:
    return Run(cfg, build_reader(cfg.model, cfg.data.height).to(device), run_dir, device)


@dataclass
class PredictOptions:
    files: list[str] = field(metadata={"help": "PNG or JPEG images of digit strips", "positional": True})
    beam: Size = option(1, "beam width (1: greedy)")
    plot: str | None = option(None, "PNG of the first image with the attention of each digit (or CTC's "
                                     "per-column posteriors) beneath it")
    scale: NonNegative = option(0.0, "scale factor for the images (0: the ink as tall as the largest training digit)")


def predict(run: Run, lines: Iterable[str], options: PredictOptions) -> Iterator[str]:
    """``file<TAB>digits`` for each image, a few images at a time."""
    if options.beam < 1:
        raise UserError(f"--beam must be at least 1, got {options.beam}")
    for first, paths in numbered_chunks(options.files, 16):
        images = [read_strip(p, run.cfg.data, options.scale) for p in paths]
        results = read(run.model, images, run.device, options.beam)
        if options.plot and first == 1:
            print(f"plot: {plot(run, images[0], results[0], Path(options.plot), Path(paths[0]).name)}",
                  file=sys.stderr)
        yield from (f"{p}\t{''.join(map(str, digits))}" for p, (digits, _) in zip(paths, results))


def plot(run: Run, image: torch.Tensor, result: tuple, out: Path, title: str) -> Path:
    from seqlab.plots import plot_strip

    digits, weights = result
    if run.cfg.model.decoder == "attention":
        return plot_strip(image, weights, [*map(str, digits), "<eos>"], out,
                          f"{title}: {''.join(map(str, digits))} (attention of each digit over the columns)")
    return plot_strip(image, weights.T, ["blank", *map(str, range(10))], out,
                      f"{title}: {''.join(map(str, digits))} (CTC posteriors per column)")


@dataclass
class EvaluateOptions:
    split: Literal["train", "valid", "test"] = option("test", "the source images to draw from")
    lengths: str = option("", "digits per strip, e.g. 7-10 (default: the training lengths)")
    strips: Size = option(2000, "how many strips")
    seed: Seed = option(12345, "seed of the strips")
    beam: Size = option(1, "beam width (1: greedy)")


def evaluate(run: Run, options: EvaluateOptions) -> dict:
    if options.strips < 1:
        raise UserError(f"--strips must be at least 1, got {options.strips}")
    lengths = parse_lengths(options.lengths or run.cfg.data.lengths, "--lengths")
    pool = source_split(run.cfg.data.split_seed)[options.split]
    items = strips(pool, options.strips, lengths, options.seed, run.cfg.data)
    return {**score(run.model, items, run.device, options.beam), "split": options.split,
            "lengths": f"{lengths[0]}-{lengths[1]}"}


def report(run: Run, m: dict) -> str:
    rows = "  ".join(f"{k}: {v['cer']:.4f}/{v['string_accuracy']:.3f}" for k, v in m["per_length"].items())
    return (f"{m['split']} strips of {m['lengths']} digits: CER {m['cer']:.4f}, string accuracy "
            f"{m['string_accuracy']:.4f} over {m['strips']} strips (beam {m['beam']}); per length CER/accuracy: {rows}")


# ------------------------------------------------------------------------ presets
def digits_reader(decoder: str) -> HandwritingConfig:
    """A 2-core CPU preset: conv front end, BiLSTM 128 over columns; at most 20 minutes."""
    cfg = HandwritingConfig()
    cfg.model.decoder = decoder
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.clip = 2e-3, "cosine", 100, 5.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 32, 40, 20.0
    return cfg


PRESETS = {"digits-ctc": lambda: digits_reader("ctc"), "digits-attention": lambda: digits_reader("attention")}

# ---------------------------------------------------------------- seqlab serve
PANEL = upload_panel("Read", "image/png,image/jpeg", ".png", "image")  # the digits; the attention of each digit
# (or CTC's posteriors) over the columns


TASK = Task(
    name="handwriting", help="handwritten digit strips (scikit-learn's digits) to digit strings: CTC or attention",
    data_help="none: the digits ship with scikit-learn (--data.lengths, --data.height, ... shape the strips)",
    config=HandwritingConfig, presets=PRESETS, setup=setup, build=build, predict=predict, evaluate=evaluate,
    report=report, predict_options=PredictOptions, evaluate_options=EvaluateOptions, reads_lines=False,
    panel=PANEL,
)
