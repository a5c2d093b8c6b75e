"""Pretraining a classifier's encoder as a bidirectional language model (ULMFiT / ELMo style).

    seqlab train bilm --data train.txt [--data.format=lines] [--preset sst2-bilm]
    seqlab train classify --data phrases.tsv --model.init_from=RUN_DIR ...   fine-tune: embedding + encoder from it
    seqlab evaluate RUN_DIR --data FILE            loss (nats per predicted token) and perplexity
    seqlab predict RUN_DIR < sentences.txt         each sentence's loss and perplexity

The texts are read one per line (``data.format=text``), or from a labelled file in the
classifier's formats with the labels ignored (``lines``: SST-2's ``stsa.binary.*``; ``table``).
The model (:mod:`seqlab.models.bilm`) is the classifier's embedding and encoder with a softmax over
the vocabulary on each direction; the run's vocabulary becomes the classifier's.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seqlab.data.batching import pad_batch
from seqlab.data.files import read_text
from seqlab.data.labelled import read_labelled, read_table_texts
from seqlab.data.lines import check_sentences, numbered_chunks
from seqlab.data.tokens import TokensConfig, build_tokens, tokens_from_json
from seqlab.errors import UserError
from seqlab.fields import Fraction
from seqlab.models.bilm import ARCHITECTURE, BiLM, BiLMConfig
from seqlab.tasks.panel import Panel, text_box, text_field, token_pieces
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import BucketedTask, by_length, read_vocab, train_and_valid, write_vocab
from seqlab.train import rundir
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig

FORMATS = ("text", "lines", "table")


@dataclass
class BiLMDataConfig(TokensConfig):  # data.tokens, lowercase, min_freq, bpe_vocab_size, max_len: as the classifier's
    path: str = ""  # the texts: one per line (format=text), or a labelled file whose labels are ignored
    valid: str = ""  # validation texts (default: the last valid_fraction of the training texts)
    valid_fraction: Fraction = 0.1  # without data.valid: this last part of the training texts is held out
    format: Literal["text", "lines", "table"] = "text"  # text (one per line) | lines ('label text', labels ignored) | table (.csv/.tsv)
    text_column: str = "text"  # format=table: the column of the texts


@dataclass
class BiLMTaskConfig:
    data: BiLMDataConfig = field(default_factory=BiLMDataConfig)
    model: BiLMConfig = field(default_factory=BiLMConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def read_texts(cfg: BiLMDataConfig, path: str) -> list[str]:
    """The texts of ``path`` in ``data.format``; an empty file is a UserError naming it."""
    if cfg.format not in FORMATS:
        raise UserError(f"data.format must be one of {list(FORMATS)}, got {cfg.format!r}")
    if cfg.format == "text":
        texts = [line.strip() for line in read_text(path, "data").splitlines() if line.strip()]
    elif cfg.format == "lines":  # a classifier's 'label text' file: its labels are not used
        texts = [ex.text for ex in read_labelled(path, fmt="lines")]
    else:
        texts = read_table_texts(path, cfg.text_column)
    if not texts:
        raise UserError(f"{path} holds no text")
    return texts


def encode_texts(tokens, texts: list[str], max_len: int) -> list[list[int]]:
    return [ids[:max_len] if max_len > 0 else ids for ids in map(tokens.encode, texts)]


class BiLMTask(BucketedTask):
    """The trainer's view of biLM pretraining (see :mod:`seqlab.train.trainer`)."""

    def __init__(self, model: BiLM, cfg: BiLMTaskConfig, tokens, train: list[str], valid: list[str], device) -> None:
        self.model, self.cfg, self.tokens, self.device = model, cfg, tokens, device
        encoded = encode_texts(tokens, train, cfg.data.max_len)
        self.examples(encoded, [len(ids) for ids in encoded])
        self.valid = encode_texts(tokens, valid, cfg.data.max_len)

    def train_step(self, batch):
        total, count = loss_sum(self.model, batch, self.tokens.pad, self.device)
        return total / max(count, 1), count

    def evaluate(self) -> dict:
        return scores(self.model, self.valid, self.tokens.pad, self.device)

    def save(self, run_dir: Path) -> None:
        write_vocab(run_dir, tokens=self.tokens)


