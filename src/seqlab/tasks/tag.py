"""Synchronous tagging, top to bottom: tagged sentences -> BiRNN(-CRF) -> entity or word F1 -> predict.

    seqlab train tag --data eng.train --data.valid=eng.testa --preset conll-bilstm-crf
    seqlab train tag --data pku.utf8 --data.format=segmented --preset pku-bilstm-crf
    seqlab predict RUN_DIR < sentences.txt      CoNLL columns (token, tag), or the segmented sentence
    seqlab evaluate RUN_DIR --data FILE         entity P/R/F1 per type (seqeval), SIGHAN word P/R/F1 + OOV recall,
                                                or POS token accuracy, overall and on OOV words

Entity tags are trained in ``data.train_scheme`` (BIOES by default) whatever the file's
scheme, and written back in the file's own scheme (IOB1 for CoNLL-2003).  The model is
chosen on validation F1 (``selection`` = 1 - F1).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from seqlab.data.conllu import blocks, read_conllu, sentence_lines, with_tags, words
from seqlab.data.lines import check_lengths, check_sentences, numbered_chunks
from seqlab.data.split import hold_out
from seqlab.data.tagged import Sentence, TaggedFile, read_conll, read_segmented
from seqlab.data.tagschemes import chunks, words_from_bmes
from seqlab.errors import UserError
from seqlab.export import Exportable
from seqlab.fields import Count, Fraction, Index, Size
from seqlab.models.tagger import Tagger, TaggerConfig
from seqlab.nn.crf import FORBIDDEN
from seqlab.tasks.charlm import contextual_model, contextual_spec, load_for_features
from seqlab.tasks.panel import Panel, text_box, text_field
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.tasks.shared import EVAL_BATCH, BucketedTask, by_length, recurrent_export, train_and_valid
from seqlab.tasks.tag_features import KINDS, CharFeatures, TagFeatures
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig


@dataclass
class TagDataConfig:
    path: str = ""  # training file
    valid: str = ""  # validation file (default: the last valid_fraction of the training sentences)
    valid_fraction: Fraction = 0.1  # without data.valid: this last part of the training sentences is held out
    test: str = ""  # a (withheld) test file, scored once at the end of training
    format: Literal["auto", "conll", "conllu", "segmented"] = "auto"  # auto: conllu for *.conllu files, else conll
    tag_field: Literal["upos", "xpos"] = "upos"  # conllu: the tag learned (universal or language-specific POS)
    token_column: Index = 0  # conll: the token column (negative: from the end)
    tag_column: Index = -1  # conll: the tag column (-1: the last; 1 for CoNLL-2003 POS)
    train_scheme: Literal["bioes", "iob2", "iob1"] = "bioes"  # entity tags are learned in this scheme: bioes | iob2 | iob1
    lowercase: bool = True  # word embeddings see lowercased words (the character encoder sees the case)
    zeros: bool = True  # word embeddings see digits as 0 (Lample et al.)
    min_freq: Count = 1  # words seen fewer times are <unk>
    lexicon: str = ""  # segmentation: a word list, one word per line (e.g. the training corpus's word list)
    lexicon_max_len: Size = 4  # per character: does a listed word of length 2..this start / end here?


@dataclass
class TagConfig:
    data: TagDataConfig = field(default_factory=TagDataConfig)
    model: TaggerConfig = field(default_factory=TaggerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# --------------------------------------------------------- the trainer's view
class TagTask(BucketedTask):
    metric = "f1"

    def __init__(self, model: Tagger, cfg: TagConfig, features: TagFeatures, train: list[Sentence],
                 valid: list[Sentence], device) -> None:
        self.model, self.cfg, self.features, self.device = model, cfg, features, device
        self.train_words = {w for s in train for w in (s.words or s.tokens)}  # the gold words: for OOV figures
        self.examples([(features.encode(s.tokens), features.encode_tags(s.tags)) for s in train],
                      [len(s.tokens) for s in train])
        self.valid = valid
        words = features.vocabs["words"]
        self.singletons = torch.tensor([words.counts.get(w, 0) == 1 for w in words.itos], device=device)
        self.bins = features.frequency_bins().to(device) if cfg.model.aux_loss > 0 else None

    def _batch(self, items):
        batch = self.features.collate([x for x, _ in items], self.device)
        tags = torch.zeros_like(batch["words"])
        for b, (_, y) in enumerate(items):
            tags[b, : len(y)] = torch.tensor(y)
        return batch, tags

    def train_step(self, items):
        batch, tags = self._batch(items)
        bins = self.bins[batch["words"]] if self.bins is not None else None  # of the words before dropout
        p = self.cfg.model.word_dropout
        if p > 0:  # Lample et al.: singletons -> <unk> with probability p, so that <unk> is learned
            drop = self.singletons[batch["words"]] & (torch.rand(tags.shape, device=self.device) < p)
            batch["words"] = batch["words"].masked_fill(drop, self.features.vocabs["words"].unk)
        return self.model.loss(batch, tags, bins), int(batch["lengths"].sum())

    def evaluate(self) -> dict:
        """F1, and the loss on the validation sentences whose tags the model knows (one pass for both)."""
        known = set(self.features.vocabs["tags"].itos)
        gold = [self.features.encode_tags(s.tags) if set(self.features.train_tags(s.tags)) <= known else None
                for s in self.valid]
        scores = score_sentences(self.model, self.features, self.valid, self.train_words, gold)
        return {"loss": scores["loss"], "f1": scores["f1"], "selection": 1.0 - scores["f1"]}

    def save(self, run_dir: Path) -> None:
        self.features.save(run_dir, self.train_words)


@torch.no_grad()
def decode(model: Tagger, features: TagFeatures, sentences: list[list[str]],
           gold: list | None = None) -> tuple[list[list[str]], float]:
    """Tags (in the training file's scheme) of token sequences, similar lengths batched together.

    With ``gold`` (tag ids per sentence, None where a tag is unknown to the model) also the
    mean sentence loss over the known ones, from the same emissions (else NaN)."""
    model.eval()
    device = next(model.parameters()).device
    out: list[list[str]] = [[] for _ in sentences]
    itos = features.vocabs["tags"].itos
    total, count = 0.0, 0
    for chunk in by_length([len(s) for s in sentences]):
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


def score_sentences(model, features: TagFeatures, sentences: list[Sentence], train_words: set[str],
                    gold: list | None = None) -> dict:
    """Scores of ``sentences`` (F1 under ``f1`` for every kind), the predictions, and the loss when ``gold`` is given."""
    predicted, loss = decode(model, features, [s.tokens for s in sentences], gold)
    return {**features.score(sentences, predicted, train_words), **({"loss": loss} if gold is not None else {})}


# ------------------------------------------------------------------- recipe
def _read(cfg: TagDataConfig, path: str) -> TaggedFile:
    fmt = file_format(cfg)
    if fmt == "conllu":
        return read_conllu(path, cfg.tag_field)
    return read_segmented(path) if fmt == "segmented" else read_conll(path, cfg.token_column, cfg.tag_column)


def file_format(cfg: TagDataConfig) -> str:
    """``data.format``, with ``auto`` decided by the training file's name (``*.conllu``: CoNLL-U)."""
    if cfg.format != "auto":
        return cfg.format
    return "conllu" if cfg.path.endswith((".conllu", ".conllu.gz")) else "conll"


def _splits(cfg: TagDataConfig) -> tuple[TaggedFile, list[Sentence]]:
    def held_out(data: TaggedFile) -> tuple[TaggedFile, TaggedFile]:
        train, valid = hold_out(data.sentences, cfg.valid_fraction, cfg.path, "sentences")
        return TaggedFile(train, data.scheme, data.path), TaggedFile(valid, data.scheme, data.path)

    data, valid = train_and_valid(cfg, lambda path: _read(cfg, path), "tag", hold=held_out)
    if valid.scheme != data.scheme and "plain" not in (valid.scheme, data.scheme) and any(
            s.tags != ["O"] * len(s.tags) for s in valid.sentences):
        raise UserError(f"mixed tag schemes: {cfg.path} is {data.scheme.upper()} but {cfg.valid} is "
                        f"{valid.scheme.upper()}")
    return data, valid.sentences


def setup(cfg: TagConfig, resume_dir: Path | None, device) -> TagTask:
    cfg.data.format = file_format(cfg.data)  # decided once; config.json records it
    data, valid = _splits(cfg.data)
    kind = _kind(cfg)
    features = kind.load(resume_dir, cfg.data) if resume_dir else kind.build(cfg.data, data)
    charlm = None
    if cfg.model.contextual and not resume_dir:  # the char LMs' config and vocabulary go into this run's vocab.json
        charlm = load_for_features(cfg.model.contextual)
        features.use_contextual(contextual_spec(charlm, cfg.model.contextual))
    model = _model(cfg, features, device)
    if charlm is not None:  # and their weights into the tagger's (so its checkpoints hold them)
        model.contextual.load_state_dict(charlm.model.state_dict())
    if model.contextual is not None:  # frozen LMs: each sentence's vectors computed once in this training
        model.contextual.keep = True
    return TagTask(model, cfg, features, data.sentences, valid, device)


def _model(cfg: TagConfig, features: TagFeatures, device) -> Tagger:
    sizes = features.sizes()
    if cfg.model.aux_loss > 0:
        sizes["frequency_bins"] = int(features.frequency_bins().max()) + 1
    contextual = contextual_model(features.contextual) if features.contextual is not None else None
    return Tagger(cfg.model, sizes, features.transitions(), contextual).to(device)


def _kind(cfg: TagConfig) -> type[TagFeatures]:
    if cfg.data.format not in KINDS:
        raise UserError(f"data.format must be one of {list(KINDS)}, got {cfg.data.format!r}")
    return KINDS[cfg.data.format]


@dataclass
class TagRun(Run):
    features: TagFeatures


def build(cfg: TagConfig, run_dir: Path, device) -> TagRun:
    features = _kind(cfg).load(run_dir, cfg.data)
    return TagRun(cfg, _model(cfg, features, device), run_dir, device, features)


def predict_lines(run: TagRun, lines: Iterable[str], options=None) -> Iterator[str]:
    """Segmentation: each line's words joined by spaces.  Otherwise CoNLL lines: token and tag, a
    blank line after each sentence (the input: one sentence per line, tokens separated by spaces).
    Streamed: a chunk of lines at a time."""
    if run.cfg.data.format == "conllu":
        yield from predict_conllu(run, lines)
        return
    f = run.features
    for first, chunk in numbered_chunks(lines):
        check_sentences(chunk, first)
        sentences = [f.tokens_of(line) for line in chunk]
        check_lengths(map(len, sentences), run.model.encoder.max_positions, first, "the Transformer encoder")
        predicted, _ = decode(run.model, f, sentences)
        yield from (line for tokens, tags in zip(sentences, predicted) for line in f.predicted_lines(tokens, tags))


def predict_conllu(run: TagRun, lines: Iterable[str]) -> Iterator[str]:
    """A CoNLL-U run's predictions: CoNLL-U sentences come back with the tag field (``data.tag_field``) of their
    word lines predicted and every other byte as it was; a plain line (tokens separated by spaces) comes back as a
    sentence of word lines.  Streamed: a few sentences at a time."""
    field, pending, limit = run.cfg.data.tag_field, [], run.model.encoder.max_positions
    for start, block in blocks(lines):
        if block[0].startswith("#") or "\t" in block[0]:
            items = [(block, words(block, start, "input", field)[0])]
        else:
            items = [(None, line.split()) for line in block]
        check_lengths([len(tokens) for _, tokens in items], limit, start, "the Transformer encoder")
        pending += items
        if len(pending) >= EVAL_BATCH:
            yield from _tagged_blocks(run, pending, field)
            pending = []
    yield from _tagged_blocks(run, pending, field)


def _tagged_blocks(run: TagRun, items: list[tuple[list[str] | None, list[str]]], field: str) -> Iterator[str]:
    sentences = [tokens for _, tokens in items if tokens]
    predicted = iter(decode(run.model, run.features, sentences)[0] if sentences else [])
    for block, tokens in items:
        tags = next(predicted) if tokens else []
        yield from (with_tags(block, tags, field) if block is not None else sentence_lines(tokens, tags, field))
        yield ""


def evaluate_file(run: TagRun, path: str, output: str | None = None, train_words: str | None = None) -> dict:
    """Scores of ``path`` (in the training format); ``output`` writes the predictions beside the gold."""
    data = _read(run.cfg.data, path)
    words_file = Path(train_words) if train_words else run.run_dir / "train_words.txt"
    known = set(words_file.read_text(encoding="utf-8").split()) if words_file.is_file() else set()
    scores = score_sentences(run.model, run.features, data.sentences, known)
    predicted = scores.pop("predicted")
    if output:
        Path(output).write_text("\n".join(run.features.output_lines(data.sentences, predicted)) + "\n",
                                encoding="utf-8")
        scores["output"] = output
    return {**scores, "unseen_tags": run.features.unseen_tags(data)}


@dataclass
class EvaluateOptions:
    data: str = option(help="tagged sentences in the training file's format")
    output: str | None = option(None, "write the predictions (CoNLL: token, gold, predicted; or segmented text)")
    train_words: str | None = option(None, "the training word list for OOV figures "
                                           "(default: the run's own training words)")


def evaluate(run: TagRun, options: EvaluateOptions) -> dict:
    return evaluate_file(run, options.data, options.output, options.train_words)


def test(run: TagRun) -> dict | None:
    """The config's withheld test file (data.test), scored at the end of training."""
    return evaluate_file(run, run.cfg.data.test) if run.cfg.data.test else None


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


def conll_pos(output: str = "softmax") -> TagConfig:
    """Part of speech on CoNLL-2003 (column 2 of eng.train: Penn Treebank tags), the NER recipe on plain tags,
    25 epochs, about 15 minutes on a 2-core CPU (eng.testa, CRF: 95.25 against 94.44 after 10 epochs and the
    perceptron's 94.83; benchmarks/conll_pos.py, 2026-12-04)."""
    cfg = conll(output, "lstm")
    cfg.data.tag_column = 1  # lowercased word embeddings (the character BiLSTM sees the case): 94.07% after 8
    # epochs against 93.73% with the case kept in the word embeddings too (the softmax preset, eng.testa, 2026-11-30)
    cfg.model.word_dropout = 0.25
    cfg.train.batch_size, cfg.train.epochs, cfg.train.max_minutes = 32, 25, 40.0  # 10 epochs: the accuracy still rose
    return cfg


def ud_pos(field: str = "upos", output: str = "softmax") -> TagConfig:
    """Part of speech on Universal Dependencies CoNLL-U (English EWT: 12,544 training sentences), UPOS or XPOS:
    the CoNLL-2003 POS recipe (word and character BiLSTM, 25 epochs), about 15 minutes on a 2-core CPU (EWT dev
    UPOS, CRF: 95.16 against 93.90 after 10 epochs; benchmarks/ud_pos.py, 2026-12-04)."""
    cfg = conll_pos(output)
    cfg.data.format, cfg.data.tag_field = "conllu", field
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
    "conll-pos-bilstm-softmax": lambda: conll_pos("softmax"),
    "conll-pos-bilstm-crf": lambda: conll_pos("crf"),
    "ud-upos-bilstm-softmax": lambda: ud_pos("upos", "softmax"),
    "ud-upos-bilstm-crf": lambda: ud_pos("upos", "crf"),
    "ud-xpos-bilstm-softmax": lambda: ud_pos("xpos", "softmax"),
    "ud-xpos-bilstm-crf": lambda: ud_pos("xpos", "crf"),
    "pku-bilstm-crf": pku,
}

