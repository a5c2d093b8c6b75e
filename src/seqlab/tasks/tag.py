"""Synchronous tagging, top to bottom: tagged sentences -> BiRNN(-CRF) -> entity or word F1 -> predict.

    seqlab train tag --data eng.train --data.valid=eng.testa --preset conll-bilstm-crf
    seqlab train tag --data pku.utf8 --data.format=segmented --preset pku-bilstm-crf
    seqlab predict RUN_DIR < sentences.txt      CoNLL columns (token, tag), or the segmented sentence
    seqlab evaluate RUN_DIR --data FILE         entity P/R/F1 per type (seqeval), or SIGHAN word P/R/F1 + OOV recall

Entity tags are trained in ``data.train_scheme`` (BIOES by default) whatever the file's
scheme, and written back in the file's own scheme (IOB1 for CoNLL-2003).  The model is
chosen on validation F1 (``selection`` = 1 - F1).
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqlab.data.batching import epoch_batches, num_batches
from seqlab.data.split import hold_out
from seqlab.data.tagged import Sentence, TaggedFile, conll_lines, read_tagged
from seqlab.data.tagschemes import SCHEMES, allowed_transitions, convert, split_tag, words_from_bmes
from seqlab.data.text import check_sentences
from seqlab.data.vocab import Vocabulary
from seqlab.errors import UserError
from seqlab.metrics.chunks import chunk_scores
from seqlab.metrics.segmentation import segmentation_scores
from seqlab.models.tagger import Tagger, TaggerConfig
from seqlab.tasks.registry import Task
from seqlab.train import checkpoint, rundir
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, Trainer, resolve_device, training_device

BOS, EOS = "<s>", "</s>"


@dataclass
class TagDataConfig:
    path: str = ""  # training file
    valid: str = ""  # validation file (default: the last valid_fraction of the training sentences)
    valid_fraction: float = 0.1
    test: str = ""  # a (withheld) test file, scored once at the end of training
    format: str = "conll"  # conll | segmented
    token_column: int = 0
    tag_column: int = -1
    train_scheme: str = "bioes"  # entity tags are learned in this scheme: bioes | iob2 | iob1
    lowercase: bool = True  # word embeddings see lowercased words (the character encoder sees the case)
    zeros: bool = True  # word embeddings see digits as 0 (Lample et al.)
    min_freq: int = 1
    lexicon: str = ""  # segmentation: a word list, one word per line (e.g. the training corpus's word list)
    lexicon_max_len: int = 4  # per character: does a listed word of length 2..this start / end here?


@dataclass
class TagConfig:
    data: TagDataConfig = field(default_factory=TagDataConfig)
    model: TaggerConfig = field(default_factory=TaggerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# ------------------------------------------------------------------ features
class Features:
    """Sentences -> id tensors for :class:`seqlab.models.tagger.Tagger`, and tags back."""

    def __init__(self, cfg: TagDataConfig, scheme: str, vocabs: dict[str, Vocabulary],
                 lexicon: set[str] | None = None) -> None:
        self.cfg, self.scheme, self.vocabs, self.lexicon = cfg, scheme, vocabs, lexicon
        self.segmented = scheme == "bmes"
        self.train_scheme = cfg.train_scheme if scheme in SCHEMES else scheme

    @classmethod
    def build(cls, cfg: TagDataConfig, data: TaggedFile) -> Features:
        if cfg.train_scheme not in SCHEMES:
            raise UserError(f"data.train_scheme must be one of {list(SCHEMES)}, got {cfg.train_scheme!r}")
        f = cls(cfg, data.scheme, {}, read_lexicon(cfg.lexicon) if cfg.lexicon else None)
        if f.lexicon is not None and not f.segmented:
            raise UserError("data.lexicon is for word segmentation (data.format=segmented)")
        if f.lexicon is not None and cfg.lexicon_max_len < 2:
            raise UserError(f"data.lexicon_max_len must be at least 2, got {cfg.lexicon_max_len}")
        sents = data.sentences
        f.vocabs["words"] = Vocabulary.build((f.word_forms(s.tokens) for s in sents), cfg.min_freq)
        if f.segmented:
            f.vocabs["bigrams"] = Vocabulary.build((f.bigram_forms(s.tokens) for s in sents), cfg.min_freq)
        else:
            f.vocabs["chars"] = Vocabulary.build((ch for s in sents for ch in s.tokens), 1)
        f.vocabs["tags"] = Vocabulary.build((f.train_tags(s.tags) for s in sents), 1, specials=())
        return f

    def word_forms(self, tokens: list[str]) -> list[str]:
        if self.segmented:
            return tokens
        forms = [t.lower() for t in tokens] if self.cfg.lowercase else tokens
        return [re.sub(r"\d", "0", t) for t in forms] if self.cfg.zeros else forms

    @staticmethod
    def bigram_forms(chars: list[str]) -> list[str]:
        padded = [BOS] + chars + [EOS]
        return [a + b for a, b in itertools.pairwise(padded)]  # T + 1 bigrams: position t sees t and t+1

    def train_tags(self, tags: list[str]) -> list[str]:
        return convert(tags, self.train_scheme) if self.scheme in SCHEMES else tags

    def file_tags(self, tags: list[str]) -> list[str]:
        """Tags in the training scheme -> the scheme of the training file."""
        return convert(tags, self.scheme) if self.scheme in SCHEMES else tags

    def transitions(self):
        scheme = self.train_scheme if self.scheme in SCHEMES or self.segmented else "plain"
        return allowed_transitions(self.vocabs["tags"].itos, scheme)

    def sizes(self) -> dict:
        sizes = {name: len(v) for name, v in self.vocabs.items()}
        if self.lexicon is not None:
            sizes["lexicon"] = 2 * (self.cfg.lexicon_max_len - 1)
        return sizes

    def lexicon_features(self, chars: list[str]) -> list[list[float]]:
        """Per character: for n = 2..max, is chars[t-n+1..t] a listed word (ends here), is chars[t..t+n-1] (starts)."""
        text, n_max = "".join(chars), self.cfg.lexicon_max_len
        out = []
        for t in range(len(text)):
            ends = [float(t + 1 >= n and text[t + 1 - n : t + 1] in self.lexicon) for n in range(2, n_max + 1)]
            starts = [float(t + n <= len(text) and text[t : t + n] in self.lexicon) for n in range(2, n_max + 1)]
            out.append(ends + starts)
        return out

    def encode(self, tokens: list[str]) -> dict:
        x = {"words": self.vocabs["words"].encode(self.word_forms(tokens))}
        if self.segmented:
            ids = self.vocabs["bigrams"].encode(self.bigram_forms(tokens))
            x["bigrams"] = [[ids[t], ids[t + 1]] for t in range(len(tokens))]
            if self.lexicon is not None:
                x["lexicon"] = self.lexicon_features(tokens)
        else:
            x["chars"] = [self.vocabs["chars"].encode(t) for t in tokens]
        return x

    def encode_tags(self, tags: list[str]) -> list[int]:
        stoi = self.vocabs["tags"].stoi
        return [stoi[t] for t in self.train_tags(tags)]

    def collate(self, items: list[dict], device) -> dict:
        B, T = len(items), max(len(x["words"]) for x in items)
        batch = {"words": torch.zeros(B, T, dtype=torch.long), "lengths": torch.tensor([len(x["words"]) for x in items])}
        if self.segmented:
            batch["bigrams"] = torch.zeros(B, T, 2, dtype=torch.long)
            if self.lexicon is not None:
                batch["lexicon"] = torch.zeros(B, T, 2 * (self.cfg.lexicon_max_len - 1))
        else:
            W = max(len(c) for x in items for c in x["chars"])
            batch["chars"] = torch.zeros(B, T, W, dtype=torch.long)
            batch["char_lengths"] = torch.zeros(B, T, dtype=torch.long)
        for b, x in enumerate(items):
            n = len(x["words"])
            batch["words"][b, :n] = torch.tensor(x["words"])
            if self.segmented:
                batch["bigrams"][b, :n] = torch.tensor(x["bigrams"])
                if "lexicon" in x:
                    batch["lexicon"][b, :n] = torch.tensor(x["lexicon"])
            else:
                for t, c in enumerate(x["chars"]):
                    batch["chars"][b, t, : len(c)] = torch.tensor(c)
                    batch["char_lengths"][b, t] = len(c)
        batch["mask"] = torch.arange(T) < batch["lengths"][:, None]
        return {k: v.to(device) for k, v in batch.items()}


# --------------------------------------------------------- the trainer's view
class TagTask:
    def __init__(self, model: Tagger, cfg: TagConfig, features: Features, train: list[Sentence],
                 valid: list[Sentence], device) -> None:
        self.model, self.cfg, self.features, self.device = model, cfg, features, device
        self.train_words = {w for s in train for w in s.words}  # segmentation: for OOV recall
        self.train = [(features.encode(s.tokens), features.encode_tags(s.tags)) for s in train]
        self.valid = valid
        self.lengths = [len(s.tokens) for s in train]
        self.steps_per_epoch = num_batches(len(self.train), cfg.train.batch_size)
        words = features.vocabs["words"]
        self.singletons = torch.tensor([words.counts.get(w, 0) == 1 for w in words.itos], device=device)

    def batches(self, position):
        return epoch_batches(self.train, self.lengths, self.cfg.train.batch_size, self.cfg.train.seed, position)

    def _batch(self, items):
        batch = self.features.collate([x for x, _ in items], self.device)
        tags = torch.zeros_like(batch["words"])
        for b, (_, y) in enumerate(items):
            tags[b, : len(y)] = torch.tensor(y)
        return batch, tags

    def train_step(self, items):
        batch, tags = self._batch(items)
        p = self.cfg.model.word_dropout
        if p > 0:  # Lample et al.: singletons -> <unk> with probability p, so that <unk> is learned
            drop = self.singletons[batch["words"]] & (torch.rand(tags.shape, device=self.device) < p)
            batch["words"] = batch["words"].masked_fill(drop, self.features.vocabs["words"].unk)
        return self.model.loss(batch, tags), int(batch["lengths"].sum())

    def evaluate(self) -> dict:
        """F1, and the loss on the validation sentences whose tags the model knows (one pass for both)."""
        known = set(self.features.vocabs["tags"].itos)
        gold = [self.features.encode_tags(s.tags) if set(self.features.train_tags(s.tags)) <= known else None
                for s in self.valid]
        scores = score_sentences(self.model, self.features, self.valid, self.train_words, gold)
        return {"loss": scores["loss"], "f1": scores["f1"], "selection": 1.0 - scores["f1"]}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, d: dict) -> None:
        pass


@torch.no_grad()
def decode(model: Tagger, features: Features, sentences: list[list[str]], gold: list | None = None,
           batch_size: int = 64) -> tuple[list[list[str]], float]:
    """Tags (in the training file's scheme) of token sequences, similar lengths batched together.

    With ``gold`` (tag ids per sentence, None where a tag is unknown to the model) also the
    mean sentence loss over the known ones, from the same emissions (else NaN)."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[list[str]] = [[] for _ in sentences]
    itos = features.vocabs["tags"].itos
    total, count = 0.0, 0
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = features.collate([features.encode(sentences[i]) for i in chunk], device)
        e = model.emissions(batch)  # (B, T, K)
        for i, path in zip(chunk, model.paths(e, batch["mask"])):
            out[i] = features.file_tags([itos[k] for k in path])
        rows = [b for b, i in enumerate(chunk) if gold is not None and gold[i] is not None]
        if rows:
            tags = torch.zeros(len(rows), e.shape[1], dtype=torch.long, device=device)
            for r, b in enumerate(rows):
                tags[r, : len(gold[chunk[b]])] = torch.tensor(gold[chunk[b]])
            total += model.sentence_losses(e[rows], tags, batch["mask"][rows]).sum().item()
            count += len(rows)
    return out, (total / count if count else float("nan"))


def score_sentences(model, features: Features, sentences: list[Sentence], train_words: set[str],
                    gold: list | None = None) -> dict:
    """Scores of ``sentences`` (F1 under ``f1`` for every kind), the predictions, and the loss when ``gold`` is given."""
    predicted, loss = decode(model, features, [s.tokens for s in sentences], gold)
    if features.segmented:
        words = [words_from_bmes(s.tokens, p) for s, p in zip(sentences, predicted)]
        scores = segmentation_scores([s.words for s in sentences], words, train_words)
        predicted = words
    elif features.scheme == "plain":
        right = sum(g == p for s, ps in zip(sentences, predicted) for g, p in zip(s.tags, ps))
        n = sum(len(s.tags) for s in sentences)
        scores = {"f1": right / n, "token_accuracy": right / n, "tokens": n}
    else:
        scores = chunk_scores([s.tags for s in sentences], predicted)
    return {**scores, "predicted": predicted, **({"loss": loss} if gold is not None else {})}


# ------------------------------------------------------------------- recipe
def _read(cfg: TagDataConfig, path: str) -> TaggedFile:
    return read_tagged(path, cfg.format, cfg.token_column, cfg.tag_column)


def _splits(cfg: TagDataConfig) -> tuple[TaggedFile, list[Sentence]]:
    if not cfg.path:
        raise UserError("tag needs training data: --data FILE")
    data = _read(cfg, cfg.path)
    if cfg.valid:
        valid = _read(cfg, cfg.valid)
        if valid.scheme != data.scheme and "plain" not in (valid.scheme, data.scheme) and any(
                s.tags != ["O"] * len(s.tags) for s in valid.sentences):
            raise UserError(f"mixed tag schemes: {cfg.path} is {data.scheme.upper()} but {cfg.valid} is "
                            f"{valid.scheme.upper()}")
        return data, valid.sentences
    train, valid = hold_out(data.sentences, cfg.valid_fraction, cfg.path, "sentences")
    return TaggedFile(train, data.scheme, data.path), valid


def train(cfg: TagConfig, run_dir: Path, resume: bool = False, callbacks=None) -> dict:
    run_dir = Path(run_dir)
    device = training_device(cfg.train)
    checkpoint.seed_everything(cfg.train.seed)
    data, valid = _splits(cfg.data)
    features = _load_features(run_dir, cfg) if resume else Features.build(cfg.data, data)
    model = Tagger(cfg.model, features.sizes(), features.transitions()).to(device)
    task = TagTask(model, cfg, features, data.sentences, valid, device)
    trainer = Trainer(task, cfg.train, cfg.optim, run_dir, callbacks)
    if resume:
        trainer.resume()
    elif rundir.start(run_dir, "tag", cfg):
        _save_features(run_dir, features, task.train_words)
    metrics = trainer.fit()
    result = {**metrics, "best_f1": 1.0 - trainer.progress.best, "steps": trainer.progress.step}
    if cfg.data.test:
        result["test"] = evaluate_file(load_run(run_dir, cfg.train.device), cfg.data.test)
    return result


def _save_features(run_dir: Path, f: Features, train_words: set[str]) -> None:
    spec = {"scheme": f.scheme, **{name: v.to_json() for name, v in f.vocabs.items()},
            "word_counts": f.vocabs["words"].counts}
    (run_dir / "vocab.json").write_text(json.dumps(spec, ensure_ascii=False))
    if f.lexicon is not None:  # the run keeps its own copy, so that it predicts without the original file
        (run_dir / "lexicon.txt").write_text("\n".join(sorted(f.lexicon)) + "\n", encoding="utf-8")
    if train_words:
        (run_dir / "train_words.txt").write_text("\n".join(sorted(train_words)) + "\n", encoding="utf-8")


def _load_features(run_dir: Path, cfg: TagConfig) -> Features:
    spec = json.loads((Path(run_dir) / "vocab.json").read_text())
    vocabs = {name: Vocabulary.from_json(spec[name]) for name in ("words", "chars", "bigrams", "tags") if name in spec}
    vocabs["words"].counts = spec.get("word_counts", {})
    lexicon = read_lexicon(Path(run_dir) / "lexicon.txt") if cfg.data.lexicon else None
    return Features(cfg.data, spec["scheme"], vocabs, lexicon)


def read_lexicon(path: str | Path) -> set[str]:
    """A word list: the first whitespace-separated field of each line."""
    from seqlab.data.text import read_text

    return {line.split()[0] for line in read_text(path, "data.lexicon").splitlines() if line.strip()}


@dataclass
class TagRun:
    cfg: TagConfig
    features: Features
    model: Tagger
    run_dir: Path


def load_run(run_dir: str | Path, device: str = "auto") -> TagRun:
    run_dir = Path(run_dir)
    cfg = rundir.read_config(run_dir, "tag", TagConfig())
    features = _load_features(run_dir, cfg)
    model = Tagger(cfg.model, features.sizes(), features.transitions()).to(resolve_device(device))
    checkpoint.load_weights(rundir.trained_checkpoint(run_dir), model)
    return TagRun(cfg, features, model.eval(), run_dir)


def predict_lines(run: TagRun, lines: list[str], options=None) -> list[str]:
    """Segmentation: each line's words joined by spaces.  Otherwise CoNLL lines: token and tag, a
    blank line after each sentence (the input: one sentence per line, tokens separated by spaces)."""
    f = run.features
    check_sentences(lines)
    sentences = [[ch for ch in line if not ch.isspace()] if f.segmented else line.split() for line in lines]
    predicted, _ = decode(run.model, f, sentences)
    if f.segmented:
        return [" ".join(words_from_bmes(tokens, tags)) for tokens, tags in zip(sentences, predicted)]
    return [line for tokens, tags in zip(sentences, predicted) for line in conll_lines(tokens, tags)]


def evaluate_file(run: TagRun, path: str, output: str | None = None, train_words: str | None = None) -> dict:
    """Scores of ``path`` (in the training format); ``output`` writes the predictions beside the gold."""
    data = _read(run.cfg.data, path)
    if run.features.segmented:
        words_file = Path(train_words) if train_words else run.run_dir / "train_words.txt"
        known = set(words_file.read_text(encoding="utf-8").split()) if words_file.is_file() else set()
    else:
        known = set()
    scores = score_sentences(run.model, run.features, data.sentences, known)
    predicted = scores.pop("predicted")
    if output:
        lines = ([" ".join(w) for w in predicted] if run.features.segmented else
                 [line for s, p in zip(data.sentences, predicted) for line in conll_lines(s.tokens, s.tags, p)])
        Path(output).write_text("\n".join(lines) + "\n", encoding="utf-8")
        scores["output"] = output
    return {**scores, "unseen_tags": _unseen_tags(run.features, data)}


def _unseen_tags(f: Features, data: TaggedFile) -> list[str]:
    """Gold tags the model cannot produce: an entity type it never saw, or a plain tag not in its set."""
    gold = {t for s in data.sentences for t in s.tags}
    if f.segmented:
        return []
    if f.scheme in SCHEMES:
        types = {split_tag(t)[1] for t in f.vocabs["tags"].itos}
        return sorted(t for t in gold if t != "O" and split_tag(t)[1] not in types)
    return sorted(gold - set(f.vocabs["tags"].itos))


def _evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="tagged sentences in the training file's format")
    p.add_argument("--output", help="write the predictions (CoNLL: token, gold, predicted; or segmented text)")
    p.add_argument("--train-words", help="segmentation: the training word list for OOV recall "
                                         "(default: the run's own training words)")