def loss_sum(model: BiLM, batch: list[list[int]], pad: int, device) -> tuple[torch.Tensor, int]:
    tokens, lengths = pad_batch(batch, pad)
    return model.loss_sum(tokens.to(device), lengths.to(device))


@torch.no_grad()
def scores(model: BiLM, texts: list[list[int]], pad: int, device) -> dict:
    """Loss in nats per predicted token (both directions), perplexity and the number of predicted tokens."""
    model.eval()
    total, count = 0.0, 0
    for rows in by_length([len(ids) for ids in texts]):
        s, n = loss_sum(model, [texts[k] for k in rows], pad, device)
        total, count = total + float(s), count + n
    if count == 0:
        raise UserError("no text has two tokens or more: the biLM has nothing to predict")
    loss = total / count
    return {"loss": loss, "ppl": math.exp(min(loss, 700)), "predicted_tokens": count}


# ------------------------------------------------------------------------ setup / build
def setup(cfg: BiLMTaskConfig, resume_dir: Path | None, device) -> BiLMTask:
    d = cfg.data
    train, valid = train_and_valid(d, lambda path: read_texts(d, path), "bilm", "training texts", "texts")
    tokens = _load_tokens(resume_dir) if resume_dir else \
        build_tokens(d.tokens, train, d.lowercase, d.min_freq, d.bpe_vocab_size)
    return BiLMTask(_model(cfg, tokens, device), cfg, tokens, train, valid, device)


def _model(cfg: BiLMTaskConfig, tokens, device) -> BiLM:
    return BiLM(cfg.model, len(tokens), tokens.pad).to(device)


def _load_tokens(run_dir: Path):
    return tokens_from_json(read_vocab(run_dir)["tokens"])


@dataclass
class BiLMRun(Run):
    tokens: object


def build(cfg: BiLMTaskConfig, run_dir: Path, device) -> BiLMRun:
    tokens = _load_tokens(run_dir)
    return BiLMRun(cfg, _model(cfg, tokens, device), run_dir, device, tokens)


def pretrained_encoder(run_dir: str, model_cfg, data_cfg) -> tuple[object, dict]:
    """What a classifier starts from (``model.init_from``): the biLM run's tokens and its ``embed.*`` and
    ``encoder.*`` weights (best checkpoint).  The run must be a biLM run whose architecture
    (:data:`seqlab.models.bilm.ARCHITECTURE`) and tokens equal the classifier's; each difference is a
    UserError naming the setting."""
    path = Path(run_dir)
    kind = rundir.task_of(path)
    if kind != TASK.name:
        raise UserError(f"model.init_from: {path} is a {kind} run; give a run of `seqlab train bilm`")
    bilm = TASK.load(path, device="cpu")
    for key in ARCHITECTURE:
        mine, theirs = getattr(model_cfg, key), getattr(bilm.cfg.model, key)
        if mine != theirs:
            raise UserError(f"model.{key}={mine!r} but the biLM run {path} has {theirs!r}: the classifier must have "
                            "the architecture it starts from")
    if getattr(model_cfg, "conv_width", 0) or getattr(model_cfg, "conv_widths", "").strip():
        given = f"conv_width={model_cfg.conv_width}" if model_cfg.conv_width else f"conv_widths={model_cfg.conv_widths}"
        raise UserError(f"model.{given} with model.init_from: the biLM has no convolution in front of its encoder")
    if getattr(model_cfg, "vectors", ""):
        raise UserError("model.vectors and model.init_from both initialise the embedding: give one")
    tokens = bilm.tokens
    if (data_cfg.tokens, data_cfg.lowercase) != (tokens.kind, tokens.lowercase):
        raise UserError(f"data.tokens={data_cfg.tokens!r}, data.lowercase={data_cfg.lowercase} but the biLM run {path} "
                        f"has {tokens.kind!r}, {tokens.lowercase}: the classifier reads its text as the biLM did")
    return tokens, {k: v for k, v in bilm.model.state_dict().items() if k.startswith(("embed.", "encoder."))}


