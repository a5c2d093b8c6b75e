"""Label -> sentence: a language model conditioned on a class (the notes' one -> many pattern, with text).

    seqlab train conditional_lm --data labelled.tsv [--data.valid dev.txt] [--preset sst2-conditional]
    seqlab generate RUN_DIR --condition positive [--count 5] [--temperature 0.8] [--top-p 0.9]
    seqlab predict RUN_DIR            one condition per input line -> one sampled sentence per line
    seqlab evaluate RUN_DIR [--data dev.txt] [--samples 500] [--classifier SST2_RUN]

Training data: labelled sentences in any format the classify task reads ('label text' lines, or
a CSV/TSV with a header).  ``data.label_names`` ("0=negative,1=positive") gives the labels names
that ``--condition`` accepts besides the labels themselves.  Evaluation: the perplexity of the
validation sentences given their own label, per class; distinct-1 / distinct-2 (distinct n-grams
/ all n-grams) of ``--samples`` sentences per class; and, with ``--classifier`` (a classify run
trained on the same labels), the **label fidelity**: the share of the samples that the classifier
assigns to the asked class.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqlab.data.batching import pad_batch
from seqlab.data.labelled import LabelledFileConfig, read_examples
from seqlab.data.vocab import Vocabulary
from seqlab.errors import UserError
from seqlab.fields import Count, Mass, NonNegative, Seed, Size
from seqlab.generate import GenerateOptions, SampleConfig, SamplingOptions
from seqlab.models.conditional_lm import ConditionalLM, ConditionalLMConfig
from seqlab.tasks.panel import Panel, choice_box, number, sampling_boxes, sampling_of, text_field
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import BucketedTask, chunks, read_vocab, train_and_valid, write_vocab
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig

BOS, EOS = "<bos>", "<eos>"
SPECIALS = ("<pad>", "<unk>", BOS, EOS)


@dataclass
class ConditionalDataConfig(LabelledFileConfig):  # path, valid, format, ...: as the classifier's
    lowercase: bool = True
    min_freq: Count = 2  # rarer words are <unk>
    max_len: Size = 40  # words per sentence (longer ones are cut)
    label_names: str = ""  # names for the labels, e.g. 0=negative,1=positive


@dataclass
class ConditionalConfig:
    data: ConditionalDataConfig = field(default_factory=ConditionalDataConfig)
    model: ConditionalLMConfig = field(default_factory=ConditionalLMConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def label_names(text: str) -> dict[str, str]:
    """``"0=negative,1=positive"`` -> {"0": "negative", "1": "positive"}."""
    names = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        label, sep, name = part.partition("=")
        if not sep or not label.strip() or not name.strip():
            raise UserError(f"data.label_names must look like 0=negative,1=positive, got {text!r}")
        names[label.strip()] = name.strip()
    return names


def words(text: str, cfg: ConditionalDataConfig) -> list[str]:
    return (text.lower() if cfg.lowercase else text).split()[: cfg.max_len]


def encode(examples, vocab: Vocabulary, labels: Vocabulary, cfg: ConditionalDataConfig) -> list[tuple[list[int], int]]:
    """(<bos> w_1 .. w_T <eos> ids, label id) per example; a label the model does not know is an error."""
    out = []
    for ex in examples:
        if ex.label not in labels:
            raise UserError(f"label {ex.label!r} is not one the model was trained with ({', '.join(labels.itos)})")
        out.append((vocab.encode([BOS, *words(ex.text, cfg), EOS]), labels.stoi[ex.label]))
    return out


def _tensors(batch, device):
    tokens, lengths = pad_batch([ids for ids, _ in batch], 0)
    labels = torch.tensor([y for _, y in batch])
    return tokens.to(device), labels.to(device), lengths.to(device)


class ConditionalTask(BucketedTask):
    def __init__(self, model, cfg: ConditionalConfig, vocab: Vocabulary, labels: Vocabulary, train, valid,
                 device) -> None:
        self.model, self.cfg, self.vocab, self.labels, self.device = model, cfg, vocab, labels, device
        encoded = encode(train, vocab, labels, cfg.data)
        self.examples(encoded, [len(ids) for ids, _ in encoded])
        self.valid = encode(valid, vocab, labels, cfg.data)

    def train_step(self, batch):
        tokens, labels, lengths = _tensors(batch, self.device)
        return self.model.loss(tokens, labels, lengths), int((lengths - 1).sum())

    def evaluate(self) -> dict:
        m = perplexities(self.model, self.valid, self.labels, self.device)
        return {**m, "selection": m["loss"]}

    def save(self, run_dir: Path) -> None:
        write_vocab(run_dir, tokens=self.vocab, labels=self.labels, names=label_names(self.cfg.data.label_names))


@torch.no_grad()
def perplexities(model, examples: list[tuple[list[int], int]], labels: Vocabulary, device) -> dict:
    """The loss (nats per predicted token, <eos> included) over all examples and the perplexity per class."""
    model.eval()
    nll = [0.0] * len(labels)
    count = [0] * len(labels)
    for batch in chunks(examples):
        tokens, y, lengths = _tensors(batch, device)
        for k, loss, n in zip(y.tolist(), model.loss(tokens, y, lengths, "none").tolist(), (lengths - 1).tolist()):
            nll[k] += loss
            count[k] += n
    per_class = {labels.itos[k]: round(math.exp(nll[k] / count[k]), 2) for k in range(len(labels)) if count[k]}
    loss = sum(nll) / max(1, sum(count))
    return {"loss": loss, "ppl": math.exp(loss), "ppl_per_class": per_class}


# ------------------------------------------------------------------------ setup / build
def setup(cfg: ConditionalConfig, resume_dir: Path | None, device) -> ConditionalTask:
    label_names(cfg.data.label_names)
    train, valid = train_and_valid(cfg.data, lambda path: read_examples(cfg.data, path), "conditional_lm",
                                   "labelled sentences", "sentences")
    if resume_dir is not None:
        vocab, labels, _ = load_vocab(resume_dir)
    else:
        vocab = Vocabulary.build((words(ex.text, cfg.data) for ex in train), cfg.data.min_freq, SPECIALS)
        labels = Vocabulary.build(([ex.label] for ex in train), 1, ())
    return ConditionalTask(_model(cfg, vocab, labels, device), cfg, vocab, labels, train, valid, device)


def _model(cfg: ConditionalConfig, vocab: Vocabulary, labels: Vocabulary, device) -> ConditionalLM:
    return ConditionalLM(cfg.model, len(vocab), len(labels)).to(device)


def load_vocab(run_dir: Path) -> tuple[Vocabulary, Vocabulary, dict[str, str]]:
    d = read_vocab(run_dir)
    try:
        return Vocabulary.from_json(d["tokens"]), Vocabulary.from_json(d["labels"]), dict(d.get("names", {}))
    except (KeyError, TypeError) as e:
        raise UserError(f"{run_dir / 'vocab.json'} is not a conditional LM's vocabulary (missing {e})") from None


@dataclass
class ConditionalRun(Run):
    vocab: Vocabulary
    labels: Vocabulary
    names: dict[str, str]

    def label_id(self, condition: str) -> int:
        """The label id of ``condition``: a label of the training data, or its name from data.label_names."""
        by_name = {name: label for label, name in self.names.items()}
        label = by_name.get(condition.strip(), condition.strip())
        if label not in self.labels:
            known = [f"{n} ({lab})" for lab, n in self.names.items()] or self.labels.itos
            raise UserError(f"condition {condition!r} is not one the model was trained with; conditions: "
                            f"{', '.join(known)}")
        return self.labels.stoi[label]

    def name(self, label_id: int) -> str:
        label = self.labels.itos[label_id]
        return self.names.get(label, label)


def build(cfg: ConditionalConfig, run_dir: Path, device) -> ConditionalRun:
    vocab, labels, names = load_vocab(run_dir)
    return ConditionalRun(cfg, _model(cfg, vocab, labels, device), run_dir, device, vocab, labels, names)


def sentences(run: ConditionalRun, condition: str, count: int, sampling: SampleConfig, max_len: int = 0) -> list[str]:
    """``count`` sentences sampled given ``condition``."""
    if count < 1:
        raise UserError(f"--count must be at least 1, got {count}")
    v = run.vocab
    ids = run.model.generate(run.label_id(condition), v.stoi[BOS], v.stoi[EOS], max_len or run.cfg.data.max_len + 1,
                             sampling, count)
    return [" ".join(v.itos[i] for i in row) for row in ids]


@dataclass
class PredictOptions(SamplingOptions):
    pass


def predict(run: ConditionalRun, lines: Iterable[str], options: PredictOptions) -> Iterator[str]:
    """One sampled sentence per input line, the line naming the condition (the sampling seed advances per line)."""
    for n, line in enumerate(lines):
        cfg = options.sampling()
        cfg.seed += n
        yield sentences(run, line, 1, cfg)[0]


def distinct(samples: list[str], n: int) -> float:
    """Distinct n-grams / all n-grams over ``samples`` (Li et al. 2016)."""
    grams = [tuple(s.split()[i : i + n]) for s in samples for i in range(len(s.split()) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def fidelity(classifier_dir: str, conditions: dict[str, list[str]], device="auto") -> dict[str, float]:
    """The share of each condition's samples that a classify run assigns to that condition's label."""
    from seqlab.tasks import classify, registry

    if registry.of_run(classifier_dir).name != "classify":
        raise UserError(f"--classifier {classifier_dir} is not a classify run")
    clf = classify.TASK.load(classifier_dir, str(device))
    out = {}
    for label, samples in conditions.items():
        if label not in clf.labels:
            raise UserError(f"--classifier {classifier_dir} does not know label {label!r} ({', '.join(clf.labels.itos)})")
        predicted = classify.probabilities(clf, samples).argmax(-1)
        out[label] = float((predicted == clf.labels.stoi[label]).float().mean())
    return out


@dataclass
class EvaluateOptions:
    data: str | None = option(None, "labelled sentences for the per-class perplexity (default: the run's "
                                    "validation data)")
    samples: Size = option(500, "sentences sampled per class for distinct-n and fidelity")
    temperature: NonNegative = option(0.8, "sampling temperature")
    top_p: Mass = option(1.0, "nucleus sampling mass")
    seed: Seed = option(0, "seed of the samples")
    classifier: str | None = option(None, "a classify run on the same labels: scores label fidelity")
    show: Count = option(3, "samples per class printed in the report")


def evaluate(run: ConditionalRun, options: EvaluateOptions) -> dict:
    cfg = run.cfg.data
    if options.data:
        examples = read_examples(cfg, options.data)
    else:  # the run's own validation sentences
        examples = train_and_valid(cfg, lambda path: read_examples(cfg, path), "conditional_lm", what="sentences")[1]
    m = perplexities(run.model, encode(examples, run.vocab, run.labels, cfg), run.labels, run.device)
    sampled = {}
    for k, label in enumerate(run.labels.itos):
        sampling = SampleConfig(options.temperature, 0, options.top_p, options.seed + k)
        sampled[label] = sentences(run, label, options.samples, sampling)
    m["distinct"] = {run.name(k): {"distinct_1": round(distinct(s, 1), 4), "distinct_2": round(distinct(s, 2), 4)}
                     for k, s in enumerate(sampled.values())}
    m["samples"] = {run.name(k): s[: options.show] for k, s in enumerate(sampled.values())}
    if options.classifier:
        m["fidelity"] = {run.names.get(label, label): v
                         for label, v in fidelity(options.classifier, sampled, run.device).items()}
    m["ppl_per_class"] = {run.names.get(label, label): v for label, v in m["ppl_per_class"].items()}
    return m


def report(run: ConditionalRun, m: dict) -> str:
    lines = [f"perplexity {m['ppl']:.2f} (per class: "
             + ", ".join(f"{k} {v:.2f}" for k, v in m["ppl_per_class"].items()) + ")"]
    for name, d in m["distinct"].items():
        fid = f", label fidelity {m['fidelity'][name]:.3f}" if "fidelity" in m else ""
        lines.append(f"{name}: distinct-1 {d['distinct_1']:.4f}, distinct-2 {d['distinct_2']:.4f}{fid}")
        lines += [f"  {s}" for s in m["samples"][name]]
    return "\n".join(lines)


# ------------------------------------------------------------------------ presets
def sst2_conditional() -> ConditionalConfig:
    """SST-2's labelled phrases (GLUE train.tsv) on a 2-core CPU: an LSTM 512 conditioned in state and input."""
    cfg = ConditionalConfig()
    d = cfg.data
    d.text_column, d.label_column, d.label_names, d.min_freq = "sentence", "label", "0=negative,1=positive", 2
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.clip = 2e-3, "cosine", 200, 1.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 64, 3, 20.0  # ~1,050 steps an epoch
    cfg.train.eval_every = 350
    return cfg