def _report(m: dict) -> str:
    if "steps" in m:
        return f"F1 {m['f1']:.4f} (best {m['best_f1']:.4f}) after {m['steps']} steps"
    if "oov_recall" in m:
        return (f"P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  OOV recall {m['oov_recall']:.4f}  "
                f"IV recall {m['iv_recall']:.4f}  (OOV rate {m['oov_rate']:.4f}, {m['gold_words']} words)")
    if "per_type" not in m:
        return f"token accuracy {m['token_accuracy']:.4f} ({m['tokens']} tokens)"
    lines = [(f"entities: P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  "
             f"(token accuracy {m['token_accuracy']:.4f}; {m['sentences']} sentences)")]
    lines += [f"  {t:>6}  P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  n {s['support']}"
              for t, s in m["per_type"].items()]
    if m.get("unseen_tags"):
        lines.append(f"  tags the model never saw (counted wrong): {', '.join(m['unseen_tags'])}")
    return "\n".join(lines)


# ------------------------------------------------------------------- presets
def conll(output: str = "crf", chars: str = "lstm") -> TagConfig:
    """CoNLL-2003 English NER (Lample et al. 2016, no pretrained embeddings), within an hour on a 2-core CPU."""
    cfg = TagConfig()
    cfg.data.format, cfg.data.train_scheme, cfg.data.lowercase, cfg.data.zeros = "conll", "bioes", True, True
    m = cfg.model
    m.cell, m.hidden_size, m.num_layers, m.bidirectional, m.dropout = "lstm", 200, 1, True, 0.5
    m.embed_size, m.char_encoder, m.char_embed_size, m.char_hidden_size = 100, chars, 25, 25
    m.output, m.word_dropout = output, 0.5
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.clip = 2e-3, "cosine", 200, 5.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 16, 40, 60.0  # ~1 min an epoch on 2 cores
    return cfg


