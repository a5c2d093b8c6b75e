"""Spoken digits, top to bottom: WAV files -> log-mel / MFCC frames -> a recurrent acoustic model -> digits.

    seqlab train speech --data recordings/ [--preset fsdd-isolated | fsdd-ctc] [--data.split=speaker:jackson]
    seqlab transcribe RUN_DIR a.wav b.wav [--beam 8] [--plot out.png]   digits per file
    seqlab evaluate RUN_DIR [--data DIR] [--beam 8]                     accuracy / digit error rate on the test side

Two modes (``data.mode``): ``isolated`` -- one recording, one digit (many -> one, the
classification pattern on audio) -- and ``connected`` -- 2-7 recordings joined with
silences, transcribed by a CTC model, with no alignment given in training.  The model is
chosen on a validation part held out of the training recordings (``data.valid_fraction``).
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.ctc import edit_distance, greedy_decode, prefix_beam_search
from seqlab.data.batching import epoch_batches, num_batches
from seqlab.data.fsdd import Recording, connected, read_fsdd, split
from seqlab.data.mel import FeatureConfig, Features, spec_augment
from seqlab.data.wav import read_wav
from seqlab.errors import UserError
from seqlab.models.speech import CTCModel, DigitClassifier, SpeechModelConfig
from seqlab.tasks.registry import Task
from seqlab.train import checkpoint, rundir
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, Trainer, resolve_device, training_device


@dataclass
class SpeechDataConfig:
    path: str = ""  # a directory of DIGIT_SPEAKER_TAKE.wav files (FSDD)
    mode: str = "isolated"  # isolated | connected
    split: str = "official"  # official (takes 0-4 are test) | speaker:NAME (NAME is test)
    valid_fraction: float = 0.1  # of the training recordings, held out for model selection
    train_utterances: int = 4000  # connected: built from the training recordings
    valid_utterances: int = 300  # connected: from the held-out validation recordings
    test_utterances: int = 500  # connected: from the test recordings
    seed: int = 7  # recordings held out, utterances built
    spec_augment: bool = True  # frequency and time masks in training


@dataclass
class SpeechConfig:
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: SpeechModelConfig = field(default_factory=SpeechModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


Example = tuple[torch.Tensor, object]  # (features (T, D), digit | digits)


def _check(cfg: SpeechDataConfig) -> None:
    if cfg.mode not in ("isolated", "connected"):
        raise UserError(f"data.mode must be isolated or connected, got {cfg.mode!r}")
    if not 0 < cfg.valid_fraction < 1:
        raise UserError(f"data.valid_fraction must lie in (0, 1), got {cfg.valid_fraction}")
    if min(cfg.train_utterances, cfg.valid_utterances, cfg.test_utterances) < 1:
        raise UserError("data.train_utterances, data.valid_utterances and data.test_utterances must be positive")


def _recordings(cfg: SpeechDataConfig, path: str | None = None) -> dict[str, list[Recording]]:
    """The split's train / valid / test recordings (valid: a seeded part of the training side)."""
    if not (path or cfg.path):
        raise UserError("speech needs a directory of WAV files: --data DIR")
    train, test = split(read_fsdd(path or cfg.path), cfg.split)
    order = list(range(len(train)))
    random.Random(cfg.seed).shuffle(order)
    cut = max(1, round(len(train) * cfg.valid_fraction))
    return {"train": [train[i] for i in order[cut:]], "valid": [train[i] for i in order[:cut]], "test": test}


def examples(cfg: SpeechConfig, feats: Features, recordings: list[Recording], part: str) -> list[Example]:
    """Feature sequences with their targets: one per recording (isolated) or per built utterance (connected)."""
    rate = cfg.features.sample_rate
    if cfg.data.mode == "isolated":
        return [(feats(read_wav(r.path, rate)[0]), r.digit) for r in recordings]
    count = {"train": cfg.data.train_utterances, "valid": cfg.data.valid_utterances, "test": cfg.data.test_utterances}
    seed = cfg.data.seed * 10 + ("train", "valid", "test").index(part)  # a different stream per part
    return [(feats(u.samples), u.digits) for u in connected(recordings, count[part], seed, rate)]


def _pad(batch: list[Example], device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(f) for f, _ in batch])
    x = torch.nn.utils.rnn.pad_sequence([f for f, _ in batch], batch_first=True)  # (B, T, D)
    return x.to(device), lengths.to(device)


