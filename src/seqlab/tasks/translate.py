"""Translation, top to bottom: parallel data -> encoder-decoder -> BLEU/chrF -> translate.

Training uses teacher forcing and cross-entropy over target subwords (padding ignored,
optional label smoothing); batches group sentences of similar length
(:func:`seqlab.data.batching.bucket_batches`).  Scores come from ``sacrebleu`` on
detokenised output against the raw reference lines (its default 13a tokenisation,
case-sensitive).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.data.batching import bucket_batches, epochs, pad_batch
from seqlab.data.files import read_text
from seqlab.data.lines import check_sentences, numbered_chunks
from seqlab.data.parallel import encode_pairs, read_parallel
from seqlab.data.tokens import SubwordVocab, build_vocabs
from seqlab.errors import UserError
from seqlab.fields import NonNegative, Probability, Size
from seqlab.models.seq2seq import Seq2SeqConfig, build_seq2seq
from seqlab.search import beam_search, greedy_search
from seqlab.tasks.panel import Panel, png, text_box, text_field
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Command, Task, option
from seqlab.tasks.shared import by_length, chunks, read_vocab, write_vocab
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, TrainingTask


@dataclass
class ParallelDataConfig:
    path: str = ""  # a directory with train.SRC/train.TGT and val.SRC/val.TGT (Multi30k layout)
    src: str = "de"  # source language: the file suffix (train.de)
    tgt: str = "en"  # target language: the file suffix (train.en)
    vocab_size: Size = 8000  # BPE vocabulary size (per side, or joint)
    joint_vocab: bool = True  # one BPE vocabulary for both sides
    max_len: Size = 100  # subwords per sentence (longer ones are cut)
    max_tokens: Size = 4096  # padded target tokens per batch
    test_src: str = ""  # a (withheld) test pair, translated and scored (BLEU, chrF) at the end of training
    test_tgt: str = ""  # the references of data.test_src, line-aligned


@dataclass
class DecodeConfig:
    beam: Size = 1  # 1: greedy
    alpha: NonNegative = 1.0  # length normalisation exponent
    max_len: Size = 100  # longest output, in subwords
    label_smoothing: Probability = 0.1  # training: label smoothing of the cross-entropy


@dataclass
class TranslateConfig:
    data: ParallelDataConfig = field(default_factory=ParallelDataConfig)
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def split_files(cfg: ParallelDataConfig, split: str) -> tuple[Path, Path]:
    d = Path(cfg.path)
    names = {"train": ["train"], "valid": ["val", "valid", "dev"]}[split]
    for name in names:
        pair = d / f"{name}.{cfg.src}", d / f"{name}.{cfg.tgt}"
        if pair[0].is_file() and pair[1].is_file():
            return pair
    raise UserError(f"data.path {d} has no {split} pair {names[0]}.{cfg.src} / {names[0]}.{cfg.tgt}")


class TranslateTask(TrainingTask):
    """The trainer's view of translation (see :mod:`seqlab.train.trainer`)."""

    def __init__(self, model, cfg: TranslateConfig, src_vocab, tgt_vocab, train_pairs, valid_pairs, device):
        self.model, self.cfg, self.device = model, cfg, device
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.train = encode_pairs(train_pairs, src_vocab, tgt_vocab, cfg.data.max_len)
        self.valid = encode_pairs(valid_pairs, src_vocab, tgt_vocab, cfg.data.max_len)
        self.lengths = [len(t) for _, t in self.train]
        self.steps_per_epoch = len(bucket_batches(self.lengths, cfg.data.max_tokens, cfg.train.seed, 0))

    def _tensors(self, pairs):
        src, src_len = pad_batch([s for s, _ in pairs], self.src_vocab.pad)
        tgt, _ = pad_batch([t for _, t in pairs], self.tgt_vocab.pad)
        return src.to(self.device), src_len.to(self.device), tgt.to(self.device)

    def batches(self, position):
        seed, max_tokens = self.cfg.train.seed, self.cfg.data.max_tokens
        return epochs(lambda epoch: bucket_batches(self.lengths, max_tokens, seed, epoch), position, self.train)

    def loss(self, pairs, smoothing: float):
        src, src_len, tgt = self._tensors(pairs)
        logits = self.model(src, src_len, tgt[:, :-1])  # (B, T-1, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=self.tgt_vocab.pad, label_smoothing=smoothing)
        return loss, int((tgt[:, 1:] != self.tgt_vocab.pad).sum())

    def train_step(self, pairs):
        return self.loss(pairs, self.cfg.decode.label_smoothing)

    def evaluate(self) -> dict:
        total, count = 0.0, 0
        for pairs in chunks(self.valid):
            loss, n = self.loss(pairs, 0.0)
            total, count = total + loss.item() * n, count + n
        return {"loss": total / count, "ppl": float(torch.tensor(total / count).exp())}

    def save(self, run_dir: Path) -> None:
        tgt = self.tgt_vocab
        write_vocab(run_dir, src=self.src_vocab, tgt=None if tgt is self.src_vocab else tgt)  # None: joint


