"""Sequence -> class, top to bottom: labelled sentences -> encoder + pooling -> accuracy / F1 -> predict.

    seqlab train classify --data train.txt [--data.valid=dev.txt] [--preset sst2-bilstm-max]
    seqlab predict RUN_DIR < sentences.txt          label and probability, one line per sentence
    seqlab evaluate RUN_DIR --data dev.txt          accuracy, macro-F1, per-class P/R/F1, confusion.png
    seqlab predict RUN_DIR --input seqs.txt --explain logo.png
                                                    + what the model looked at, per position and symbol

The model is chosen on validation accuracy (``selection`` = 1 - accuracy); without
``data.valid`` the last ``data.valid_fraction`` of the training file is held out.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from seqlab.data.batching import pad_batch
from seqlab.data.folds import stratified_hold_out
from seqlab.data.labelled import LabelledFileConfig, read_examples
from seqlab.data.lines import check_lengths, check_sentences, numbered_chunks
from seqlab.data.splice import nucleotides
from seqlab.data.tokens import TokensConfig, build_tokens, tokens_from_json, vocab_from_json
from seqlab.data.vocab import Vocabulary
from seqlab.errors import UserError
from seqlab.export import Exportable
from seqlab.metrics.classification import classification_scores
from seqlab.models.charlm import collate_chars, sentence_chars
from seqlab.models.classifier import ClassifierConfig, SequenceClassifier
from seqlab.tasks.bilm import pretrained_encoder
from seqlab.tasks.charlm import contextual_model, contextual_spec, load_for_features
from seqlab.tasks.panel import Panel, text_box, text_field, token_pieces
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import (
    EVAL_BATCH,
    BucketedTask,
    by_length,
    chunks,
    read_vocab,
    recurrent_export,
    train_and_valid,
    write_vocab,
)
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig


@dataclass
class ClassifyDataConfig(LabelledFileConfig, TokensConfig):
    format: Literal["auto", "lines", "table", "splice"] = "auto"  # auto (.csv/.tsv: table, else lines) | lines ('label text') | table | splice (UCI DNA)
    hold_out: Literal["last", "stratified"] = "last"  # without data.valid: last (the file's last part) | stratified (a seeded draw, class shares kept)
    test: str = ""  # a (withheld) test file, scored once at the end of training


@dataclass
class ClassifyConfig:
    data: ClassifyDataConfig = field(default_factory=ClassifyDataConfig)
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


class ClassifyTask(BucketedTask):
    """The trainer's view of classification (see :mod:`seqlab.train.trainer`)."""

    metric = "accuracy"

    def __init__(self, model, cfg: ClassifyConfig, tokens, labels: Vocabulary, train, valid, device,
                 contextual: dict | None = None) -> None:
        self.model, self.cfg, self.tokens, self.labels, self.device = model, cfg, tokens, labels, device
        self.contextual = contextual
        context_vocab = vocab_from_json(contextual["tokens"]) if contextual else None
        encoded = encode(train, tokens, labels, cfg.data.max_len, context_vocab)
        self.examples(encoded, [len(ids) for ids, _, _ in encoded])
        self.valid = encode(valid, tokens, labels, cfg.data.max_len, context_vocab)

    def train_step(self, batch):
        logits, y = self.forward(batch)
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.model.label_smoothing), sum(len(ids) for ids, _, _ in batch)  # tokens, for tokens/s

    def forward(self, batch):
        y = torch.tensor([label for _, label, _ in batch], device=self.device)
        return logits_of(self.model, [ids for ids, _, _ in batch], [c for _, _, c in batch], self.tokens.pad,
                         self.device), y

    def evaluate(self) -> dict:
        total, correct = 0.0, 0
        for batch in chunks(self.valid):
            logits, y = self.forward(batch)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(-1) == y).sum())
        accuracy = correct / len(self.valid)
        return {"loss": total / len(self.valid), "accuracy": accuracy, "selection": 1.0 - accuracy}

    def save(self, run_dir: Path) -> None:
        write_vocab(run_dir, tokens=self.tokens, labels=self.labels,
                    **({"contextual": self.contextual} if self.contextual else {}))