class SpeechTask:
    """The trainer's view of the speech task (see :mod:`seqlab.train.trainer`)."""

    def __init__(self, model, cfg: SpeechConfig, train: list[Example], valid: list[Example], device) -> None:
        self.model, self.cfg, self.train, self.valid, self.device = model, cfg, train, valid, device
        self.lengths = [len(f) for f, _ in train]
        self.steps_per_epoch = num_batches(len(train), cfg.train.batch_size)
        self.generator = torch.Generator().manual_seed(cfg.train.seed)  # SpecAugment masks

    def batches(self, position):
        return epoch_batches(self.train, self.lengths, self.cfg.train.batch_size, self.cfg.train.seed, position)

    def train_step(self, batch):
        if self.cfg.data.spec_augment:
            batch = [(spec_augment(f, self.generator), y) for f, y in batch]
        return loss(self.model, batch, self.device), len(batch)

    def evaluate(self) -> dict:
        return score(self.model, self.valid, self.device)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, d: dict) -> None:
        self.generator.set_state(d["generator"])


def _run(model, batch: list[Example], device):
    """(mean loss, raw output) of a batch: logits (isolated) or (log-probabilities, step counts) (connected)."""
    x, lengths = _pad(batch, device)
    if isinstance(model, DigitClassifier):
        logits = model(x, lengths)
        return F.cross_entropy(logits, torch.tensor([y for _, y in batch], device=device)), logits
    log_probs, out_lengths = model(x, lengths)  # (B, T', V)
    targets = torch.tensor([d + 1 for _, digits in batch for d in digits], device=device)  # 0 is the blank
    target_lengths = torch.tensor([len(digits) for _, digits in batch], device=device)
    ctc = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0, zero_infinity=True)
    return ctc, (log_probs, out_lengths)


def loss(model, batch: list[Example], device) -> torch.Tensor:
    return _run(model, batch, device)[0]


def _items(model, raw) -> list[torch.Tensor]:
    """Per item: class probabilities (isolated) or per-step log-probabilities (connected)."""
    if isinstance(model, DigitClassifier):
        return list(raw.softmax(-1).cpu())
    log_probs, steps = raw
    return [lp[:n].cpu() for lp, n in zip(log_probs, steps.tolist())]


@torch.no_grad()
def outputs(model, items: list[Example], device, batch_size: int = 64) -> list[torch.Tensor]:
    """The model's output for each item (no targets needed)."""
    model.eval()
    out = []
    for i in range(0, len(items), batch_size):
        out += _items(model, model(*_pad(items[i : i + batch_size], device)))
    return out


def decode(log_probs: torch.Tensor, beam: int) -> list[int]:
    labels = prefix_beam_search(log_probs, beam) if beam > 1 else greedy_decode(log_probs)
    return [c - 1 for c in labels]


@torch.no_grad()
def score(model, items: list[Example], device, beam: int = 1) -> dict:
    """Isolated: accuracy; connected: digit error rate (edit distance / digits) and utterance accuracy."""
    model.eval()
    total_loss, results = 0.0, []
    for i in range(0, len(items), 64):  # one forward pass per batch gives the loss and the outputs
        batch_loss, raw = _run(model, items[i : i + 64], device)
        total_loss += batch_loss.item() * len(items[i : i + 64]) / len(items)
        results += _items(model, raw)
    if isinstance(model, DigitClassifier):
        accuracy = sum(int(p.argmax()) == y for p, (_, y) in zip(results, items)) / len(items)
        return {"loss": total_loss, "accuracy": accuracy, "selection": 1 - accuracy, "examples": len(items)}
    errors = digits = exact = 0
    for lp, (_, truth) in zip(results, items):
        guess = decode(lp, beam)
        errors, digits, exact = errors + edit_distance(guess, truth), digits + len(truth), exact + (guess == truth)
    der = errors / digits
    return {"loss": total_loss, "digit_error_rate": der, "utterance_accuracy": exact / len(items),
            "selection": der, "examples": len(items), "beam": beam}


# ------------------------------------------------------------------------ recipe
def _model(cfg: SpeechConfig, feats: Features):
    _check(cfg.data)
    cls = DigitClassifier if cfg.data.mode == "isolated" else CTCModel
    return cls(cfg.model, feats.size)


def train(cfg: SpeechConfig, run_dir: Path, resume: bool = False, callbacks=None) -> dict:
    run_dir = Path(run_dir)
    device = training_device(cfg.train)
    checkpoint.seed_everything(cfg.train.seed)
    feats = Features(cfg.features)
    model = _model(cfg, feats).to(device)
    parts = _recordings(cfg.data)
    task = SpeechTask(model, cfg, examples(cfg, feats, parts["train"], "train"),
                      examples(cfg, feats, parts["valid"], "valid"), device)
    trainer = Trainer(task, cfg.train, cfg.optim, run_dir, callbacks)
    if resume:
        trainer.resume()
    else:
        rundir.start(run_dir, "speech", cfg)
    metrics = trainer.fit()
    return {**metrics, "best_selection": trainer.progress.best, "steps": trainer.progress.step}


