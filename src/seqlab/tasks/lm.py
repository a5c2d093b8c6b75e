"""Language modelling, top to bottom: setup -> train -> evaluate -> generate.

Truncated BPTT over contiguous streams (:mod:`seqlab.data.stream`): the hidden state
is carried from window to window, detached, and reset at every epoch start.  The
loss is the mean cross-entropy in nats per token; perplexity = exp(loss) and bits
per token = loss / ln 2 (bits per character for a character model).
"""
from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

import seqlab.nn as snn
from seqlab.data import tokenfile
from seqlab.data.corpus import DataConfig, bundled_corpus, load_corpus
from seqlab.data.stream import batchify, num_windows, windows
from seqlab.data.tokens import encode_prime, vocab_from_json
from seqlab.errors import UserError
from seqlab.export import Exportable
from seqlab.fields import Fraction, NonNegative, Size
from seqlab.generate import GenerateOptions, SampleConfig, SamplingOptions, generate
from seqlab.models.lm import ModelConfig, build_lm
from seqlab.tasks.panel import MAX_LENGTH, Panel, number, sampling_boxes, sampling_of, streamed, text_box, text_field
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Command, Task, option
from seqlab.tasks.shared import read_vocab, recurrent_export, write_vocab
from seqlab.train import distributed
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, TrainingTask


@dataclass
class LMConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


class LMTask(TrainingTask):
    """The trainer's view of language modelling (see :mod:`seqlab.train.trainer`)."""

    shards_itself = True

    def __init__(self, model, corpus, cfg: TrainConfig, device: torch.device) -> None:
        self.model, self.bptt, self.device = model, cfg.bptt, device
        if cfg.bptt > getattr(model, "max_len", cfg.bptt):
            raise UserError(f"train.bptt={cfg.bptt} exceeds the Transformer's context of {model.max_len} positions")
        if cfg.batch_size % distributed.world():
            raise UserError(f"train.batch_size={cfg.batch_size} (the global batch) must be divisible by the "
                            f"{distributed.world()} processes: each carries the state of its own streams")
        streams = batchify(corpus.train, cfg.batch_size, cfg.bptt, "train")  # a view of the memory-mapped token file
        self.train_streams = distributed.shard(streams, contiguous=True)  # this rank's streams: it reads only those
        self.vocab = corpus.vocab
        self.valid_streams = batchify(corpus.valid, cfg.eval_batch_size, 1, "valid")
        self.steps_per_epoch = num_windows(self.train_streams, cfg.bptt)
        self.state = None  # the hidden state carried between windows

    def batches(self, position):
        epoch, offset = position or (0, 0)
        last = self.train_streams.shape[1] - 1
        while True:
            if offset == 0:
                self.state = None  # each epoch starts from a zero state
            for i, batch in self.windows(offset):
                yield ((epoch, i + self.bptt) if i + self.bptt < last else (epoch + 1, 0)), batch
            epoch, offset = epoch + 1, 0

    def windows(self, offset: int):
        """(start, batch) of each training window from ``offset`` on."""
        for i, x, y in windows(self.train_streams, self.bptt, offset, self.device):
            yield i, (x, y)

    def train_step(self, batch):
        x, y = batch
        loss, state = self.model.loss(x, y, self.state)
        self.state = snn.detach_state(state)
        return loss, x.numel()

    def evaluate(self, streams=None) -> dict:
        return evaluate_streams(self.model, self.valid_streams if streams is None else streams, self.bptt)

    def state_dict(self) -> dict:
        return {"state": self.state}

    def load_state_dict(self, d: dict) -> None:
        state = d["state"]
        self.state = None if state is None else snn.detach_state(
            state.to(self.device) if isinstance(state, torch.Tensor) else tuple(s.to(self.device) for s in state)
        )

    def save(self, run_dir: Path) -> None:
        write_vocab(run_dir, tokens=self.vocab)


@torch.no_grad()
def evaluate_streams(model, streams, bptt: int) -> dict:
    model.eval()
    total, count, state = 0.0, 0, None
    for _, x, y in windows(streams, bptt, device=next(model.parameters()).device):
        loss, state = model.loss(x, y, state)
        total, count = total + loss.item() * y.numel(), count + y.numel()
    loss = total / count
    return {"loss": loss, "ppl": math.exp(min(loss, 700)), "bits_per_token": loss / math.log(2), "tokens": count}


