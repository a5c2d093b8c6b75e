"""A task's panel in ``seqlab serve``, declared by the task: its form, its button and what a request does.

A task sets ``panel=Panel(...)`` on its :class:`~seqlab.tasks.registry.Task`; ``seqlab serve`` knows no task by
name.  ``form(served)`` lists the form's controls (built with :func:`text_box`, :func:`number_box`,
:func:`choice_box`, :func:`file_box`; computed per loaded run, so a control can show the run's own labels or
rows), ``verb`` names the button, and one of:

* ``action(served, fields, upload) -> dict``: ``fields`` are the form's values (strings), ``upload`` an uploaded
  file's bytes (``upload=True``) or None.  The dict holds what the page shows: ``text``, ``lines``,
  ``probabilities`` ([label, p] pairs), ``tokens`` ([token, weight] pairs: attention-pooling weights),
  ``segments`` ([text, label] pairs; ``kind``: entities, words or tags), ``image`` (a PNG as a data URL), ``note``;
* ``stream(served, fields) -> iterator of str``: text streamed as it is made (:func:`streamed`).

``served`` is the loaded run as the server holds it: ``run``, ``run_dir``, ``task``, ``lock`` (serialises the
model's use across requests) and ``state`` (a dict the task may cache in).  A bad value is a
:class:`~seqlab.errors.UserError` whose message the page shows.
"""
from __future__ import annotations

import base64
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.errors import UserError

MAX_CHARS = 10_000  # text fields longer than this are refused (the page says so)
MAX_UPLOAD = 20_000_000  # bytes
MAX_LENGTH = 2_000  # tokens a language model's panel generates at most
PLOT_LOCK = threading.Lock()  # matplotlib's pyplot is not thread-safe


@dataclass(frozen=True)
class Panel:
    """What a task's panel shows and does (see the module's docstring)."""

    verb: str
    form: Callable[[Any], list[dict]]
    action: Callable[[Any, dict, bytes | None], dict] | None = None
    stream: Callable[[Any, dict], Iterator[str]] | None = None
    upload: bool = False  # the request's body is an uploaded file (its form fields in the query string)


# ------------------------------------------------------------------------ the form's controls
def text_box(name: str, placeholder: str) -> dict:
    return {"kind": "textarea", "name": name, "class": name, "placeholder": placeholder}


def number_box(name: str, label: str, value: str, **attrs: str) -> dict:
    """A number input (``attrs``: min, max, step, class)."""
    return {"kind": "input", "name": name, "label": label, "value": value, "type": "number", "attrs": attrs}


def choice_box(name: str, label: str, choices: list[str]) -> dict:
    return {"kind": "select", "name": name, "label": label, "class": name, "choices": choices}


def file_box(accept: str) -> dict:
    return {"kind": "file", "name": "file", "class": "file", "accept": accept}


def sampling_boxes(count: tuple[str, str, str, str] | None = None) -> list[dict]:
    """Temperature (and top-k, top-p), then ``count`` = (name, label, value, max) and the seed: a sampling form."""
    boxes = [number_box("temperature", "temperature", "0.8", step="0.1", min="0")]
    if count is None:
        boxes += [number_box("top_k", "top-k", "0", min="0"),
                  number_box("top_p", "top-p", "1", step="0.05", min="0", max="1"),
                  number_box("length", "length", "200", min="1", max=str(MAX_LENGTH))]
    else:
        name, label, value, high = count
        boxes.append(number_box(name, label, value, min="1", max=high))
    return [*boxes, number_box("seed", "seed", "0")]


# ------------------------------------------------------------------------ reading a request
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


def sampling_of(fields: dict):
    """The sampling settings of a language model's form (seqlab.generate.SampleConfig), checked."""
    from seqlab.generate import SampleConfig

    cfg = SampleConfig(number(fields, "temperature", float, 0.8, 0, 10), number(fields, "top_k", int, 0, 0),
                       number(fields, "top_p", float, 1.0, 0, 1), number(fields, "seed", int, 0))
    cfg.check()
    return cfg


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


# ------------------------------------------------------------------------ answering
def png(draw: Callable[[Path], Path]) -> str:
    """A data URL of the PNG that ``draw(path)`` writes."""
    with tempfile.TemporaryDirectory() as tmp, PLOT_LOCK:
        return data_url(Path(draw(Path(tmp) / "plot.png")))


def data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def upload_predict(served, fields: dict, upload: bytes | None, suffix: str, what: str) -> dict:
    """The task's own predict on one uploaded file, with its ``--plot``: the output and the plot (a task whose
    predict options are ``files``, ``beam`` and ``plot``)."""
    task = served.task
    with tempfile.TemporaryDirectory() as tmp:
        path = uploaded(upload, fields.get("filename"), suffix, what, tmp)
        plot = Path(tmp) / "plot.png"
        options = task.predict_options(files=[path], beam=number(fields, "beam", int, 1, 1, 64), plot=str(plot))
        with served.lock, PLOT_LOCK:
            (line,) = list(task.predict(served.run, [], options))
        return {"text": line.split("\t", 1)[1].replace("\t", "  "), "image": data_url(plot)}


def upload_panel(verb: str, accept: str, suffix: str, what: str) -> Panel:
    """The panel of a task that reads files (recordings, images): one upload and a beam width, answered by
    :func:`upload_predict`."""
    return Panel(verb, lambda served: [file_box(accept), number_box("beam", "beam", "1", min="1")],
                 lambda served, fields, upload: upload_predict(served, fields, upload, suffix, what), upload=True)


def token_pieces(tokens, text: str, ids: list[int]) -> list[str]:
    """The token strings a sentence model read (word, char or BPE pieces)."""
    if hasattr(tokens, "split"):
        return tokens.split(text, tokens.lowercase)[: len(ids)]
    return [tokens.subwords.tokenizer.decode([i]).strip() or "_" for i in ids]


def streamed(produce: Callable[[Callable[[str], None]], object], lock: threading.Lock) -> Iterator[str]:
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