def pku() -> TagConfig:
    """Chinese word segmentation, SIGHAN PKU (character unigrams + bigrams, BiLSTM-CRF)."""
    cfg = TagConfig()
    cfg.data.format = "segmented"
    m = cfg.model
    m.cell, m.hidden_size, m.num_layers, m.bidirectional, m.dropout = "lstm", 200, 1, True, 0.3
    m.embed_size, m.bigram_embed_size, m.output = 100, 100, "crf"
    cfg.optim.lr, cfg.optim.schedule, cfg.optim.warmup_steps, cfg.optim.clip = 2e-3, "cosine", 100, 5.0
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 16, 30, 20.0
    return cfg


PRESETS = {
    "conll-bilstm-crf": lambda: conll("crf", "lstm"),
    "conll-bilstm-crf-cnnchar": lambda: conll("crf", "cnn"),
    "conll-bilstm-softmax": lambda: conll("softmax", "lstm"),
    "conll-bilstm-crf-nochar": lambda: conll("crf", "none"),
    "pku-bilstm-crf": pku,
}

class _TagGraph(torch.nn.Module):
    """The exported tagger: the batch tensors of :meth:`Features.collate` in, emissions (B, T, K) out."""

    def __init__(self, model: Tagger, keys: list[str]) -> None:
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, *tensors):
        return self.model.emissions(dict(zip(self.keys, tensors)))