# ------------------------------------------------------------------------ setup / build
def setup(cfg: LMConfig, resume_dir: Path | None, device) -> LMTask:
    corpus = load_corpus(cfg.data, read_lm_vocab(resume_dir) if resume_dir else None, cfg.train.progress)
    return LMTask(build_lm(cfg.model, len(corpus.vocab)).to(device), corpus, cfg.train, device)


def read_lm_vocab(run_dir: Path):
    """The token vocabulary of an LM run."""
    parts = read_vocab(run_dir)
    return vocab_from_json(parts.get("tokens", parts))  # runs of before 2026-12-04 hold the vocabulary alone


@dataclass
class LMRun(Run):
    vocab: object


def build(cfg: LMConfig, run_dir: Path, device) -> LMRun:
    vocab = read_lm_vocab(run_dir)
    return LMRun(cfg, build_lm(cfg.model, len(vocab)).to(device), run_dir, device, vocab)


def evaluate_run(run: LMRun, path: str, batch_size: int = 10) -> dict:
    """Loss, perplexity and bits per token of a trained model on a text file."""
    ids = tokenfile.prepare(path, run.vocab, what="evaluation file").tokens
    return evaluate_streams(run.model, batchify(ids, batch_size, 1, f"evaluation file {path}"), run.cfg.train.bptt)


def sample(run_dir, prime: str, length: int, sampling: SampleConfig, on_text=None, device: str = "auto") -> str:
    """Continue ``prime`` by ``length`` tokens; returns the new text.

    ``on_text`` receives the prime once it is known to be encodable, then the new text as
    it is produced."""
    return continue_text(TASK.load(run_dir, device), prime, length, sampling, on_text)


def continue_text(run: LMRun, prime: str, length: int, sampling: SampleConfig, on_text=None) -> str:
    """:func:`sample` for a run already loaded."""
    vocab, model = run.vocab, run.model
    if length < 1:
        raise UserError(f"--length must be at least 1, got {length}")
    if not prime:
        raise UserError("--prime must not be empty")
    ids = encode_prime(vocab, prime)
    shown = vocab.decode(ids)  # decoding prime + output keeps word spacing right in the stream
    if on_text is not None:
        on_text(prime)

    def stream(new_ids):
        nonlocal shown
        text = vocab.decode(ids + new_ids)
        if on_text is not None:
            on_text(text[len(shown):])
        shown = text

    out = generate(model, ids, length, sampling, on_tokens=stream if on_text is not None else None)
    return vocab.decode(out)


# ------------------------------------------------------------------------ presets
# char-lstm-small: the demo, a character LSTM that learns in about two CPU minutes;
# shakespeare-char: the best character model we reach within 30 minutes on a 2-core CPU;
# shakespeare-transformer: a decoder-only Transformer with the same data and budget;
# shakespeare-mingru: a minGRU stack (parallel scan in training) with the same data and budget;
# ptb-small / ptb-medium: Zaremba et al. 2014.  Zaremba et al. sum the loss over the T
# steps of a window; seqlab's loss is the mean over all tokens, T times smaller.  Plain
# SGD with clipping is exactly equivalent when lr is multiplied by T and the clip
# threshold divided by T: lr_sum * clip(g_sum, 5) = (T * lr_sum) * clip(g_mean, 5 / T).
def char_lstm_small() -> LMConfig:
    cfg = LMConfig()
    cfg.data.path, cfg.data.level = bundled_corpus(), "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers = 64, 256, 2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.min_lr = 3e-3, "cosine", 50, 3e-4
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps = 32, 64, 1200
    cfg.train.max_minutes, cfg.train.eval_every, cfg.train.eval_batch_size = 2.0, 200, 16
    return cfg


def shakespeare_char() -> LMConfig:
    cfg = LMConfig()
    cfg.data.level = "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers = 128, 512, 2
    cfg.model.dropout = 0.2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.min_lr = 2e-3, "cosine", 100, 1e-4
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps = 32, 128, 2500  # ~30 min at ~6k chars/s
    cfg.train.max_minutes, cfg.train.eval_every, cfg.train.eval_batch_size = 30.0, 250, 32
    return cfg


def ptb_small() -> LMConfig:
    cfg = LMConfig()
    cfg.data.level = "word"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.init_range = 200, 200, 2, 0.1
    cfg.optim.name, cfg.optim.lr, cfg.optim.clip = "sgd", 1.0 * 20, 5.0 / 20  # T = 20: see the module docstring
    cfg.optim.schedule, cfg.optim.decay, cfg.optim.decay_start = "step", 0.5, 4
    cfg.train.batch_size, cfg.train.bptt, cfg.train.epochs, cfg.train.eval_batch_size = 20, 20, 13, 20
    return cfg


