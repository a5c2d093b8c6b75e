"""Character language models in both directions, pretrained on raw text to give taggers contextual word vectors.

    seqlab train charlm --data FILE [FILE ...] [--preset charlm-english]
    seqlab evaluate RUN_DIR --data FILE        bits per character of each direction
    seqlab predict RUN_DIR < lines.txt         each line's bits per character, forward and backward
    seqlab train tag ... --model.contextual=RUN_DIR      the two LMs' states at each word join its features

The files are read as lines of text; ``data.format=auto`` reads ``*.conllu`` files as CoNLL-U (the
words' FORMs, a sentence a line) and files that open with ``-DOCSTART-`` as CoNLL columns (the first
column), so that a tagger's training file can be pretraining text too.  The last ``data.valid_fraction``
of each file's lines is held out: bits per character are measured there.  Then it is a language model
(:mod:`seqlab.tasks.lm`'s streams, truncated BPTT, progress, checkpoints, resume) twice over: the
forward LM reads the training text, the backward LM the same text reversed, from the same windows.
See :mod:`seqlab.models.charlm` for how a word's vector is read off them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

import seqlab.nn as snn
from seqlab.data import tokenfile
from seqlab.data.conllu import read_conllu
from seqlab.data.corpus import DataConfig, load_corpus
from seqlab.data.files import read_text
from seqlab.data.lines import check_sentences, numbered_chunks
from seqlab.data.stream import batchify, windows
from seqlab.data.tagged import read_conll
from seqlab.data.tokens import vocab_from_json
from seqlab.errors import UserError
from seqlab.fields import Fraction
from seqlab.models.charlm import BiCharLM
from seqlab.models.lm import ModelConfig
from seqlab.tasks.lm import LMRun, LMTask, evaluate_streams, read_lm_vocab
from seqlab.tasks.panel import Panel, text_box, text_field
from seqlab.tasks.registry import Task, option
from seqlab.train import distributed, rundir
from seqlab.train.config import apply_dict, to_dict
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig


@dataclass
class CharLMDataConfig:
    path: str = ""  # the text files, separated by commas (--data FILE FILE ... on the command line)
    format: Literal["auto", "text", "conll", "conllu"] = "auto"  # auto: *.conllu as conllu, -DOCSTART- files as conll, else text
    valid_fraction: Fraction = 0.02  # the last part of each file's lines, held out for bits per character


@dataclass
class CharLMConfig:
    data: CharLMDataConfig = field(default_factory=CharLMDataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def files_of(cfg: CharLMDataConfig) -> list[str]:
    paths = [p.strip() for p in cfg.path.split(",") if p.strip()]
    if not paths:
        raise UserError("charlm needs text: --data FILE [FILE ...]")
    return paths


def file_lines(path: str, fmt: str) -> list[str]:
    """The lines of text of one file: a sentence a line for CoNLL and CoNLL-U, else the file's non-empty lines."""
    if fmt == "auto":
        fmt = "conllu" if path.endswith((".conllu", ".conllu.gz")) else \
            "conll" if looks_like_conll(read_text(path, "data")[:4096]) else "text"
    if fmt == "conllu":
        return [" ".join(s.tokens) for s in read_conllu(path).sentences]
    if fmt == "conll":
        return [" ".join(s.tokens) for s in read_conll(path, 0, -1).sentences]
    lines = [line.rstrip() for line in read_text(path, "data").splitlines() if line.strip()]
    if not lines:
        raise UserError(f"{path} holds no text")
    return lines


def looks_like_conll(head: str) -> bool:
    """A CoNLL column file, from its first 4 KB: it opens with ``-DOCSTART-``, or its sentences are blocks of lines
    of one token and its columns (every line of the head with the same number, 2 to 12, of whitespace-separated
    fields; at least 8 such lines and a blank line between sentences).  Prose has lines of many lengths."""
    if head.lstrip().startswith("-DOCSTART-"):
        return True
    lines = head.splitlines()[:-1]  # the last line may be cut off
    fields = {len(line.split()) for line in lines if line.strip()}
    return (len(fields) == 1 and 2 <= fields.pop() <= 12 and sum(bool(line.strip()) for line in lines) >= 8
            and any(not line.strip() for line in lines))