@dataclass
class SpeechRun:
    cfg: SpeechConfig
    model: torch.nn.Module
    features: Features
    run_dir: Path
    device: torch.device


def load_run(run_dir: str | Path, device: str = "auto") -> SpeechRun:
    run_dir = Path(run_dir)
    cfg = rundir.read_config(run_dir, "speech", SpeechConfig())
    feats = Features(cfg.features)
    dev = resolve_device(device)
    model = _model(cfg, feats).to(dev)
    checkpoint.load_weights(rundir.trained_checkpoint(run_dir), model)
    return SpeechRun(cfg, model.eval(), feats, run_dir, dev)


def transcribe(run: SpeechRun, lines: list[str], options) -> list[str]:
    """``file<TAB>digit<TAB>probability`` (isolated) or ``file<TAB>digits`` (connected) for each WAV file."""
    items = [(run.features(read_wav(path, run.cfg.features.sample_rate)[0]), 0 if run.cfg.data.mode == "isolated"
              else []) for path in options.files]
    results = outputs(run.model, items, run.device)
    if options.plot:
        _plot(run, options.files[0], items[0][0], results[0], Path(options.plot))
    if run.cfg.data.mode == "isolated":
        return [f"{path}\t{int(p.argmax())}\t{float(p.max()):.4f}" for path, p in zip(options.files, results)]
    return [f"{path}\t{''.join(map(str, decode(lp, options.beam)))}" for path, lp in zip(options.files, results)]


def _plot(run: SpeechRun, path: str, features: torch.Tensor, result: torch.Tensor, out: Path) -> None:
    import sys

    from seqlab.plots import plot_speech

    log_mel = run.features.log_mel(read_wav(path, run.cfg.features.sample_rate)[0])
    probs = result.exp() if run.cfg.data.mode == "connected" else None
    print(f"plot: {plot_speech(log_mel, probs, ['-', *map(str, range(10))], out, Path(path).name)}", file=sys.stderr)


def evaluate(run: SpeechRun, options) -> dict:
    parts = _recordings(run.cfg.data, options.data)
    items = examples(run.cfg, run.features, parts[options.split], options.split)
    return {**score(run.model, items, run.device, options.beam), "split": options.split}


def _predict_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="WAV files (any sample rate; resampled to the model's)")
    p.add_argument("--beam", type=int, default=1, help="connected digits: prefix beam width (1: greedy)")
    p.add_argument("--plot", help="PNG of the first file: log-mel spectrogram (and CTC posteriors)")


def _evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="FSDD directory (default: the run's)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--beam", type=int, default=1, help="connected digits: prefix beam width (1: greedy)")


def _report(m: dict) -> str:
    where = f"{m['split']}: " if "split" in m else "valid "
    if "accuracy" in m:
        return f"{where}accuracy {m['accuracy']:.4f} over {m['examples']} recordings (loss {m['loss']:.4f})"
    return (f"{where}digit error rate {m['digit_error_rate']:.4f}, utterance accuracy {m['utterance_accuracy']:.4f} "
            f"over {m['examples']} utterances (beam {m['beam']}, CTC loss {m['loss']:.4f})")


# ------------------------------------------------------------------------ presets
def fsdd(mode: str) -> SpeechConfig:
    """FSDD on a 2-core CPU: a bidirectional GRU over 40 log-mel bands."""
    cfg = SpeechConfig()
    cfg.data.mode = mode
    m = cfg.model
    m.cell, m.bidirectional, m.num_layers, m.hidden_size, m.dropout, m.pooling = "gru", True, 2, 128, 0.2, "mean"
    m.stack = 1 if mode == "isolated" else 2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.clip = 2e-3, "cosine", 50, 5.0
    cfg.train.batch_size = 32
    # isolated: 40 epochs, about 8 CPU minutes; connected (4,000 utterances): 16 epochs, about 25 minutes
    cfg.train.epochs, cfg.train.max_minutes = (40, 15.0) if mode == "isolated" else (16, 30.0)
    return cfg


PRESETS = {"fsdd-isolated": lambda: fsdd("isolated"), "fsdd-ctc": lambda: fsdd("connected")}

TASK = Task(
    name="speech", help="spoken digits from WAV files: isolated (a classifier) or connected (CTC)",
    data_help="a directory of DIGIT_SPEAKER_TAKE.wav files (the Free Spoken Digit Dataset)",
    config=SpeechConfig, presets=PRESETS, train=train, load=load_run, predict=transcribe, evaluate=evaluate,
    report=_report, predict_options=_predict_options, evaluate_options=_evaluate_options, reads_lines=False,
    command="transcribe",
)