def ptb_medium() -> LMConfig:
    cfg = ptb_small()
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.dropout, cfg.model.init_range = 650, 650, 0.5, 0.05
    cfg.optim.decay, cfg.optim.decay_start = 1 / 1.2, 6
    cfg.optim.lr, cfg.optim.clip = 1.0 * 35, 5.0 / 35  # T = 35
    cfg.train.bptt, cfg.train.epochs = 35, 39
    return cfg


def shakespeare_transformer() -> LMConfig:
    """A decoder-only Transformer with the shakespeare-char data and time budget, for comparison."""
    cfg = shakespeare_char()
    cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.num_heads = "transformer", 256, 4, 4
    cfg.model.dropout, cfg.optim.lr, cfg.optim.warmup_steps = 0.1, 1e-3, 100
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps = 32, 128, 1400  # ~30 min at ~3.5k chars/s
    return cfg


def shakespeare_mingru() -> LMConfig:
    """A minGRU stack (Feng et al. 2024) with the shakespeare-char data and time budget, for comparison."""
    cfg = shakespeare_char()
    cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers = "min_gru", 512, 3
    cfg.train.max_steps = 3000  # or the 30-minute cap, whichever comes first
    return cfg


PRESETS = {
    "char-lstm-small": char_lstm_small,
    "shakespeare-char": shakespeare_char,
    "shakespeare-transformer": shakespeare_transformer,
    "shakespeare-mingru": shakespeare_mingru,
    "ptb-small": ptb_small,
    "ptb-medium": ptb_medium,
}


# ---------------------------------------------------------------- task interface
@dataclass
class PredictOptions(SamplingOptions):
    length: Size = option(200, "tokens to generate after each input line")


def predict(run: LMRun, lines: Iterable[str], options: PredictOptions) -> Iterator[str]:
    """Each input line is a prime; its continuation, newlines written as \\n, one per line (streamed)."""
    return (continue_text(run, line, options.length, options.sampling()).replace("\n", "\\n") for line in lines)


@dataclass
class EvaluateOptions:
    data: str = option(help="a text file")
    batch_size: Size = option(10, "streams the file is cut into")


def report(run: LMRun, m: dict) -> str:
    return (f"loss {m['loss']:.4f} nats/token  perplexity {m['ppl']:.2f}  bits/token {m['bits_per_token']:.4f}  "
            f"({m['tokens']} tokens)")


