"""Spoken digits, top to bottom: WAV files -> log-mel / MFCC frames -> a recurrent acoustic model -> digits.

    seqlab train speech --data recordings/ [--preset fsdd-isolated | fsdd-ctc | fsdd-frames]
    seqlab transcribe RUN_DIR a.wav b.wav [--beam 8] [--plot out.png]   digits per file
    seqlab evaluate RUN_DIR [--data DIR] [--beam 8]                     accuracy / digit error rate / frame scores

Three modes (``data.mode``): ``isolated`` -- one recording, one digit (many -> one, the
classification pattern on audio); ``connected`` -- 2-7 recordings joined with silences,
transcribed by a CTC model, with no alignment given in training; ``frames`` -- the same
connected utterances with every frame labelled silence or the digit being spoken
(synchronous many -> many; the labels come from how each utterance was assembled, see
:func:`seqlab.data.fsdd.frame_labels`).  The model is chosen on a validation part held out
of the training recordings (``data.valid_fraction``).
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import torch

from seqlab.data.augment import add_noise, change_speed, draw
from seqlab.data.fsdd import Recording, connected, frame_labels, read_fsdd, split
from seqlab.data.lines import numbered_chunks
from seqlab.data.mel import FeatureConfig, Features, spec_augment
from seqlab.data.wav import read_wav
from seqlab.errors import UserError
from seqlab.fields import Fraction, NonNegative, Positive, Range, Seed, Size
from seqlab.metrics.segments import segments
from seqlab.models.speech import CTCModel, DigitClassifier, FrameTagger, SpeechModelConfig
from seqlab.tasks.panel import upload_panel
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import BucketedTask, chunks
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig

MODELS = {"isolated": DigitClassifier, "connected": CTCModel, "frames": FrameTagger}  # data.mode -> the model


@dataclass
class SpeechDataConfig:
    path: str = ""  # a directory of DIGIT_SPEAKER_TAKE.wav files (FSDD)
    mode: Literal["isolated", "connected", "frames"] = "isolated"
    split: str = "official"  # official (takes 0-4 are test) | speaker:NAME (NAME is test)
    valid_fraction: Fraction = 0.1  # of the training recordings, held out for model selection
    train_utterances: Size = 4000  # connected: built from the training recordings
    valid_utterances: Size = 300  # connected: from the held-out validation recordings
    test_utterances: Size = 500  # connected: from the test recordings
    seed: Seed = 7  # recordings held out, utterances built
    spec_augment: bool = True  # frequency and time masks in training
    # waveform augmentations in training (seqlab.data.augment), drawn afresh for every example:
    speed: Annotated[float, Range(0, 0.5, high_open=True)] = 0.0  # speed perturbation by a factor from [1 - speed, 1 + speed] (Ko et al. 2015: 0.1)
    vtlp: Annotated[float, Range(0, 0.5, high_open=True)] = 0.0  # vocal-tract-length perturbation, warp factor from [1 - vtlp, 1 + vtlp] (Jaitly & Hinton: 0.1)
    noise_snr_db: Annotated[float, Range(0, 200)] = 0.0  # > 0: white noise at an SNR drawn from [noise_snr_db, noise_snr_db + 20] dB
    silence_db: NonNegative = 30.0  # frames: a recording's frames this far below its loudest frame, at its ends, are silence


@dataclass
class SpeechConfig:
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: SpeechModelConfig = field(default_factory=SpeechModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


Example = tuple[torch.Tensor, object]  # (features (T, D), digit | digits)


def _check(cfg: SpeechDataConfig) -> None:
    """What the fields' declared ranges cannot say: how two settings go together."""
    if cfg.speed and cfg.mode == "frames":
        raise UserError("data.speed is not for data.mode=frames: the frame labels are tied to the recordings' "
                        "lengths (data.vtlp and data.noise_snr_db keep them)")


def waveform_augmented(cfg: SpeechDataConfig) -> bool:
    return bool(cfg.speed or cfg.vtlp or cfg.noise_snr_db)