def encode(examples, tokens, labels: Vocabulary, max_len: int, context_vocab=None) -> list[tuple]:
    """(token ids, label id, the sentence's characters for the char LMs or None) of each example."""
    out = []
    for ex in examples:
        ids = token_ids(tokens, ex.text, max_len)
        out.append((ids, labels.stoi[ex.label], words_chars(context_vocab, ex.text, ids)))
    return out


def words_chars(context_vocab, text: str, ids: list[int]) -> dict | None:
    """The characters of ``text``'s words, as the char LMs read them (:func:`sentence_chars`), one word per token id
    (word tokens: the text's words as written, cut as the ids were; an empty text's one <unk> is an empty word)."""
    if context_vocab is None:
        return None
    words = text.split()[: len(ids)]
    return sentence_chars(context_vocab, words if len(words) == len(ids) else [""])


def logits_of(model: SequenceClassifier, ids: list[list[int]], chars: list[dict | None], pad: int, device,
              **kwargs):
    """The model on a batch of token-id sequences (right-padded here) and, with char LMs, their characters."""
    tokens, lengths = pad_batch(ids, pad)
    context = None
    if model.contextual is not None:
        context = {"words": tokens}
        collate_chars(context, chars)
        context = {k: v.to(device) for k, v in context.items() if k != "words"}
    return model(tokens.to(device), lengths.to(device), context=context, **kwargs)


def token_ids(tokens, text: str, max_len: int) -> list[int]:
    """The ids of ``text``, cut to ``max_len`` (0: all)."""
    ids = tokens.encode(text)
    return ids[:max_len] if max_len > 0 else ids


def _splits(cfg: ClassifyDataConfig):
    def stratified(train):  # for files sorted by class, whose last part is one class
        kept, held = stratified_hold_out([ex.label for ex in train], cfg.valid_fraction, seed=0)
        return [train[i] for i in kept], [train[i] for i in held]

    return train_and_valid(cfg, lambda path: read_examples(cfg, path), "classify",
                           hold=stratified if cfg.hold_out == "stratified" else None)


def _check_labels(examples, labels: Vocabulary, path: str) -> None:
    unseen = sorted({ex.label for ex in examples} - set(labels.itos))
    if unseen:
        raise UserError(f"{path}: labels not in the training data: {', '.join(unseen[:10])}")


# ------------------------------------------------------------------------ setup / build
def setup(cfg: ClassifyConfig, resume_dir: Path | None, device) -> ClassifyTask:
    _check_contextual(cfg)
    train_set, valid_set = _splits(cfg.data)
    pretrained, charlm, contextual = None, None, None
    if resume_dir:
        tokens, labels, contextual = _load_vocab(resume_dir)
    else:
        if cfg.model.contextual:
            charlm = load_for_features(cfg.model.contextual)
            contextual = contextual_spec(charlm, cfg.model.contextual)
        if cfg.model.init_from:
            tokens, pretrained = pretrained_encoder(cfg.model.init_from, cfg.model, cfg.data)
        else:
            tokens = build_tokens(cfg.data.tokens, [ex.text for ex in train_set], cfg.data.lowercase,
                                  cfg.data.min_freq, cfg.data.bpe_vocab_size)
        labels = Vocabulary.build([[ex.label for ex in train_set]], specials=())
    _check_labels(valid_set, labels, cfg.data.valid or cfg.data.path)
    model = _model(cfg, tokens, labels, contextual, device)
    if pretrained is not None:
        _load_pretrained(cfg.model.init_from, model, pretrained, tokens, train_set)
    if cfg.model.vectors and not resume_dir:
        _load_vectors(cfg.model, tokens, model)
    if charlm is not None:  # the char LMs' weights into the classifier's (so its checkpoints hold them)
        model.contextual.load_state_dict(charlm.model.state_dict())
    if model.contextual is not None:  # frozen: each sentence's vectors computed once in this training
        model.contextual.keep = True
    return ClassifyTask(model, cfg, tokens, labels, train_set, valid_set, device, contextual)


def _check_contextual(cfg: ClassifyConfig) -> None:
    if not cfg.model.contextual:
        return
    if cfg.data.tokens != "word":
        raise UserError(f"model.contextual needs data.tokens=word (got {cfg.data.tokens!r}): the char LMs' states "
                        "are read at the words")
    if cfg.model.init_from:
        raise UserError(f"model.contextual={cfg.model.contextual!r} and model.init_from={cfg.model.init_from!r}: "
                        "give one (the pretrained encoder reads embeddings alone)")