class _TagGraph(torch.nn.Module):
    """The exported tagger: the batch tensors of ``features.collate`` in, emissions (B, T, K) out."""

    def __init__(self, model: Tagger, keys: list[str]) -> None:
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, *tensors):
        return self.model.emissions(dict(zip(self.keys, tensors)))


def export(run: TagRun) -> Exportable:
    """seqlab export: emissions of a recurrent tagger; decoding (Viterbi with the CRF's scores, or the argmax)
    is left to the caller, the scores written in export.json."""
    f = run.features
    words = [w for w in f.vocabs["words"].itos if w not in f.vocabs["words"].specials] or ["a"]

    def batch(generator, lengths: list[int]) -> dict:
        picks = [[words[int(i)] for i in torch.randint(len(words), (n,), generator=generator)] for n in lengths]
        full = f.collate([f.encode(tokens) for tokens in picks], "cpu")
        return {k: v for k, v in full.items() if k != "mask"}

    keys = list(batch(torch.Generator(), [1]))  # the inputs this run's features make
    axes = {"words": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "bigrams": {0: "batch", 1: "time"},
            "lexicon": {0: "batch", 1: "time"}, "chars": {0: "batch", 1: "time", 2: "word_length"},
            "char_lengths": {0: "batch", 1: "time"}, "emissions": {0: "batch", 1: "time"},
            "ctx_forward": {0: "batch", 1: "sentence_chars"}, "ctx_backward": {0: "batch", 1: "sentence_chars"},
            "ctx_forward_at": {0: "batch", 1: "time"}, "ctx_backward_at": {0: "batch", 1: "time"}}
    notes = {"read": "inputs as seqlab.tasks.tag_features builds them (collate) from vocab.json; emissions: "
                     "per-step tag scores (B, T, K); decode with crf (Viterbi: start + emissions + transitions"
                     "[previous][next] + end) or, without crf, the argmax per step",
             "tags": f.vocabs["tags"].itos, "scheme": f.train_scheme}
    if run.model.crf is not None:  # the scores with the scheme's forbidden moves already set very low
        scores = run.model.crf.transition_scores(FORBIDDEN)
        notes["crf"] = {name: t.tolist() for name, t in zip(("transitions", "start", "end"), scores)}
    return recurrent_export(run, "taggers", _TagGraph(run.model, keys), batch, ([5, 2], [3, 7, 1]), ["emissions"],
                            {k: v for k, v in axes.items() if k in keys or k == "emissions"}, notes,
                            f.files(run.run_dir))


