"""Text -> token ids, every kind in one place, with one BPE trainer (HuggingFace ``tokenizers``).

Three families, each with what its task needs, all saved to and loaded from JSON in a run directory:

* language models read a stream (:mod:`seqlab.tasks.lm`): ``CharVocab`` (one id per character),
  ``WordVocab`` (whitespace words, one ``<eos>`` per line: the PTB convention of Mikolov / Zaremba et al.),
  ``BPEVocab`` (byte-level subwords);
* sentence tasks (classify, bilm) read one text at a time: ``WordTokens``, ``CharTokens`` (on a
  :class:`~seqlab.data.vocab.Vocabulary`, rare words ``<unk>``) and ``BPETokens``, chosen by ``data.tokens``
  (:class:`TokensConfig`);
* translation: ``SubwordVocab``, byte-level BPE with ``<pad>`` (0), ``<unk>``, ``<bos>``, ``<eos>``, one for both
  languages or one per side.

Every BPE model is trained by :func:`train_bpe`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqlab.data.vocab import Vocabulary
from seqlab.errors import UserError
from seqlab.fields import Count, Size

UNK, EOS = "<unk>", "<eos>"
PAD, BOS = "<pad>", "<bos>"
SPECIALS = [PAD, UNK, BOS, EOS]  # a translation vocabulary's


def train_bpe(lines, vocab_size: int, specials: list[str], prefix_space: bool):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``lines`` (strings, or lists of them): ``specials``
    first, every byte in its alphabet (so every text is encodable); ``prefix_space``: a word at the start of a line
    is encoded as one after a space."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    return tok


# ---------------------------------------------------------------- language models: a stream of text
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
        return cls(train_bpe(text.splitlines(keepends=True), vocab_size, [UNK], prefix_space=False))

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


def vocab_from_json(spec: dict):
    """A language model's vocabulary from its ``to_json()``."""
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


# ---------------------------------------------------------------- sentence tasks: one text at a time
@dataclass
class TokensConfig:
    """How a text becomes token ids: the ``data.*`` fields the classifier and the biLM share."""

    tokens: Literal["word", "char", "bpe"] = "word"
    lowercase: bool = True  # lowercase the text before tokenising
    min_freq: Count = 1  # words seen fewer times are <unk>
    bpe_vocab_size: Size = 8000  # data.tokens=bpe: subword vocabulary size
    max_len: Count = 0  # tokens kept per text (0: all)


class WordTokens:
    """Whitespace words (lowercased when asked) -> ids; words seen fewer than ``min_freq`` times are <unk>."""

    kind = "word"

    def __init__(self, vocab: Vocabulary, lowercase: bool) -> None:
        self.vocab, self.lowercase = vocab, lowercase
        self.pad = vocab.pad

    @classmethod
    def build(cls, texts: list[str], lowercase: bool, min_freq: int, size: int = 0) -> WordTokens:
        return cls(Vocabulary.build((cls.split(t, lowercase) for t in texts), min_freq), lowercase)

    @staticmethod
    def split(text: str, lowercase: bool) -> list[str]:
        return (text.lower() if lowercase else text).split()

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.split(text, self.lowercase)) or [self.vocab.unk]

    def __len__(self) -> int:
        return len(self.vocab)

    def to_json(self) -> dict:
        return {"kind": self.kind, "lowercase": self.lowercase, **self.vocab.to_json()}


class CharTokens(WordTokens):
    """Every character is a token (nucleotides, or text read letter by letter)."""

    kind = "char"

    @staticmethod
    def split(text: str, lowercase: bool) -> list[str]:
        return list(text.lower() if lowercase else text)


class BPETokens:
    """Byte-level BPE subwords (HuggingFace ``tokenizers``) trained on the training texts; <pad> is 0."""

    kind = "bpe"

    def __init__(self, subwords, lowercase: bool) -> None:
        self.subwords, self.lowercase = subwords, lowercase
        self.pad = subwords.pad

    @classmethod
    def build(cls, texts: list[str], lowercase: bool, min_freq: int, size: int = 8000) -> BPETokens:
        return cls(SubwordVocab.train([t.lower() if lowercase else t for t in texts], size), lowercase)

    def encode(self, text: str) -> list[int]:
        return self.subwords.encode(text.lower() if self.lowercase else text) or [self.subwords.unk]

    def __len__(self) -> int:
        return len(self.subwords)

    def to_json(self) -> dict:
        return {"kind": self.kind, "lowercase": self.lowercase, "tokenizer": self.subwords.tokenizer.to_str()}


TOKENS = {"word": WordTokens, "char": CharTokens, "bpe": BPETokens}


def build_tokens(kind: str, texts: list[str], lowercase: bool, min_freq: int, size: int):
    if kind not in TOKENS:
        raise UserError(f"data.tokens must be one of {sorted(TOKENS)}, got {kind!r}")
    return TOKENS[kind].build(texts, lowercase, min_freq, size)


def tokens_from_json(d: dict):
    if d["kind"] == "bpe":
        return BPETokens(SubwordVocab.from_json(d["tokenizer"]), d["lowercase"])
    return TOKENS[d["kind"]](Vocabulary.from_json(d), d["lowercase"])


# ---------------------------------------------------------------- translation: subwords with <pad> <bos> <eos>
class SubwordVocab:
    """Byte-level BPE (HuggingFace ``tokenizers``) with <pad>=0, <unk>, <bos>, <eos>."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.pad, self.unk, self.bos, self.eos = (tokenizer.token_to_id(s) for s in SPECIALS)

    @classmethod
    def train(cls, lines: list[str], vocab_size: int) -> SubwordVocab:
        return cls(train_bpe(lines, vocab_size, SPECIALS, prefix_space=True))

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, line: str) -> list[int]:
        return self.tokenizer.encode(line).ids

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.eos in ids:
            ids = ids[: ids.index(self.eos)]
        text = self.tokenizer.decode([i for i in ids if i not in (self.pad, self.bos)])
        return " ".join(text.split())  # one line, whatever bytes an untrained model emits

    def tokens(self, line: str) -> list[str]:
        """The subword pieces of a line, for labelling attention plots."""
        return [self.tokenizer.decode([i]).strip() or "_" for i in self.encode(line)]

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    @classmethod
    def from_json(cls, text: str) -> SubwordVocab:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))


def build_vocabs(pairs: list[tuple[str, str]], vocab_size: int, joint: bool) -> tuple[SubwordVocab, SubwordVocab]:
    if joint:
        vocab = SubwordVocab.train([s for pair in pairs for s in pair], vocab_size)
        return vocab, vocab
    return SubwordVocab.train([s for s, _ in pairs], vocab_size), SubwordVocab.train([t for _, t in pairs], vocab_size)