def split_texts(cfg: CharLMDataConfig) -> tuple[str, str, dict]:
    """(training text, held-out text, per file its lines in each part and its characters, newlines included): each
    file's last ``valid_fraction`` of lines held out."""
    train, valid, counts = [], [], {}
    for path in files_of(cfg):
        lines = file_lines(path, cfg.format)
        cut = len(lines) - max(1, round(len(lines) * cfg.valid_fraction))
        if cut < 1:
            raise UserError(f"{path}: {len(lines)} line(s) cannot be split into training and held-out text")
        train += lines[:cut]
        valid += lines[cut:]
        counts[path] = {"train": cut, "valid": len(lines) - cut, "chars": sum(len(line) + 1 for line in lines)}
    return "\n".join(train) + "\n", "\n".join(valid) + "\n", counts


TEXT_FILE = "text.json"  # a run's record of the text it was trained on: split_texts' counts per file


def corpus_dir(cfg: CharLMDataConfig) -> tuple[Path, dict]:
    """A directory in the cache with train.txt and valid.txt (made once per content), read as an LM corpus, and
    :func:`split_texts`' counts."""
    train, valid, counts = split_texts(cfg)
    key = hashlib.sha256((train + "\0" + valid).encode("utf-8")).hexdigest()[:16]
    folder = tokenfile.cache_dir() / f"charlm-{key}"
    for name, text in (("train.txt", train), ("valid.txt", valid)):
        path = folder / name
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    return folder, counts


def reversed_ids(ids) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids)[::-1])


class CharLMTask(LMTask):
    """The LM task's trainer view, the backward LM reading the reversed streams at the same windows."""

    def __init__(self, model: BiCharLM, corpus, cfg: TrainConfig, device, counts: dict) -> None:
        super().__init__(model, corpus, cfg, device)
        self.counts = counts
        streams = batchify(reversed_ids(corpus.train), cfg.batch_size, cfg.bptt, "train")
        self.backward_streams = distributed.shard(streams, contiguous=True)
        self.valid_backward = batchify(reversed_ids(corpus.valid), cfg.eval_batch_size, 1, "valid")

    def windows(self, offset: int):
        both = zip(windows(self.train_streams, self.bptt, offset, self.device),
                   windows(self.backward_streams, self.bptt, offset, self.device))
        for (i, x, y), (_, xr, yr) in both:
            yield i, (x, y, xr, yr)

    def train_step(self, batch):
        x, y, xr, yr = batch
        forward, backward = self.state or (None, None)
        loss_f, forward = self.model.forward_lm.loss(x, y, forward)
        loss_b, backward = self.model.backward_lm.loss(xr, yr, backward)
        self.state = (snn.detach_state(forward), snn.detach_state(backward))
        return (loss_f + loss_b) / 2, x.numel()

    def evaluate(self, streams=None) -> dict:
        return both_directions(evaluate_streams(self.model.forward_lm, self.valid_streams, self.bptt),
                               evaluate_streams(self.model.backward_lm, self.valid_backward, self.bptt))

    def load_state_dict(self, d: dict) -> None:
        self.state = None if d["state"] is None else _to(d["state"], self.device)

    def save(self, run_dir: Path) -> None:
        super().save(run_dir)  # and what the run is trained on (benchmarks cite its size)
        (Path(run_dir) / TEXT_FILE).write_text(json.dumps({"files": self.counts}, indent=1))


def _to(state, device):
    if isinstance(state, torch.Tensor):
        return state.to(device)
    return None if state is None else tuple(_to(s, device) for s in state)


def both_directions(forward: dict, backward: dict) -> dict:
    loss = (forward["loss"] + backward["loss"]) / 2
    return {"loss": loss, "bits_per_char": loss / math.log(2), "bits_per_char_forward": forward["bits_per_token"],
            "bits_per_char_backward": backward["bits_per_token"], "chars": forward["tokens"]}


# ------------------------------------------------------------------------ setup / build
def setup(cfg: CharLMConfig, resume_dir: Path | None, device) -> CharLMTask:
    folder, counts = corpus_dir(cfg.data)
    corpus = load_corpus(DataConfig(str(folder), "char"), read_lm_vocab(resume_dir) if resume_dir else None,
                         cfg.train.progress)
    return CharLMTask(BiCharLM(cfg.model, len(corpus.vocab)).to(device), corpus, cfg.train, device, counts)


def build(cfg: CharLMConfig, run_dir: Path, device) -> LMRun:
    vocab = read_lm_vocab(run_dir)
    return LMRun(cfg, BiCharLM(cfg.model, len(vocab)).to(device), run_dir, device, vocab)


