"""What each task's panel does with a request: the task's own functions, their result as JSON for the page.

A :class:`Panel` is one loaded run.  ``ACTIONS[task]`` maps the run's task to its panel action:
``action(panel, fields, upload) -> dict``, where ``fields`` are the form's values (strings) and
``upload`` an uploaded file's bytes (speech, handwriting) or None.  The dict holds what the page
shows: ``text``, ``lines``, ``probabilities`` ([label, p] pairs), ``tokens`` ([token, weight] pairs:
the attention-pooling weights), ``segments`` ([text, label] pairs: entities or words), ``image``
(a PNG as a data URL).  A bad value is a :class:`~seqlab.errors.UserError` whose message the page
shows; the plots are the CLI's own (:mod:`seqlab.plots`).
"""
from __future__ import annotations

import base64
import functools
import math
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from seqlab.errors import UserError
from seqlab.tasks import registry

MAX_CHARS = 10_000  # text fields longer than this are refused (the page says so)
MAX_UPLOAD = 20_000_000  # bytes
MAX_LENGTH = 2_000  # tokens an LM panel generates at most
PLOT_LOCK = threading.Lock()  # matplotlib's pyplot is not thread-safe


class Panel:
    """A run loaded for the page; ``lock`` serialises the model's use across requests."""

    def __init__(self, index: int, run_dir: str | Path, device: str = "auto") -> None:
        self.index, self.run_dir = index, Path(run_dir)
        self.task = registry.of_run(self.run_dir)
        self.run = self.task.load(self.run_dir, device)
        self.lock = threading.Lock()
        self._gradients: str | None = None

    def describe(self) -> dict:
        """What the page needs to lay out this panel."""
        d = {"index": self.index, "name": self.run_dir.name, "path": str(self.run_dir), "task": self.task.name,
             "help": self.task.help, "recurrent": recurrent_layer(self.run.model) is not None}
        if self.task.name == "conditional_lm":
            d["conditions"] = [self.run.name(i) for i in range(len(self.run.labels))]
        if self.task.name == "forecast":
            d["rows"] = [self.run.cfg.data.lookback, len(self.prepared.series.values)]
        return d

    @functools.cached_property
    def prepared(self):
        """A forecast run's training series, read once."""
        return self.run.prepare(None)

    def gradients(self) -> str:
        """The gradient-flow plot of this run's first recurrent layer (computed once)."""
        if self._gradients is None:
            with self.lock:
                self._gradients = png(lambda out: gradient_flow_png(self.run.model, self.run_dir.name, out))
        return self._gradients


# ------------------------------------------------------------------------ helpers
def text_field(fields: dict, name: str, what: str) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise UserError(f"{what} is empty: type something first")
    if len(value) > MAX_CHARS:
        raise UserError(f"{what} has {len(value):,} characters; the limit is {MAX_CHARS:,}")
    return value


def number(fields: dict, name: str, kind: type, default, low=None, high=None):
    raw = fields.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = kind(str(raw).strip())
    except ValueError:
        raise UserError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise UserError(f"{name} must lie in [{low}, {high}], got {value}")
    return value


def png(draw: Callable[[Path], Path]) -> str:
    """A data URL of the PNG that ``draw(path)`` writes."""
    with tempfile.TemporaryDirectory() as tmp, PLOT_LOCK:
        return _data_url(Path(draw(Path(tmp) / "plot.png")))


def uploaded(upload: bytes | None, name: str | None, suffix: str, what: str, tmp: str) -> str:
    """The upload written to ``tmp`` under its own file name (letters, digits, ``._-`` kept), for the plots' titles."""
    if not upload:
        raise UserError(f"no {what} uploaded: choose a file first")
    if len(upload) > MAX_UPLOAD:
        raise UserError(f"the {what} has {len(upload):,} bytes; the limit is {MAX_UPLOAD:,}")
    safe = "".join(c for c in Path(name or "").name if c.isalnum() or c in "._-").lstrip(".")
    path = Path(tmp) / (safe or f"upload{suffix}")
    path.write_bytes(upload)
    return str(path)


def recurrent_layer(model: torch.nn.Module):
    """The first seqlab RNN / LSTM / GRU layer in ``model`` (None: not a recurrent model)."""
    from seqlab.nn import GRU, LSTM, RNN

    return next((m for m in model.modules() if isinstance(m, (RNN, LSTM, GRU))), None)


def gradient_flow_png(model: torch.nn.Module, name: str, out: Path, steps: int = 100) -> Path:
    """||dL_T/dh_k|| through the model's first recurrent layer (its first layer, forward direction), for
    unit-variance random inputs and the loss 0.5 ||h_T||^2: how far back the trained weights carry a gradient."""
    from seqlab.nn import gradient_flow
    from seqlab.plots import plot_gradient_flow

    layer = recurrent_layer(model)
    if layer is None:
        raise UserError(f"{name} has no recurrent layer (a Transformer or a feed-forward model): no gradient flow")
    p = next(layer.parameters())
    x = torch.randn(8, steps, layer.input_size, generator=torch.Generator().manual_seed(0)).to(p)
    time = 1 if layer.batch_first else 0
    norms = gradient_flow(layer, x.movedim(1, time), lambda out: 0.5 * out.select(time, -1).pow(2).sum(),
                          first_only=True)
    cell = type(layer).__name__
    return plot_gradient_flow({f"{name} ({cell}, layer 1)": norms.tolist()}, out,
                              f"gradient flow back from step T={steps} (trained weights, random inputs)")


