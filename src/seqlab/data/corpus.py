"""A language-modelling corpus: train/valid(/test) token streams and the vocabulary.

Two layouts, as the usual baselines use them:

* one text file, cut into the first ``split`` fraction for training and the rest for
  validation (nanoGPT's and char-rnn's 90/10 split of tiny shakespeare);
* a directory holding ``*train*``, ``*valid*`` (or ``*val*``) and optionally ``*test*``
  files (the PTB layout: ptb.train.txt, ptb.valid.txt, ptb.test.txt).

The vocabulary is built from the training text only.  Each split is tokenised once into a token file and read
through a memory map (:mod:`seqlab.data.tokenfile`), so a corpus of any size costs no memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from seqlab.data import tokenfile
from seqlab.errors import UserError
from seqlab.fields import Fraction, Size


@dataclass
class DataConfig:
    path: str = ""  # a text file (split by `split`) or a directory with train/valid[/test] files
    level: Literal["char", "word", "bpe"] = "char"
    split: Fraction = 0.9  # training fraction of a single file
    bpe_vocab_size: Size = 2000  # level=bpe: subword vocabulary size
    test_path: str = ""  # an explicit test file (withheld test splits are scored this way)


@dataclass
class Corpus:
    vocab: object
    train: np.ndarray  # (N,) token ids, memory-mapped from the prepared token file (seqlab.data.tokenfile)
    valid: np.ndarray
    test: np.ndarray | None
    files: dict  # split -> where it came from


def _find(directory: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        hits = sorted(p for p in directory.iterdir() if p.is_file() and name in p.name)
        if hits:
            return hits[0]
    return None


def parts(cfg: DataConfig) -> dict[str, tuple[str, int, int | None]]:
    """Each split as (file, first character, end character or None): the files of a directory, or the first
    ``split`` fraction of one file's characters and the rest, and ``test_path``."""
    path = Path(cfg.path)
    if not cfg.path:
        raise UserError("data.path is empty: give a text file or a directory with train/valid files (--data PATH)")
    if path.is_dir():
        files = {"train": _find(path, ("train",)), "valid": _find(path, ("valid", "val")), "test": _find(path, ("test",))}
        for split in ("train", "valid"):
            if files[split] is None:
                raise UserError(f"data: directory {path} has no file named like *{split}*")
        out = {s: (str(f), 0, None) for s, f in files.items() if f is not None}
    else:
        if not 0 < cfg.split < 1:
            raise UserError(f"data.split must lie in (0, 1), got {cfg.split}")
        cut = int(tokenfile.char_count(str(path)) * cfg.split)
        out = {"train": (str(path), 0, cut), "valid": (str(path), cut, None)}
    if cfg.test_path:
        out["test"] = (cfg.test_path, 0, None)
    return out


def _where(part: tuple[str, int, int | None], cfg: DataConfig) -> str:
    path, start, end = part
    if start == 0 and end is None:
        return path
    return f"{path}[:{cfg.split}]" if start == 0 else f"{path}[{cfg.split}:]"


def load_corpus(cfg: DataConfig, vocab=None, progress: bool = True) -> Corpus:
    """Every split as a memory map of its token file, prepared on first use (the vocabulary too, from the training
    split, unless ``vocab`` is given): nothing of the corpus is held in memory."""
    found = parts(cfg)
    what = {s: "data" if s == "train" or not Path(cfg.path).is_dir() else f"data ({s})" for s in found}
    what["test"] = "data (test)"
    if vocab is None:
        path, start, end = found["train"]
        vocab = tokenfile.build_vocab(cfg.level, path, start, end, cfg.bpe_vocab_size, what["train"])
    ids = {s: tokenfile.prepare(path, vocab, start, end, what[s], progress).tokens
           for s, (path, start, end) in found.items()}
    return Corpus(vocab, ids["train"], ids["valid"], ids.get("test"), {s: _where(p, cfg) for s, p in found.items()})


def bundled_corpus() -> str:
    """Path of the tiny-shakespeare text shipped inside the package."""
    from importlib import resources

    return str(resources.files("seqlab") / "corpora" / "tinyshakespeare.txt.gz")