def split_recordings(cfg: SpeechDataConfig, path: str | None = None) -> dict[str, list[Recording]]:
    """The split's train / valid / test recordings (valid: a seeded part of the training side)."""
    if not (path or cfg.path):
        raise UserError("speech needs a directory of WAV files: --data DIR")
    train, test = split(read_fsdd(path or cfg.path), cfg.split)
    order = list(range(len(train)))
    random.Random(cfg.seed).shuffle(order)
    cut = max(1, round(len(train) * cfg.valid_fraction))
    return {"train": [train[i] for i in order[cut:]], "valid": [train[i] for i in order[:cut]], "test": test}


def examples(cfg: SpeechConfig, feats: Features, recordings: list[Recording], part: str,
             raw: bool = False) -> list[Example]:
    """Feature sequences with their targets: one per recording (isolated) or per built utterance (connected:
    its digits; frames: a label per frame).  ``raw``: the samples instead of the features (for training with
    waveform augmentations, which make the features afresh for every batch)."""
    rate = cfg.features.sample_rate
    made = (lambda x: x) if raw else feats
    if cfg.data.mode == "isolated":
        return [(made(read_wav(r.path, rate)[0]), r.digit) for r in recordings]
    count = {"train": cfg.data.train_utterances, "valid": cfg.data.valid_utterances, "test": cfg.data.test_utterances}
    seed = cfg.data.seed * 10 + ("train", "valid", "test").index(part)  # a different stream per part
    out = []
    for u in connected(recordings, count[part], seed, rate):
        target = u.digits if cfg.data.mode == "connected" else \
            frame_labels(u, feats.frames(len(u.samples)), cfg.features.hop, cfg.features.win, cfg.data.silence_db)
        out.append((made(u.samples), target))
    return out


def _pad(batch: list[Example], device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(f) for f, _ in batch])
    x = torch.nn.utils.rnn.pad_sequence([f for f, _ in batch], batch_first=True)  # (B, T, D)
    return x.to(device), lengths.to(device)


class SpeechTask(BucketedTask):
    """The trainer's view of the speech task (see :mod:`seqlab.train.trainer`)."""

    def __init__(self, model, cfg: SpeechConfig, train: list[Example], valid: list[Example], device,
                 features: Features | None = None) -> None:
        """``features``: ``train`` holds samples, made into features by it, augmented, at every step."""
        self.model, self.cfg, self.valid, self.device = model, cfg, valid, device
        self.features, self.metric = features, model.metric
        self.examples(train, [len(f) for f, _ in train])
        self.generator = torch.Generator().manual_seed(cfg.train.seed)  # SpecAugment masks, waveform augmentations

    def augmented(self, x: torch.Tensor) -> torch.Tensor:
        """The features of samples x after this step's draw of speed, noise and VTLP."""
        d, g = self.cfg.data, self.generator
        if d.speed:
            x = change_speed(x, draw(g, 1 - d.speed, 1 + d.speed))
        if d.noise_snr_db:
            x = add_noise(x, draw(g, d.noise_snr_db, d.noise_snr_db + 20), g)
        return self.features(x, draw(g, 1 - d.vtlp, 1 + d.vtlp) if d.vtlp else 1.0)

    def train_step(self, batch):
        if self.features is not None:
            batch = [(self.augmented(x), y) for x, y in batch]
        if self.cfg.data.spec_augment:
            batch = [(spec_augment(f, self.generator), y) for f, y in batch]
        return self.model.loss(*_pad(batch, self.device), [y for _, y in batch])[0], len(batch)

    def evaluate(self) -> dict:
        return score(self.model, self.valid, self.device)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, d: dict) -> None:
        self.generator.set_state(d["generator"])


@torch.no_grad()
def outputs(model, items: list[Example], device) -> list[torch.Tensor]:
    """The model's output for each item (no targets needed)."""
    model.eval()
    out = []
    for batch in chunks(items):
        out += model.outputs(model(*_pad(batch, device)))
    return out