def export(run: TagRun):
    """seqlab export: emissions of a recurrent tagger; decoding (Viterbi with the CRF's scores, or the argmax)
    is left to the caller, the scores written in export.json."""
    from seqlab.export import Exportable

    if run.cfg.model.cell == "transformer":
        raise UserError("seqlab export covers the recurrent taggers; this run has model.cell=transformer")
    f, generator = run.features, torch.Generator().manual_seed(0)
    words = [w for w in f.vocabs["words"].itos if w not in f.vocabs["words"].specials] or ["a"]

    def batch(lengths: list[int]) -> dict:
        picks = [[words[int(i)] for i in torch.randint(len(words), (n,), generator=generator)] for n in lengths]
        full = f.collate([f.encode(tokens) for tokens in picks], "cpu")
        return {k: v for k, v in full.items() if k != "mask"}

    example = batch([5, 2])
    axes = {"words": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "bigrams": {0: "batch", 1: "time"},
            "lexicon": {0: "batch", 1: "time"}, "chars": {0: "batch", 1: "time", 2: "word_length"},
            "char_lengths": {0: "batch", 1: "time"}, "emissions": {0: "batch", 1: "time"}}
    notes = {"read": "inputs as seqlab.tasks.tag.Features.collate builds them from vocab.json; emissions: "
                     "per-step tag scores (B, T, K); decode with crf (Viterbi: start + emissions + transitions"
                     "[previous][next] + end) or, without crf, the argmax per step",
             "tags": f.vocabs["tags"].itos, "scheme": f.train_scheme}
    if run.model.crf is not None:  # the scores with the scheme's forbidden moves already set very low
        from seqlab.nn.crf import FORBIDDEN

        scores = run.model.crf._scores(FORBIDDEN)
        notes["crf"] = {name: t.tolist() for name, t in zip(("transitions", "start", "end"), scores)}
    return Exportable(_TagGraph(run.model, list(example)), example, ["emissions"],
                      {k: v for k, v in axes.items() if k in example or k == "emissions"}, batch([3, 7, 1]), notes)


TASK = Task(
    name="tag", help="a sequence tagger (synchronous many -> many: NER, word segmentation, POS)",
    data_help="training file: CoNLL columns (data.format=conll) or segmented text (data.format=segmented)",
    config=TagConfig, presets=PRESETS, train=train, load=load_run, predict=predict_lines,
    evaluate=lambda run, o: evaluate_file(run, o.data, getattr(o, "output", None), getattr(o, "train_words", None)),
    evaluate_options=_evaluate_options, report=_report, export=export,
)