def setup(cfg: TranslateConfig, resume_dir: Path | None, device) -> TranslateTask:
    _check_test_pair(cfg.data)
    train_pairs, valid_pairs = read_parallel(*split_files(cfg.data, "train")), read_parallel(*split_files(cfg.data, "valid"))
    if resume_dir:
        src_vocab, tgt_vocab = _load_vocabs(resume_dir)
    else:
        src_vocab, tgt_vocab = build_vocabs(train_pairs, cfg.data.vocab_size, cfg.data.joint_vocab)
    return TranslateTask(_model(cfg, src_vocab, tgt_vocab, device), cfg, src_vocab, tgt_vocab, train_pairs, valid_pairs, device)


@dataclass
class TranslateRun(Run):
    src_vocab: object
    tgt_vocab: object


def build(cfg: TranslateConfig, run_dir: Path, device) -> TranslateRun:
    src_vocab, tgt_vocab = _load_vocabs(run_dir)
    return TranslateRun(cfg, _model(cfg, src_vocab, tgt_vocab, device), run_dir, device, src_vocab, tgt_vocab)


def _model(cfg: TranslateConfig, src_vocab, tgt_vocab, device):
    return build_seq2seq(cfg.model, len(src_vocab), len(tgt_vocab)).to(device)


def _load_vocabs(run_dir: Path) -> tuple[SubwordVocab, SubwordVocab]:
    parts = read_vocab(run_dir)
    src = SubwordVocab.from_json(parts["src"])
    return src, (src if parts["tgt"] is None else SubwordVocab.from_json(parts["tgt"]))


def translate_lines(run: TranslateRun, lines: list[str], beam: int | None = None, first: int = 1) -> list[str]:
    """Translate source sentences with a loaded run; sorted by length for speed (``first``: the
    input line number of ``lines[0]``, for errors).  Sources are cut to ``data.max_len`` tokens."""
    cfg, src_vocab, tgt_vocab, model = run.cfg, run.src_vocab, run.tgt_vocab, run.model
    check_sentences(lines, first)
    beam = cfg.decode.beam if beam is None else beam
    device = run.device
    ids = [src_vocab.encode(line)[: cfg.data.max_len] for line in lines]
    out: list[str] = [""] * len(lines)
    for chunk in by_length([len(x) for x in ids]):
        src, lengths = pad_batch([ids[i] for i in chunk], src_vocab.pad)
        src, lengths = src.to(device), lengths.to(device)
        args = (model, src, lengths, tgt_vocab.bos, tgt_vocab.eos, cfg.decode.max_len)
        hyps = greedy_search(*args) if beam == 1 else beam_search(*args, beam=beam, alpha=cfg.decode.alpha)
        for i, hyp in zip(chunk, hyps):
            out[i] = tgt_vocab.decode(hyp)
    return out