# ------------------------------------------------------------------------ one action per task
def lm_stream(panel: Panel, fields: dict) -> Iterator[str]:
    """The prompt, then the new text as it is generated; the first item is checked before the page sees any."""
    from seqlab.tasks.lm import continue_text

    text_field(fields, "prompt", "the prompt")  # checked; the prompt itself keeps its spaces
    prompt, sampling = fields["prompt"], sampling_of(fields)
    length = number(fields, "length", int, 200, 1, MAX_LENGTH)
    return _streamed(lambda on_text: continue_text(panel.run, prompt, length, sampling, on_text), panel.lock)


def sampling_of(fields: dict):
    """The sampling settings of an LM panel's form (seqlab.generate.SampleConfig), checked."""
    from seqlab.generate import SampleConfig

    cfg = SampleConfig(number(fields, "temperature", float, 0.8, 0, 10), number(fields, "top_k", int, 0, 0),
                       number(fields, "top_p", float, 1.0, 0, 1), number(fields, "seed", int, 0))
    cfg.check()
    return cfg


def _streamed(produce: Callable[[Callable[[str], None]], object], lock: threading.Lock) -> Iterator[str]:
    """Run ``produce(on_text)`` in a thread and yield what it passes to ``on_text``; a UserError raised
    before its first text is raised here (so the page gets a message, not a broken stream)."""
    import queue

    q: queue.Queue = queue.Queue()  # unbounded (at most MAX_LENGTH pieces): a reader that left never blocks the model
    done = object()

    def work():
        try:
            with lock:
                produce(lambda s: q.put(s))
        except Exception as e:  # noqa: BLE001 - handed to the reader, which raises or reports it
            q.put(e)
        q.put(done)

    threading.Thread(target=work, daemon=True).start()
    first = q.get()
    if isinstance(first, Exception):
        q.get()
        raise first

    def rest() -> Iterator[str]:
        yield first
        while (item := q.get()) is not done:
            if isinstance(item, Exception):
                yield f"\n[stopped: {item}]"
            else:
                yield item

    return rest()


def conditional_lm(panel: Panel, fields: dict, upload=None) -> dict:
    from seqlab.tasks.conditional_lm import sentences

    condition, sampling = text_field(fields, "condition", "the condition"), sampling_of(fields)
    count = number(fields, "count", int, 5, 1, 50)
    with panel.lock:
        return {"lines": sentences(panel.run, condition, count, sampling)}


@torch.no_grad()
def classify(panel: Panel, fields: dict, upload=None) -> dict:
    """Class probabilities, and with attention pooling the weight a_t of every token."""
    from seqlab.data.lines import check_lengths
    from seqlab.tasks.classify import token_ids

    text = text_field(fields, "text", "the sentence")
    run = panel.run
    ids = token_ids(run.tokens, text, run.cfg.data.max_len)
    if not ids:
        raise UserError("the sentence has no tokens the model reads")
    check_lengths([len(ids)], run.model.encoder.max_positions, 1, "the Transformer encoder")
    with panel.lock:
        logits, weights = run.model(torch.tensor([ids], device=run.device), torch.tensor([len(ids)], device=run.device),
                                    need_weights=True)
        p = logits.softmax(-1)[0].float().cpu()
    order = p.argsort(descending=True).tolist()
    out = {"probabilities": [[run.labels.itos[k], round(float(p[k]), 4)] for k in order]}
    pieces = _pieces(run.tokens, text, ids)
    if weights is not None:
        out["tokens"] = [[t, round(float(w), 4)] for t, w in zip(pieces, weights[0].tolist())]
    else:
        out["note"] = f"this run pools with model.pooling={run.cfg.model.pooling}: no weights over the words"
    return out


@torch.no_grad()
def bilm(panel: Panel, fields: dict, upload=None) -> dict:
    """Each word's surprisal -log p (nats) from the forward direction (its left context) and from the backward
    one (its right context), and the sentence's loss and perplexity."""
    import torch.nn.functional as F

    from seqlab.tasks.bilm import encode_texts

    text = text_field(fields, "text", "the sentence")
    run = panel.run
    (ids,) = encode_texts(run.tokens, [text], run.cfg.data.max_len)
    if len(ids) < 2:
        raise UserError("the sentence needs two tokens or more: the biLM predicts each from the others")
    with panel.lock:
        x = torch.tensor([ids], device=run.device)
        forward, backward = run.model(x, torch.tensor([len(ids)], device=run.device))
    left = [None] + F.cross_entropy(forward[0, :-1].float(), x[0, 1:], reduction="none").tolist()
    right = F.cross_entropy(backward[0, 1:].float(), x[0, :-1], reduction="none").tolist() + [None] \
        if backward is not None else [None] * len(ids)
    show = lambda v: "—" if v is None else f"{v:.2f}"
    lines = [f"{'token':<20} {'-log p (left)':>14} {'-log p (right)':>15}"]
    lines += [f"{t:<20} {show(a):>14} {show(b):>15}" for t, a, b in zip(_pieces(run.tokens, text, ids), left, right)]
    predicted = [v for v in left + right if v is not None]  # the biLM's loss: every prediction of both directions
    loss = sum(predicted) / len(predicted)
    return {"lines": lines, "note": f"loss {loss:.4f} nats per predicted token, perplexity {math.exp(loss):.2f}"}