def load_for_features(run_dir: str) -> LMRun:
    """A charlm run for a tagger's ``model.contextual``: anything else is a UserError naming it."""
    kind = rundir.task_of(run_dir)
    if kind != TASK.name:
        raise UserError(f"model.contextual: {run_dir} is a {kind} run; give a run of `seqlab train {TASK.name}`")
    return TASK.load(run_dir, device="cpu")


def contextual_spec(run: LMRun, run_dir: str) -> dict:
    """What a model with ``model.contextual`` keeps of the char-LM run in its own vocab.json: the LMs' model config,
    their character vocabulary and where they came from (their weights go into its checkpoints)."""
    return {"model": to_dict(run.cfg.model), "tokens": run.vocab.to_json(), "from": str(Path(run_dir).resolve())}


def contextual_model(spec: dict) -> BiCharLM:
    """The (untrained) two LMs of a :func:`contextual_spec`: the shape that a checkpoint's weights load into."""
    lm_cfg = ModelConfig()
    apply_dict(lm_cfg, spec["model"])
    return BiCharLM(lm_cfg, len(vocab_from_json(spec["tokens"])))


def scores_of_text(run: LMRun, text: str) -> dict:
    """Bits per character of ``text`` under each LM (its characters as one stream)."""
    ids = np.asarray(run.vocab.encode(text))
    if len(ids) < 2:
        raise UserError("the text needs at least two characters to score")
    one = lambda model, x: evaluate_streams(model, batchify(x, 1, 1, "text"), run.cfg.train.bptt)
    return both_directions(one(run.model.forward_lm, ids), one(run.model.backward_lm, reversed_ids(ids)))


def predict(run: LMRun, lines: Iterable[str], options=None) -> Iterator[str]:
    """``bits-per-char forward<TAB>backward`` of each line (read as a line of the training text, with its newline)."""
    for first, chunk in numbered_chunks(lines):
        check_sentences(chunk, first)
        for line in chunk:
            m = scores_of_text(run, "\n" + line.strip() + "\n")
            yield f"{m['bits_per_char_forward']:.4f}\t{m['bits_per_char_backward']:.4f}"


@dataclass
class EvaluateOptions:
    data: str = option(help="a text file (or CoNLL / CoNLL-U, as data.format)")


def evaluate(run: LMRun, options: EvaluateOptions) -> dict:
    return scores_of_text(run, "\n".join(file_lines(options.data, run.cfg.data.format)) + "\n")


def report(run: LMRun, m: dict) -> str:
    return (f"bits per character: forward {m['bits_per_char_forward']:.4f}  backward "
            f"{m['bits_per_char_backward']:.4f}  ({m['chars']:,} characters)")


# ------------------------------------------------------------------------ presets
def english() -> CharLMConfig:
    """One LSTM layer of 512 per direction over 64-dimensional character embeddings, for the English taggers:
    both LMs together within 60 minutes on 2 CPU cores."""
    cfg = CharLMConfig()
    m = cfg.model
    m.cell, m.num_layers, m.embed_size, m.hidden_size, m.dropout = "lstm", 1, 64, 512, 0.1
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.min_lr = 2e-3, "cosine", 100, 1e-4
    cfg.optim.clip = 1.0
    cfg.train.batch_size, cfg.train.bptt, cfg.train.epochs = 32, 128, 2  # ~3,780 steps at ~0.65 s: ~41 min
    cfg.train.max_minutes, cfg.train.eval_every, cfg.train.eval_batch_size = 60.0, 500, 16
    return cfg


PRESETS = {"charlm-english": english}


# ---------------------------------------------------------------- seqlab serve
def _panel_action(served, fields: dict, upload=None) -> dict:
    text = text_field(fields, "text", "the text")
    with served.lock:
        m = scores_of_text(served.run, "\n" + text.strip() + "\n")
    return {"text": f"bits per character: forward {m['bits_per_char_forward']:.3f}, backward "
                    f"{m['bits_per_char_backward']:.3f}"}


PANEL = Panel("Score", lambda served: [text_box("text", "a sentence")], _panel_action)


TASK = Task(
    name="charlm", help="forward and backward character LMs (contextual word vectors for taggers)",
    data_help="text files (a sentence or paragraph a line; .conllu and CoNLL files give their words)",
    config=CharLMConfig, presets=PRESETS, setup=setup, build=build, predict=predict,
    evaluate=evaluate, evaluate_options=EvaluateOptions, report=report, panel=PANEL, many_files=True,
)