# ---------------------------------------------------------------- seqlab serve
def _panel_action(served, fields: dict, upload=None) -> dict:
    """Entities (chunk tags), words (segmentation) or one tag per token (POS), as segments of the text."""
    text = text_field(fields, "text", "the sentence")
    f = served.run.features
    tokens = f.tokens_of(text)
    check_lengths([len(tokens)], served.run.model.encoder.max_positions, 1, "the Transformer encoder")
    with served.lock:
        (tags,), _ = decode(served.run.model, f, [tokens])
    if isinstance(f, CharFeatures):
        words = words_from_bmes(tokens, tags)
        return {"segments": [[w, "word"] for w in words], "kind": "words", "text": "  ".join(words)}
    if f.scheme == "plain":
        return {"segments": [[t, g] for t, g in zip(tokens, tags)], "kind": "tags"}
    segments, at = [], 0
    for kind, start, end in chunks(tags):
        segments += [[t, ""] for t in tokens[at:start]] + [[" ".join(tokens[start:end]), kind]]
        at = end
    segments += [[t, ""] for t in tokens[at:]]
    return {"segments": segments, "kind": "entities"}


PANEL = Panel("Tag", lambda served: [text_box("text", "a sentence to tag")], _panel_action)


TASK = Task(
    name="tag", help="a sequence tagger (synchronous many -> many: NER, word segmentation, POS)",
    data_help="training file: CoNLL columns (data.format=conll) or segmented text (data.format=segmented)",
    config=TagConfig, presets=PRESETS, setup=setup, build=build, predict=predict_lines,
    evaluate=evaluate, evaluate_options=EvaluateOptions, report=lambda run, m: run.features.report(m),
    export=export, test=test,
    panel=PANEL,
)