def _pieces(tokens, text: str, ids: list[int]) -> list[str]:
    """The token strings the classifier read (word, char or BPE pieces)."""
    if hasattr(tokens, "split"):
        return tokens.split(text, tokens.lowercase)[: len(ids)]
    return [tokens.subwords.tokenizer.decode([i]).strip() or "_" for i in ids]


def tag(panel: Panel, fields: dict, upload=None) -> dict:
    """Entities (chunk tags), words (segmentation) or one tag per token (POS), as segments of the text."""
    from seqlab.data.lines import check_lengths
    from seqlab.data.tagschemes import chunks, words_from_bmes
    from seqlab.tasks.tag import decode
    from seqlab.tasks.tag_features import CharFeatures

    text = text_field(fields, "text", "the sentence")
    f = panel.run.features
    tokens = f.tokens_of(text)
    check_lengths([len(tokens)], panel.run.model.encoder.max_positions, 1, "the Transformer encoder")
    with panel.lock:
        (tags,), _ = decode(panel.run.model, f, [tokens])
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


def translate(panel: Panel, fields: dict, upload=None) -> dict:
    from seqlab.plots import plot_attention
    from seqlab.tasks.translate import attention_map

    text = text_field(fields, "text", "the source sentence")
    with panel.lock:
        out, src, pieces, weights = attention_map(panel.run, text)
    if not pieces:
        return {"text": out, "note": "the translation is empty: no attention to show"}
    return {"text": out, "image": png(lambda path: plot_attention(weights, src, pieces, path, f"attention: {text[:40]}"))}


def forecast(panel: Panel, fields: dict, upload=None) -> dict:
    from seqlab.plots import plot_forecast
    from seqlab.tasks.forecast import forecast_at, start_row

    prep = panel.prepared
    raw = (fields.get("row") or "").strip()
    row = start_row(prep.series, raw or None, panel.run.cfg.data.lookback)
    with panel.lock:
        f = forecast_at(panel.run, prep, row)
    lines = [", ".join([t, *(f"{v:.4g}" for v in values.tolist())]) for t, values in zip(f["labels"], f["forecast"])]
    title = f"{panel.run_dir.name}: forecast from row {row} ({f['labels'][0]})"
    return {"lines": lines[:48], "image": png(lambda path: plot_forecast(f, path, title))}


def _upload_predict(panel: Panel, fields: dict, upload: bytes | None, suffix: str, what: str) -> dict:
    """The task's own predict on one uploaded file, with its ``--plot``: the output and the plot."""
    task = panel.task
    with tempfile.TemporaryDirectory() as tmp:
        path = uploaded(upload, fields.get("filename"), suffix, what, tmp)
        plot = Path(tmp) / "plot.png"
        options = task.predict_options(files=[path], beam=number(fields, "beam", int, 1, 1, 64), plot=str(plot))
        with panel.lock, PLOT_LOCK:
            (line,) = list(task.predict(panel.run, [], options))
        return {"text": line.split("\t", 1)[1].replace("\t", "  "), "image": _data_url(plot)}


def speech(panel: Panel, fields: dict, upload: bytes | None) -> dict:
    """The digits of an uploaded WAV; the log-mel spectrogram with the CTC posteriors (or frame labels)."""
    return _upload_predict(panel, fields, upload, ".wav", "WAV recording")


def handwriting(panel: Panel, fields: dict, upload: bytes | None) -> dict:
    """The digits of an uploaded strip; the attention of each digit (or CTC's posteriors) over the columns."""
    return _upload_predict(panel, fields, upload, ".png", "image")


def memory(panel: Panel, fields: dict, upload=None) -> dict:
    from seqlab.tasks.memory import PredictOptions, predict

    options = PredictOptions(examples=number(fields, "examples", int, 3, 1, 20), seed=number(fields, "seed", int, 0))
    with panel.lock:
        return {"lines": list(predict(panel.run, [], options))}


def _data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


ACTIONS: dict[str, Callable[[Panel, dict, bytes | None], dict]] = {
    "conditional_lm": conditional_lm, "classify": classify, "tag": tag, "translate": translate,
    "forecast": forecast, "speech": speech, "handwriting": handwriting, "memory": memory, "bilm": bilm,
}  # "lm" streams: lm_stream
