"""A language-modelling corpus: train/valid(/test) token streams and the vocabulary.

Two layouts, as the usual baselines use them:

* one text file, cut into the first ``split`` fraction for training and the rest for
  validation (nanoGPT's and char-rnn's 90/10 split of tiny shakespeare);
* a directory holding ``*train*``, ``*valid*`` (or ``*val*``) and optionally ``*test*``
  files (the PTB layout: ptb.train.txt, ptb.valid.txt, ptb.test.txt).

The vocabulary is built from the training text only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from seqlab.data.files import read_text
from seqlab.data.tokens import build_vocab
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
    train: Tensor  # (N,) int64 token ids
    valid: Tensor
    test: Tensor | None
    files: dict  # split -> where it came from


def _find(directory: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        hits = sorted(p for p in directory.iterdir() if p.is_file() and name in p.name)
        if hits:
            return hits[0]
    return None


def _read_splits(cfg: DataConfig) -> tuple[dict[str, str], dict[str, str]]:
    path = Path(cfg.path)
    if not cfg.path:
        raise UserError("data.path is empty: give a text file or a directory with train/valid files (--data PATH)")
    if path.is_dir():
        files = {"train": _find(path, ("train",)), "valid": _find(path, ("valid", "val")), "test": _find(path, ("test",))}
        for split in ("train", "valid"):
            if files[split] is None:
                raise UserError(f"data: directory {path} has no file named like *{split}*")
        texts = {s: read_text(f, f"data ({s})") for s, f in files.items() if f is not None}
        return texts, {s: str(f) for s, f in files.items() if f is not None}
    if not 0 < cfg.split < 1:
        raise UserError(f"data.split must lie in (0, 1), got {cfg.split}")
    text = read_text(path)
    cut = int(len(text) * cfg.split)
    return {"train": text[:cut], "valid": text[cut:]}, {"train": f"{path}[:{cfg.split}]", "valid": f"{path}[{cfg.split}:]"}


def load_corpus(cfg: DataConfig, vocab=None) -> Corpus:
    """Read, build (or reuse) the vocabulary, encode every split."""
    texts, files = _read_splits(cfg)
    if cfg.test_path:
        texts["test"], files["test"] = read_text(cfg.test_path, "data (test)"), cfg.test_path
    vocab = vocab or build_vocab(cfg.level, texts["train"], cfg.bpe_vocab_size)
    ids = {s: torch.tensor(vocab.encode(t), dtype=torch.long) for s, t in texts.items()}
    return Corpus(vocab, ids["train"], ids["valid"], ids.get("test"), files)


def bundled_corpus() -> str:
    """Path of the tiny-shakespeare text shipped inside the package."""
    from importlib import resources

    return str(resources.files("seqlab") / "corpora" / "tinyshakespeare.txt.gz")