def predict(run: BiLMRun, lines: Iterable[str], options=None) -> Iterator[str]:
    """``loss<TAB>perplexity`` of each sentence (nats per predicted token, both directions)."""
    for first, chunk in numbered_chunks(lines):
        check_sentences(chunk, first)
        for ids in encode_texts(run.tokens, chunk, run.cfg.data.max_len):
            if len(ids) < 2:
                yield "-\t-"  # one token: nothing to predict
                continue
            m = scores(run.model, [ids], run.tokens.pad, run.device)
            yield f"{m['loss']:.4f}\t{m['ppl']:.2f}"


@dataclass
class EvaluateOptions:
    data: str = option(help="texts, in the training file's data.format")


def evaluate(run: BiLMRun, options: EvaluateOptions) -> dict:
    return scores(run.model, encode_texts(run.tokens, read_texts(run.cfg.data, options.data), run.cfg.data.max_len),
                  run.tokens.pad, run.device)


def report(run: BiLMRun, m: dict) -> str:
    return f"loss {m['loss']:.4f} nats per predicted token  perplexity {m['ppl']:.2f}  ({m['predicted_tokens']} predicted)"


# ------------------------------------------------------------------------ presets
def sst2_bilm() -> BiLMTaskConfig:
    """The encoder of the ``sst2-*`` BiLSTM classifiers (embeddings 300, one BiLSTM layer of 256), pretrained
    on the SST-2 training sentences (``stsa.binary.train``, labels unused): 8 epochs, at most 12 minutes."""
    cfg = BiLMTaskConfig()
    cfg.data.format, cfg.data.tokens, cfg.data.lowercase = "lines", "word", True
    cfg.data.min_freq = 2  # 7,140 of the 14,828 words: half the softmax (a word seen once teaches the classifier little)
    m = cfg.model
    m.cell, m.embed_size, m.hidden_size, m.num_layers, m.bidirectional, m.dropout = "lstm", 300, 256, 1, True, 0.5
    cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.schedule, cfg.optim.warmup_steps = 2e-3, 0.01, "cosine", 100
    cfg.optim.clip = 5.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 32, 8, 12.0
    return cfg


# ---------------------------------------------------------------- seqlab serve
@torch.no_grad()
def _panel_action(served, fields: dict, upload=None) -> dict:
    """Each word's surprisal -log p (nats) from the forward direction (its left context) and from the backward
    one (its right context), and the sentence's loss and perplexity."""
    import torch.nn.functional as F

    text = text_field(fields, "text", "the sentence")
    run = served.run
    (ids,) = encode_texts(run.tokens, [text], run.cfg.data.max_len)
    if len(ids) < 2:
        raise UserError("the sentence needs two tokens or more: the biLM predicts each from the others")
    with served.lock:
        x = torch.tensor([ids], device=run.device)
        forward, backward = run.model(x, torch.tensor([len(ids)], device=run.device))
    left = [None] + F.cross_entropy(forward[0, :-1].float(), x[0, 1:], reduction="none").tolist()
    right = F.cross_entropy(backward[0, 1:].float(), x[0, :-1], reduction="none").tolist() + [None] \
        if backward is not None else [None] * len(ids)
    show = lambda v: "—" if v is None else f"{v:.2f}"
    lines = [f"{'token':<20} {'-log p (left)':>14} {'-log p (right)':>15}"]
    lines += [f"{t:<20} {show(a):>14} {show(b):>15}" for t, a, b in zip(token_pieces(run.tokens, text, ids), left, right)]
    predicted = [v for v in left + right if v is not None]  # the biLM's loss: every prediction of both directions
    loss = sum(predicted) / len(predicted)
    return {"lines": lines, "note": f"loss {loss:.4f} nats per predicted token, perplexity {math.exp(loss):.2f}"}


PANEL = Panel("Score", lambda served: [text_box("text", "a sentence to score")], _panel_action)


TASK = Task(
    name="bilm", help="a bidirectional LM over sentences: pretrains a classifier's encoder (model.init_from)",
    data_help="texts, one per line (data.format=text), or a labelled file (lines | table) whose labels are ignored",
    config=BiLMTaskConfig, presets={"sst2-bilm": sst2_bilm}, setup=setup, build=build, predict=predict,
    evaluate=evaluate, evaluate_options=EvaluateOptions, report=report,
    panel=PANEL,
)