class _LMGraph(torch.nn.Module):
    """The exported LM: tokens (B, T) and the carried state in; logits (B, T, V) and the new state out."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens, *state):
        logits, new = self.model(tokens, state if len(state) > 1 else state[0])
        return (logits, *new) if isinstance(new, tuple) else (logits, new)


def export(run: LMRun) -> Exportable:
    """seqlab export: a recurrent LM with its state as input and output, so that generation can carry it."""
    rnn, vocab = getattr(run.model, "rnn", None), run.vocab
    states = ("h", "c") if run.cfg.model.cell == "lstm" else ("h",)

    def batch(generator, shape: tuple[int, int]) -> dict:
        size, steps = shape
        x = {"tokens": torch.randint(len(vocab), (size, steps), generator=generator)}
        for name in states:
            x[f"{name}0"] = 0.1 * torch.randn(rnn.num_layers, size, rnn.hidden_size, generator=generator)
        return x

    dynamic = {"tokens": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}}
    dynamic.update({f"{n}{k}": {1: "batch"} for n in states for k in ("0", "_n")})
    return recurrent_export(
        run, "LMs", _LMGraph(run.model), batch, ((2, 5), (3, 11)), ["logits"] + [f"{n}_n" for n in states], dynamic,
        {"read": "tokens: ids in vocab.json (its 'tokens'); h0/c0: zeros to start, then the h_n/c_n of the previous "
                 "call; logits: next-token scores (softmax for probabilities)"},
        [run.run_dir / "config.json", run.run_dir / "vocab.json"])


# ---------------------------------------------------------------- seqlab generate, seqlab demo
def generate_text(run_dir, options: GenerateOptions, device: str, write) -> None:
    """``seqlab generate RUN_DIR --prime TEXT``: the prime and its continuation, written as they come."""
    if options.prime is None or options.condition is not None:
        raise UserError(f"{run_dir} is an lm run: give --prime (a --condition needs a conditional_lm run)")
    sample(run_dir, options.prime, options.length, options.sampling(), on_text=write, device=device)
    write("\n")


@dataclass
class DemoOptions:
    minutes: NonNegative = option(2.0, "training time")
    run_dir: str = option("runs/demo", "where the run goes (replaced)")


def demo(options: DemoOptions) -> None:
    """``seqlab demo``: a character LSTM on the bundled tiny Shakespeare, a sample, the plots."""
    from seqlab import plots
    from seqlab.tasks.gradients import gradient_flow_plot

    cfg, run_dir = char_lstm_small(), Path(options.run_dir)
    if not options.run_dir.strip() or (run_dir.is_dir() and any(run_dir.iterdir())
                                       and not (run_dir / "config.json").is_file()):
        raise UserError(f"--run-dir {options.run_dir!r} is not a run directory, and the demo replaces its run "
                        "directory: give a new path (or an earlier demo's)")
    cfg.train.max_minutes = options.minutes
    shutil.rmtree(run_dir, ignore_errors=True)
    print(f"Training a character LSTM ({cfg.model.num_layers}x{cfg.model.hidden_size}) on the bundled tiny "
          f"Shakespeare for up to {options.minutes:g} minutes...")
    metrics = TASK.train(cfg, run_dir)
    print(f"valid loss {metrics['loss']:.3f} nats/char ({metrics['bits_per_token']:.3f} bits/char) "
          f"after {metrics['steps']} steps\n\n--- sample (temperature 0.8) ---")
    write = lambda s: (sys.stdout.write(s), sys.stdout.flush())
    sample(run_dir, "ROMEO:", 400, SampleConfig(0.8, 0, 1.0, 0), on_text=write)
    print("\n--- end of sample ---\n")
    print(f"loss curves:   {plots.plot_losses(run_dir)}")
    print(f"gradient flow: {gradient_flow_plot(None, 100, run_dir / 'gradient_flow.png')}")
    print(f"run directory: {run_dir}  (try: seqlab generate {run_dir} --prime 'JULIET:' --length 300)")


@dataclass
class PrepareOptions:
    data: str = option(help="a text file (split by --split) or a directory with train/valid[/test] files")
    level: Literal["char", "word", "bpe"] = option("char", "the tokens (as data.level)")
    split: Fraction = option(0.9, "the training fraction of a single file (as data.split)")
    bpe_vocab_size: Size = option(2000, "level=bpe: the subword vocabulary size (as data.bpe_vocab_size)")
    test_path: str = option("", "a test file too (as data.test_path)")


def prepare(options: PrepareOptions) -> None:
    """``seqlab prepare lm``: what ``seqlab train lm`` does first, alone -- every split tokenised once into a
    token file in the cache (the vocabulary built from the training split), which later runs memory-map."""
    cfg = DataConfig(options.data, options.level, options.split, options.bpe_vocab_size, options.test_path)
    corpus = load_corpus(cfg)
    print(f"vocabulary: {len(corpus.vocab):,} {cfg.level} tokens; cache {tokenfile.cache_dir()}")
    for split in ("train", "valid", "test"):
        ids = getattr(corpus, split)
        if ids is not None:
            print(f"{split:5}  {len(ids):>14,} tokens  {ids.dtype}  {corpus.files[split]}  -> {getattr(ids, 'filename', '')}")


# ---------------------------------------------------------------- seqlab serve
def _panel_stream(served, fields: dict) -> Iterator[str]:
    """The prompt, then the new text as it is generated; the first item is checked before the page sees any."""
    text_field(fields, "prompt", "the prompt")  # checked; the prompt itself keeps its spaces
    prompt, sampling = fields["prompt"], sampling_of(fields)
    length = number(fields, "length", int, 200, 1, MAX_LENGTH)
    return streamed(lambda on_text: continue_text(served.run, prompt, length, sampling, on_text), served.lock)


PANEL = Panel("Generate", lambda served: [text_box("prompt", "text to continue"), *sampling_boxes()],
              stream=_panel_stream)


TASK = Task(
    name="lm", help="a language model",
    data_help="a text file (90/10 split) or a directory with train/valid[/test] files",
    config=LMConfig, presets=PRESETS, setup=setup, build=build,
    predict=predict, predict_options=PredictOptions,
    evaluate=lambda run, o: evaluate_run(run, o.data, o.batch_size), evaluate_options=EvaluateOptions,
    report=report, export=export,
    generate=generate_text, panel=PANEL,
    commands={"demo": Command("train a character LSTM on the bundled Shakespeare, then sample", DemoOptions, demo),
              "lm": Command("tokenise a language-model corpus once into memory-mapped token files (what train lm "
                            "reads; later runs reuse them)", PrepareOptions, prepare, group="prepare")},
)