PRESETS = {"sst2-conditional": sst2_conditional}

def generate_text(run_dir, options: GenerateOptions, device: str, write) -> None:
    """``seqlab generate RUN_DIR --condition LABEL``: ``--count`` sentences, a line each."""
    if options.condition is None or options.prime is not None:
        raise UserError(f"{run_dir} is a conditional_lm run: give --condition (not --prime)")
    for sentence in sentences(TASK.load(run_dir, device), options.condition, options.count, options.sampling()):
        write(sentence + "\n")


# ---------------------------------------------------------------- seqlab serve
def _panel_action(served, fields: dict, upload=None) -> dict:
    condition, sampling = text_field(fields, "condition", "the condition"), sampling_of(fields)
    count = number(fields, "count", int, 5, 1, 50)
    with served.lock:
        return {"lines": sentences(served.run, condition, count, sampling)}


def _panel_form(served) -> list[dict]:
    run = served.run
    return [choice_box("condition", "condition", [run.name(i) for i in range(len(run.labels))]),
            *sampling_boxes(("count", "sentences", "5", "50"))]


PANEL = Panel("Sample", _panel_form, _panel_action)


TASK = Task(
    name="conditional_lm", help="label -> sentence: a language model conditioned on a class",
    data_help="labelled sentences: 'label text' lines, or a CSV/TSV with a header (--data.text_column ...)",
    config=ConditionalConfig, presets=PRESETS, setup=setup, build=build, predict=predict, evaluate=evaluate,
    report=report, predict_options=PredictOptions, evaluate_options=EvaluateOptions,
    generate=generate_text, panel=PANEL,
)