def _load_pretrained(run_dir: str, model: SequenceClassifier, weights: dict, tokens, train_set) -> None:
    """The biLM's embedding and encoder into the classifier (the pooling and output layer start fresh)."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and not [k for k in missing if k.startswith(("embed.", "encoder."))], (missing, unexpected)
    unk = getattr(getattr(tokens, "vocab", None), "unk", None)  # words and characters; subwords have no <unk>
    outside = ""
    if unk is not None:
        ids = [i for ex in train_set for i in tokens.encode(ex.text)]
        outside = f"; {sum(i == unk for i in ids) / max(len(ids), 1):.2%} of the training tokens are outside it"
    print(f"model.init_from: embedding and encoder from {run_dir} (a vocabulary of {len(tokens):,} tokens{outside})")


def _load_vectors(cfg: ClassifierConfig, tokens, model) -> None:
    from seqlab.data.vectors import load_vectors

    if tokens.kind != "word":
        raise UserError("model.vectors needs data.tokens=word (pretrained vectors are per word)")
    with torch.no_grad():
        found = load_vectors(cfg.vectors, tokens.vocab, model.embed.weight)
    print(f"model.vectors: {found} of {len(tokens)} words found in {cfg.vectors}")
    model.embed.weight.requires_grad_(not cfg.freeze_vectors)


def _model(cfg: ClassifyConfig, tokens, labels: Vocabulary, contextual: dict | None, device) -> SequenceClassifier:
    lms = contextual_model(contextual) if contextual else None
    return SequenceClassifier(cfg.model, len(tokens), len(labels), tokens.pad, lms).to(device)


def _load_vocab(run_dir: Path):
    parts = read_vocab(run_dir)
    return tokens_from_json(parts["tokens"]), Vocabulary.from_json(parts["labels"]), parts.get("contextual")


@dataclass
class ClassifyRun(Run):
    tokens: object
    labels: Vocabulary
    context_vocab: object = None  # model.contextual: the char LMs' characters


def build(cfg: ClassifyConfig, run_dir: Path, device) -> ClassifyRun:
    tokens, labels, contextual = _load_vocab(run_dir)
    return ClassifyRun(cfg, _model(cfg, tokens, labels, contextual, device), run_dir, device, tokens, labels,
                       vocab_from_json(contextual["tokens"]) if contextual else None)


def probabilities(run: ClassifyRun, texts: list[str]) -> torch.Tensor:
    """(N, C) class probabilities of ``texts``."""
    ids = [token_ids(run.tokens, t, run.cfg.data.max_len) for t in texts]
    return id_probabilities(run, ids, [words_chars(run.context_vocab, t, x) for t, x in zip(texts, ids)])


@torch.no_grad()
def id_probabilities(run: ClassifyRun, ids: list[list[int]], chars: list[dict | None] | None = None) -> torch.Tensor:
    """(N, C) class probabilities of token-id sequences (and, with char LMs, their :func:`words_chars`), batched by
    length (less padding)."""
    chars = chars or [None] * len(ids)
    p = torch.zeros(len(ids), len(run.labels))
    for rows in by_length([len(x) for x in ids]):
        p[rows] = logits_of(run.model, [ids[k] for k in rows], [chars[k] for k in rows], run.tokens.pad,
                            run.device).softmax(-1).float().cpu()
    return p


@dataclass
class PredictOptions:
    explain: str | None = option(None, "a PNG: the mean integrated-gradients attribution of each symbol at each "
                                       "position, one panel per predicted class (inputs of one length)")


def predict_lines(run: ClassifyRun, lines: Iterable[str], options: PredictOptions | None = None) -> Iterator[str]:
    """``label<TAB>probability`` for each sentence (data.format=splice: each nucleotide sequence),
    streamed: a chunk of lines at a time.  ``options.explain``: the attribution map of all of them, drawn
    at the end."""
    explain = options.explain if options else None
    if explain and run.model.contextual is not None:
        raise UserError("--explain: this classifier reads the char LMs' vectors too (model.contextual); attributions "
                        "to its word embeddings alone would leave them out")
    seen: list[tuple[list[int], int]] = []  # (ids, predicted class) of every line, for --explain
    for first, chunk in numbered_chunks(lines):
        check_sentences(chunk, first)
        if run.cfg.data.format == "splice":  # as the reader: upper case, ambiguity codes as N, other letters refused
            chunk = [nucleotides(line.strip(), f"input line {n}") for n, line in enumerate(chunk, first)]
        ids = [token_ids(run.tokens, t, run.cfg.data.max_len) for t in chunk]
        check_lengths(map(len, ids), run.model.encoder.max_positions, first, "the Transformer encoder")
        check_lengths(map(len, ids), run.model.max_positions, first, "model.positions")
        chars = [words_chars(run.context_vocab, t, x) for t, x in zip(chunk, ids)]
        best, index = id_probabilities(run, ids, chars).max(-1)
        if explain:
            _check_aligned(ids, first, len(seen[0][0]) if seen else None)
            seen += zip(ids, index.tolist())
        yield from (f"{run.labels.itos[int(k)]}\t{float(v):.4f}" for v, k in zip(best, index))
    if explain:
        if not seen:
            raise UserError("--explain: no input sequences to explain")
        draw_explanation(run, [ids for ids, _ in seen], [k for _, k in seen], explain)


def _check_aligned(ids: list[list[int]], first: int, length: int | None) -> None:
    length = length or len(ids[0])
    for n, x in enumerate(ids, first):
        if len(x) != length:
            raise UserError(f"--explain: input line {n} has {len(x)} tokens, the first {length}: a map over "
                            "positions needs inputs of one length")


def explanation(run: ClassifyRun, ids: list[list[int]], classes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T) integrated-gradients attributions of log p(class | x) for inputs of one length, and the ids (N, T)."""
    from seqlab.models.attribution import integrated_gradients

    tokens = torch.tensor(ids, device=run.device)
    target = torch.tensor(classes, device=run.device)
    lengths = torch.full((len(ids),), tokens.shape[1], device=run.device)
    run.model.eval()
    parts = [integrated_gradients(run.model, tokens[rows], lengths[rows], target[rows]).cpu()
             for rows in torch.arange(len(ids)).split(EVAL_BATCH)]
    return torch.cat(parts), tokens.cpu()


