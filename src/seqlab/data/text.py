"""Reading UTF-8 text and turning it into token ids: characters, words, or BPE subwords.

* ``CharVocab``  -- one id per character seen in training (plus ``<unk>``).
* ``WordVocab``  -- whitespace words, one ``<eos>`` per line (the PTB convention of
  Mikolov / Zaremba et al.), ``<unk>`` for unseen words.
* ``BPEVocab``   -- byte-pair-encoding subwords trained with HuggingFace ``tokenizers``.

Every vocabulary saves to and loads from one JSON file, so a run directory can
encode a prime text and decode samples without the training data.
"""
from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

from seqlab.errors import UserError

UNK, EOS = "<unk>", "<eos>"


def read_text(path: str | Path, what: str = "data") -> str:
    """The whole file as text, or a UserError naming the path: missing, empty, not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what}: no such file: {path}")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise UserError(f"{what}: {path} is not a whole gzip file ({e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{what}: {path} is not UTF-8 text (bad byte at offset {e.start})") from None
    if not text.strip():
        raise UserError(f"{what}: {path} is empty")
    return text


def read_json(path: str | Path, what: str = "run") -> dict:
    """A JSON object from a file, or a UserError naming the path: missing, empty, not UTF-8, not JSON, not an object."""
    text = read_text(path, what)
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{what}: {path} is not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(tree, dict):
        raise UserError(f"{what}: {path} must hold a JSON object")
    return tree


class CharVocab:
    level = "char"

    def __init__(self, symbols: list[str]) -> None:
        self.itos = list(symbols)
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def build(cls, text: str) -> CharVocab:
        return cls(sorted(set(text)) + [UNK])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        unk = self.stoi[UNK]
        return [self.stoi.get(ch, unk) for ch in text]

    def check(self, text: str) -> None:
        unseen = sorted({ch for ch in text if ch not in self.stoi})
        if unseen:
            raise UserError(f"text has characters the model never saw: {''.join(unseen)!r}")

    def decode(self, ids) -> str:
        return "".join(self.itos[i] if self.itos[i] != UNK else "?" for i in ids)

    def to_json(self) -> dict:
        return {"level": self.level, "itos": self.itos}


class WordVocab(CharVocab):
    level = "word"

    @classmethod
    def build(cls, text: str) -> WordVocab:
        words = sorted({w for w in text.split() if w not in (UNK, EOS)})
        return cls([EOS, UNK] + words)

    def encode(self, text: str) -> list[int]:
        words = [w for line in text.splitlines() for w in (*line.split(), EOS)]
        unk = self.stoi[UNK]
        return [self.stoi.get(w, unk) for w in words]

    def check(self, text: str) -> None:
        unseen = sorted({w for w in text.split() if w not in self.stoi})
        if unseen:
            raise UserError(f"text has words the model never saw: {' '.join(unseen[:10])}")

    def encode_prime(self, text: str) -> list[int]:
        """A prime text: its words, no <eos> appended."""
        self.check(text)
        return [self.stoi[w] for w in text.split()]

    def decode(self, ids) -> str:
        """Words joined by spaces, <eos> as a line break; decoding a longer id list extends the text."""
        out = ""
        for i in ids:
            word = self.itos[i]
            out += "\n" if word == EOS else (word if not out or out.endswith("\n") else " " + word)
        return out


class BPEVocab:
    """Byte-level BPE from HuggingFace ``tokenizers`` (trained on the training split)."""

    level = "bpe"

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def build(cls, text: str, vocab_size: int = 2000) -> BPEVocab:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=[UNK], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        tok.train_from_iterator(text.splitlines(keepends=True), trainer)
        return cls(tok)

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids  # byte-level: every text is encodable

    def check(self, text: str) -> None:
        pass

    def decode(self, ids) -> str:
        return self.tokenizer.decode(list(ids))

    def to_json(self) -> dict:
        return {"level": self.level, "tokenizer": self.tokenizer.to_str()}


LEVELS = {"char": CharVocab, "word": WordVocab, "bpe": BPEVocab}


def build_vocab(level: str, text: str, bpe_vocab_size: int = 2000):
    if level not in LEVELS:
        raise UserError(f"data.level must be one of {sorted(LEVELS)}, got {level!r}")
    if level == "bpe":
        return BPEVocab.build(text, bpe_vocab_size)
    return LEVELS[level].build(text)


def save_vocab(vocab, path: Path) -> None:
    path.write_text(json.dumps(vocab.to_json(), ensure_ascii=False))


def load_vocab(path: Path):
    spec = read_json(path)
    if spec["level"] == "bpe":
        from tokenizers import Tokenizer

        return BPEVocab(Tokenizer.from_str(spec["tokenizer"]))
    return LEVELS[spec["level"]](spec["itos"])


def encode_prime(vocab, text: str) -> list[int]:
    """Token ids of a prime text for generation; unseen symbols are an error naming them."""
    if isinstance(vocab, WordVocab):
        return vocab.encode_prime(text)
    vocab.check(text)
    return vocab.encode(text)