def predict(run: TranslateRun, lines: Iterable[str], options: PredictOptions) -> Iterator[str]:
    """The translation of each source line, streamed: a chunk of lines at a time."""
    for first, chunk in numbered_chunks(lines):
        yield from translate_lines(run, chunk, options.beam, first=first)


def score(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU and chrF from sacrebleu (13a tokenisation, case-sensitive).

    ``bleu_lc`` is the same BLEU on lowercased text, the casing of most published
    Multi30k baselines.
    """
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise UserError(f"{len(hypotheses)} translations but {len(references)} references")
    bleu, bleu_lc, chrf = BLEU(), BLEU(lowercase=True), CHRF()
    return {"bleu": round(bleu.corpus_score(hypotheses, [references]).score, 2),
            "bleu_lc": round(bleu_lc.corpus_score(hypotheses, [references]).score, 2),
            "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
            "bleu_signature": str(bleu.get_signature()), "bleu_lc_signature": str(bleu_lc.get_signature())}


@torch.no_grad()
def attention_map(run, sentence: str) -> tuple[str, list[str], list[str], torch.Tensor]:
    """Greedy translation of one sentence with the cross-attention of every output step.

    Returns (translation, source pieces, output pieces, weights (T_out, S)); for a
    Transformer the map is the last decoder layer's, averaged over heads.
    """
    cfg, src_vocab, tgt_vocab, model = run.cfg, run.src_vocab, run.tgt_vocab, run.model
    if not sentence.strip():
        raise UserError("--src must not be empty")
    device = run.device
    src = torch.tensor([src_vocab.encode(sentence)[: cfg.data.max_len]], device=device)
    memory = model.encode(src, torch.tensor([src.shape[1]], device=device))
    state, token = model.init_state(memory), torch.tensor([tgt_vocab.bos], device=device)
    out, rows = [], []
    for _ in range(cfg.decode.max_len):
        logits, state, weights = model.decode_step(token, state, memory)
        token = logits.argmax(-1)
        if int(token) == tgt_vocab.eos:
            break
        out.append(int(token))
        rows.append(weights[0])
    pieces = [tgt_vocab.tokenizer.decode([i]).strip() or "_" for i in out]
    weights = torch.stack(rows) if rows else torch.zeros(0, src.shape[1])
    return tgt_vocab.decode(out), src_vocab.tokens(sentence)[: src.shape[1]], pieces, weights.cpu()


# ------------------------------------------------------------------------ presets
def multi30k(arch: str) -> TranslateConfig:
    """Multi30k De->En at tutorial scale (bentrevett/pytorch-seq2seq #3 and legacy #6 as the reference)."""
    cfg = TranslateConfig()
    cfg.data.src, cfg.data.tgt, cfg.data.vocab_size, cfg.data.max_tokens = "de", "en", 8000, 2048
    cfg.model.arch = arch
    if arch == "rnn":  # bidirectional GRU encoder, GRU decoder with additive attention
        cfg.model.embed_size, cfg.model.hidden_size, cfg.model.dropout = 256, 256, 0.3
        cfg.optim.lr, cfg.optim.clip = 1e-3, 1.0
    else:  # 3 + 3 layers, d 256, 8 heads, FFN 512
        cfg.model.d_model, cfg.model.num_heads, cfg.model.d_ff, cfg.model.dropout = 256, 8, 512, 0.1
        cfg.model.enc_layers = cfg.model.dec_layers = 3
        cfg.optim.lr, cfg.optim.warmup_steps, cfg.optim.clip = 5e-4, 400, 1.0
    cfg.optim.schedule, cfg.train.max_minutes = "cosine", 60.0
    # as many epochs as fit the hour on a 2-core CPU (~1.4 s a step for the GRU, ~1 s for the Transformer)
    cfg.train.epochs = 10 if arch == "rnn" else 13
    return cfg


PRESETS = {
    "multi30k-gru-attention": lambda: multi30k("rnn"),
    "multi30k-transformer": lambda: multi30k("transformer"),
}


# ---------------------------------------------------------------- task interface
@dataclass
class PredictOptions:
    beam: Size | None = option(None, "beam size (default: the run's decode.beam)")


@dataclass
class EvaluateOptions:
    src: str = option(help="source sentences, one per line")
    ref: str = option(help="reference translations, line-aligned with --src")
    beam: Size | None = option(None, "beam size (default: the run's decode.beam)")


def evaluate_files(run: TranslateRun, options: EvaluateOptions) -> dict:
    """BLEU / chrF of ``options.src`` translated against ``options.ref``."""
    sources, references = read_text(options.src, "--src").splitlines(), read_text(options.ref, "--ref").splitlines()
    if len(sources) != len(references):
        raise UserError(f"--src has {len(sources)} lines but --ref has {len(references)}")
    return {**score(translate_lines(run, sources, options.beam), references), "sentences": len(sources)}


def test(run: TranslateRun) -> dict | None:
    """The config's withheld test pair (data.test_src / data.test_tgt), translated and scored after training."""
    d = run.cfg.data
    _check_test_pair(d)
    return evaluate_files(run, EvaluateOptions(d.test_src, d.test_tgt)) if d.test_src else None


def _check_test_pair(d: ParallelDataConfig) -> None:
    if bool(d.test_src) != bool(d.test_tgt):
        raise UserError(f"data.test_src and data.test_tgt go together, got {d.test_src!r} and {d.test_tgt!r}")


def report(run: TranslateRun, m: dict) -> str:
    return (f"BLEU {m['bleu']:.2f} (lowercased {m['bleu_lc']:.2f})  chrF {m['chrf']:.2f}  "
            f"({m['sentences']} sentences; {m['bleu_signature']})")


# ---------------------------------------------------------------- seqlab plot attention
@dataclass
class AttentionOptions:
    run_dir: str = option(help="a translate run", positional=True)
    src: str = option(help="the source sentence")
    out: str | None = option(None, "PNG path (default RUN_DIR/attention.png)")


def plot_attention_map(options: AttentionOptions) -> None:
    """``seqlab plot attention RUN_DIR --src TEXT``: the translation, and the cross-attention heatmap."""
    from seqlab.plots import plot_attention

    text, src, out, weights = attention_map(TASK.load(options.run_dir), options.src)
    print(text)
    out_path = Path(options.out or Path(options.run_dir) / "attention.png")
    print(plot_attention(weights, src, out, out_path, f"attention: {options.src[:40]}"))


# ---------------------------------------------------------------- seqlab serve
def _panel_action(served, fields: dict, upload=None) -> dict:
    from seqlab.plots import plot_attention

    text = text_field(fields, "text", "the source sentence")
    with served.lock:
        out, src, pieces, weights = attention_map(served.run, text)
    if not pieces:
        return {"text": out, "note": "the translation is empty: no attention to show"}
    return {"text": out, "image": png(lambda path: plot_attention(weights, src, pieces, path, f"attention: {text[:40]}"))}


PANEL = Panel("Translate", lambda served: [text_box("text", "a source sentence")], _panel_action)


TASK = Task(
    name="translate", help="an encoder-decoder (translation)", command="translate",
    data_help="a directory with train.SRC/train.TGT and val.SRC/val.TGT",
    config=TranslateConfig, presets=PRESETS, setup=setup, build=build,
    predict=predict, predict_options=PredictOptions,
    evaluate=evaluate_files, evaluate_options=EvaluateOptions, report=report, test=test,
    panel=PANEL,
    commands={"attention": Command("cross-attention heatmap of one translated sentence", AttentionOptions,
                                   plot_attention_map, group="plot")},
)