@torch.no_grad()
def score(model, items: list[Example], device, beam: int = 1) -> dict:
    """The model's own figures (isolated: accuracy; connected: digit error rate, utterance accuracy) and the loss."""
    model.eval()
    total_loss, results = 0.0, []
    for batch in chunks(items):  # one forward pass per batch gives the loss and the outputs
        batch_loss, raw = model.loss(*_pad(batch, device), [y for _, y in batch])
        total_loss += batch_loss.item() * len(batch) / len(items)
        results += model.outputs(raw)
    return {"loss": total_loss, **model.score(results, [y for _, y in items], beam), "examples": len(items)}


# ------------------------------------------------------------------------ setup / build
def _model(cfg: SpeechConfig, feats: Features):
    _check(cfg.data)
    if cfg.data.mode == "frames":
        return FrameTagger(cfg.model, feats.size, frame_seconds=cfg.features.hop / cfg.features.sample_rate)
    return MODELS[cfg.data.mode](cfg.model, feats.size)


def setup(cfg: SpeechConfig, resume_dir: Path | None, device) -> SpeechTask:
    feats = Features(cfg.features)
    model = _model(cfg, feats).to(device)
    parts = split_recordings(cfg.data)
    raw = waveform_augmented(cfg.data)  # then the training features are made afresh at every step
    return SpeechTask(model, cfg, examples(cfg, feats, parts["train"], "train", raw),
                      examples(cfg, feats, parts["valid"], "valid"), device, feats if raw else None)


@dataclass
class SpeechRun(Run):
    features: Features


def build(cfg: SpeechConfig, run_dir: Path, device) -> SpeechRun:
    feats = Features(cfg.features)
    return SpeechRun(cfg, _model(cfg, feats).to(device), run_dir, device, feats)


@dataclass
class PredictOptions:
    files: list[str] = field(metadata={"help": "WAV files (any sample rate; resampled to the model's)",
                                       "positional": True})
    beam: Size = option(1, "connected digits: prefix beam width (1: greedy)")
    plot: str | None = option(None, "PNG of the first file: log-mel spectrogram (and CTC posteriors)")
    max_seconds: Positive = option(600.0, "refuse a recording longer than this, in seconds (memory grows with "
                                       "the length: 523 MB peak for 600 s with fsdd-ctc)")


def transcribe(run: SpeechRun, lines: Iterable[str], options: PredictOptions) -> Iterator[str]:
    """``file<TAB>digit<TAB>probability`` (isolated), ``file<TAB>digits`` (connected) or
    ``file<TAB>digits<TAB>digit@start-end ...`` (frames, seconds) for each WAV file, a few files at a time."""
    if options.max_seconds <= 0:
        raise UserError(f"--max-seconds must be positive, got {options.max_seconds}")
    for first, paths in numbered_chunks(options.files, 16):
        items = [(run.features(samples(run.cfg.features, path, options.max_seconds)), None) for path in paths]
        results = outputs(run.model, items, run.device)
        if options.plot and first == 1:
            _plot(run, paths[0], results[0], Path(options.plot))
        yield from (f"{path}\t{run.model.describe(r, options.beam)}" for path, r in zip(paths, results))


def _plot(run: SpeechRun, path: str, result: torch.Tensor, out: Path) -> None:
    import sys

    from seqlab.plots import plot_speech

    log_mel = run.features.log_mel(samples(run.cfg.features, path))
    probs = run.model.posteriors(result)
    found = segments(run.model.labels(result)) if isinstance(run.model, FrameTagger) else None
    symbols = run.model.symbols if probs is not None else []
    print(f"plot: {plot_speech(log_mel, probs, symbols, out, Path(path).name, found)}", file=sys.stderr)


def samples(cfg: FeatureConfig, path: str, max_seconds: float | None = None) -> torch.Tensor:
    """The samples of a WAV file at the model's rate: resampled, or (features.resample=false) refused if another."""
    x, rate = read_wav(path, cfg.sample_rate if cfg.resample else None, max_seconds)
    if rate != cfg.sample_rate:
        raise UserError(f"{path}: sampled at {rate} Hz, the model at {cfg.sample_rate} Hz, and features.resample "
                        "is off (retrain with features.resample=true, or resample the file)")
    return x