def position_labels(run: ClassifyRun, length: int) -> list[str]:
    """-T/2..-1, +1..+T/2 around the junction for splice sequences of even length, else 1..T."""
    if run.cfg.data.format == "splice" and length % 2 == 0:
        return [str(t - length // 2) if t < length // 2 else f"+{t - length // 2 + 1}" for t in range(length)]
    return [str(t + 1) for t in range(length)]


def class_maps(run: ClassifyRun, attributions: torch.Tensor, tokens: torch.Tensor, classes: list[int]):
    """{class name (n): position map (symbols x T)} over the inputs of each class, and the symbols' text."""
    from seqlab.models.attribution import position_map

    vocab = getattr(run.tokens, "vocab", None)  # words and characters; BPE pieces are named by the tokenizer
    specials = {run.tokens.pad, getattr(vocab, "unk", None)}
    symbols = [int(s) for s in tokens.unique().tolist() if int(s) not in specials]
    letters = [vocab.itos[s] if vocab is not None else run.tokens.subwords.tokenizer.id_to_token(s) for s in symbols]
    by_class = torch.tensor(classes)
    maps = {}
    for k in sorted(set(classes)):
        rows = by_class == k
        maps[f"{run.labels.itos[k]} ({int(rows.sum())})"] = position_map(attributions[rows], tokens[rows],
                                                                          symbols).tolist()
    return maps, letters


def draw_explanation(run: ClassifyRun, ids: list[list[int]], classes: list[int], out: str) -> Path:
    from seqlab.plots import plot_logo

    attributions, tokens = explanation(run, ids, classes)
    maps, letters = class_maps(run, attributions, tokens, classes)
    path = plot_logo(maps, letters, position_labels(run, tokens.shape[1]), Path(out),
                     f"{run.run_dir.name}: integrated gradients of log p(predicted class), mean per position")
    print(f"attribution map: {path}", file=sys.stderr)
    return path


def evaluate_file(run: ClassifyRun, path: str, plot: str | None = None) -> dict:
    """Accuracy, macro-F1, per-class scores and the confusion matrix of ``path``; plot it when asked."""
    examples = read_examples(run.cfg.data, path)
    predicted = [run.labels.itos[int(k)] for k in probabilities(run, [ex.text for ex in examples]).argmax(-1)]
    scores = classification_scores([ex.label for ex in examples], predicted, run.labels.itos)
    if plot:
        from seqlab.plots import plot_confusion

        scores["plot"] = str(plot_confusion(scores["confusion"], scores["labels"], Path(plot),
                                            f"{run.run_dir.name}: {Path(path).name}"))
    return scores


@dataclass
class EvaluateOptions:
    data: str = option(help="labelled sentences, in the training file's format")
    plot: str | None = option(None, "confusion-matrix PNG (default RUN_DIR/confusion.png)")


def evaluate(run: ClassifyRun, options: EvaluateOptions) -> dict:
    return evaluate_file(run, options.data, options.plot or str(run.run_dir / "confusion.png"))


def test(run: ClassifyRun) -> dict | None:
    """The config's withheld test file (data.test), scored at the end of training."""
    return evaluate_file(run, run.cfg.data.test) if run.cfg.data.test else None


def report(run: ClassifyRun, m: dict) -> str:
    lines = [f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  ({m['examples']} examples)"]
    lines += [f"  {label:>12}  P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  n {s['support']}"
              for label, s in m["per_class"].items()]
    if m["unseen_labels"]:
        lines.append(f"  labels the model never saw (counted wrong): {', '.join(m['unseen_labels'])}")
    if "plot" in m:
        lines.append(f"confusion matrix: {m['plot']}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ presets
def sst2(cell: str = "lstm", pooling: str = "max") -> ClassifyConfig:
    """SST-2 sentences (no phrase labels, no pretrained vectors), within 20 minutes on a 2-core CPU."""
    cfg = ClassifyConfig()
    cfg.data.tokens, cfg.data.lowercase, cfg.data.min_freq = "word", True, 1
    m = cfg.model
    m.cell, m.pooling, m.embed_size, m.hidden_size, m.num_layers, m.bidirectional = cell, pooling, 300, 256, 1, True
    m.dropout = 0.5
    if cell == "transformer":
        m.embed_size, m.hidden_size, m.num_layers, m.num_heads, m.dropout = 256, 256, 2, 4, 0.3
    cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.schedule, cfg.optim.warmup_steps = 2e-3, 0.01, "cosine", 100
    cfg.optim.clip = 5.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 32, 10, 20.0
    return cfg


def sst2_phrases(pooling: str = "max") -> ClassifyConfig:
    """SST-2 trained on the phrase-level labels of GLUE's train.tsv (67,349 phrases of the training
    sentences, ``label<TAB>sentence``), as the published LSTM numbers were; selected on the sentences of
    ``stsa.binary.dev``.  The BiLSTM of :func:`sst2`, six epochs of 64 phrases a batch (about 15 minutes)."""
    cfg = sst2("lstm", pooling)
    cfg.data.text_column, cfg.data.label_column = "sentence", "label"
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 64, 6, 30.0
    return cfg


def splice(cell: str = "lstm") -> ClassifyConfig:
    """UCI DNA splice junctions: nucleotides read one by one by a small BiRNN with additive-attention pooling
    (about 80 s on 2 cores; attention pooling beat max and last pooling on a validation tenth)."""
    cfg = ClassifyConfig()
    cfg.data.format, cfg.data.tokens, cfg.data.lowercase, cfg.data.hold_out = "splice", "char", False, "stratified"
    m = cfg.model
    m.cell, m.pooling, m.embed_size, m.hidden_size, m.num_layers, m.bidirectional = cell, "attention", 16, 64, 1, True
    m.dropout = 0.1
    cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.schedule, cfg.optim.warmup_steps = 3e-3, 0.01, "cosine", 50
    cfg.optim.clip = 5.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 32, 30, 5.0
    return cfg


def splice_positions(pooling: str = "attention", conv_widths: str = "", dropout: float = 0.1) -> ClassifyConfig:
    """:func:`splice` with a learned vector for each of the 60 positions added to each nucleotide's embedding:
    the sequences are aligned on the candidate junction, so *where* a letter sits is most of the signal.
    ``pooling="center"`` reads the BiLSTM's state at the junction instead of pooling over the positions."""
    cfg = splice("lstm")
    cfg.model.positions, cfg.model.pooling, cfg.model.conv_widths = 60, pooling, conv_widths
    cfg.model.dropout = dropout
    if conv_widths:
        cfg.model.conv_channels = 32
    return cfg


PRESETS = {
    "sst2-bilstm-max": lambda: sst2("lstm", "max"),
    "sst2-bilstm-attention": lambda: sst2("lstm", "attention"),
    "sst2-transformer": lambda: sst2("transformer", "mean"),
    "sst2-phrases-bilstm-max": lambda: sst2_phrases("max"),
    "sst2-phrases-bilstm-attention": lambda: sst2_phrases("attention"),
    "splice-bilstm": lambda: splice("lstm"),
    "splice-bigru": lambda: splice("gru"),
    "splice-bilstm-pos": lambda: splice_positions("attention"),
    "splice-bilstm-pos-center": lambda: splice_positions("center", dropout=0.3),
    "splice-tdnn-bilstm-pos": lambda: splice_positions("attention", "3,7,11"),
}


def export(run: ClassifyRun) -> Exportable:
    """seqlab export: token ids (B, T), right-padded, and their lengths (B,) in; class logits (B, C) out."""
    if run.model.contextual is not None:
        raise UserError(f"seqlab export: {run.run_dir} reads the char LMs' vectors (model.contextual), whose inputs "
                        "are the sentences' characters; export covers classifiers of token ids alone")
    def batch(generator, lengths: list[int]) -> dict:
        tokens = torch.randint(1, len(run.tokens), (len(lengths), max(lengths)), generator=generator)
        lens = torch.tensor(lengths)
        return {"tokens": tokens.masked_fill(torch.arange(max(lengths)) >= lens[:, None], run.tokens.pad),
                "lengths": lens}

    return recurrent_export(
        run, "classifiers", run.model, batch, ([6, 3], [4, 9, 1]), ["logits"],
        {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}},
        {"read": f"tokens: ids from vocab.json (padding id {run.tokens.pad}); logits: softmax for the "
                 "probabilities of the labels", "labels": run.labels.itos},
        [run.run_dir / "config.json", run.run_dir / "vocab.json"])


# ---------------------------------------------------------------- seqlab serve
@torch.no_grad()
def _panel_action(served, fields: dict, upload=None) -> dict:
    """Class probabilities, and with attention pooling the weight a_t of every token."""
    text = text_field(fields, "text", "the sentence")
    run = served.run
    ids = token_ids(run.tokens, text, run.cfg.data.max_len)
    if not ids:
        raise UserError("the sentence has no tokens the model reads")
    check_lengths([len(ids)], run.model.encoder.max_positions, 1, "the Transformer encoder")
    with served.lock:
        logits, weights = logits_of(run.model, [ids], [words_chars(run.context_vocab, text, ids)], run.tokens.pad,
                                    run.device, need_weights=True)
        p = logits.softmax(-1)[0].float().cpu()
    order = p.argsort(descending=True).tolist()
    out = {"probabilities": [[run.labels.itos[k], round(float(p[k]), 4)] for k in order]}
    pieces = token_pieces(run.tokens, text, ids)
    if weights is not None:
        out["tokens"] = [[t, round(float(w), 4)] for t, w in zip(pieces, weights[0].tolist())]
    else:
        out["note"] = f"this run pools with model.pooling={run.cfg.model.pooling}: no weights over the words"
    return out


PANEL = Panel("Classify", lambda served: [text_box("text", "a sentence to classify")], _panel_action)


TASK = Task(
    name="classify", help="a sequence classifier (many -> one: sentiment, topics, ...)",
    data_help="training file: 'label text' lines, or .csv/.tsv with text and label columns",
    config=ClassifyConfig, presets=PRESETS, setup=setup, build=build, predict=predict_lines,
    predict_options=PredictOptions,
    evaluate=evaluate, evaluate_options=EvaluateOptions, report=report, export=export, test=test,
    panel=PANEL,
)