@dataclass
class EvaluateOptions:
    data: str | None = option(None, "FSDD directory (default: the run's)")
    split: Literal["train", "valid", "test"] = option("test", "the part to score")
    beam: Size = option(1, "connected digits: prefix beam width (1: greedy)")


def evaluate(run: SpeechRun, options: EvaluateOptions) -> dict:
    parts = split_recordings(run.cfg.data, options.data)
    items = examples(run.cfg, run.features, parts[options.split], options.split)
    return {**score(run.model, items, run.device, options.beam), "split": options.split}


def report(run: SpeechRun, m: dict) -> str:
    if "accuracy" in m:
        return f"{m['split']}: accuracy {m['accuracy']:.4f} over {m['examples']} recordings (loss {m['loss']:.4f})"
    if "frame_accuracy" in m:
        return (f"{m['split']}: frame accuracy {m['frame_accuracy']:.4f}; segments (label and both ends within "
                f"{m['tolerance']} frames) P {m['segment_precision']:.4f} R {m['segment_recall']:.4f} "
                f"F1 {m['segment_f1']:.4f} over {m['examples']} utterances ({m['segments']} digits)")
    return (f"{m['split']}: digit error rate {m['digit_error_rate']:.4f}, utterance accuracy "
            f"{m['utterance_accuracy']:.4f} over {m['examples']} utterances (beam {m['beam']}, CTC loss {m['loss']:.4f})")


# ------------------------------------------------------------------------ presets
def fsdd(mode: str) -> SpeechConfig:
    """FSDD on a 2-core CPU: a bidirectional GRU over 40 log-mel bands, SpecAugment.  The waveform augmentations
    (data.speed, data.vtlp, data.noise_snr_db) are off: with them isolated digits came out worse (official split
    94.7% against 97.0%, speaker-held-out mean 70.3% against 72.0%; benchmarks/results/fsdd_augment.json)."""
    cfg = SpeechConfig()
    cfg.data.mode = mode
    m = cfg.model
    m.cell, m.bidirectional, m.num_layers, m.hidden_size, m.dropout, m.pooling = "gru", True, 2, 128, 0.2, "mean"
    m.stack = 1 if mode == "isolated" else 2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.clip = 2e-3, "cosine", 50, 5.0
    cfg.train.batch_size = 32
    # isolated: 40 epochs, about 8 CPU minutes; connected (4,000 utterances): 16 epochs, about 25 minutes
    cfg.train.epochs, cfg.train.max_minutes = (40, 15.0) if mode == "isolated" else (16, 30.0)
    if mode == "frames":  # one step per frame (no stacking); 2,000 utterances, at most 10 minutes
        m.stack, cfg.data.train_utterances, cfg.train.epochs, cfg.train.max_minutes = 1, 2000, 12, 10.0
    return cfg


PRESETS = {"fsdd-isolated": lambda: fsdd("isolated"), "fsdd-ctc": lambda: fsdd("connected"),
           "fsdd-frames": lambda: fsdd("frames")}

# ---------------------------------------------------------------- seqlab serve
PANEL = upload_panel("Transcribe", ".wav,audio/wav", ".wav", "WAV recording")  # the digits; the spectrogram with
# the CTC posteriors (or the frame labels)


TASK = Task(
    name="speech", help="spoken digits from WAV files: isolated (a classifier), connected (CTC) or frame labels",
    data_help="a directory of DIGIT_SPEAKER_TAKE.wav files (the Free Spoken Digit Dataset)",
    config=SpeechConfig, presets=PRESETS, setup=setup, build=build, predict=transcribe, evaluate=evaluate,
    report=report, predict_options=PredictOptions, evaluate_options=EvaluateOptions, reads_lines=False,
    command="transcribe",
    panel=PANEL,
)
