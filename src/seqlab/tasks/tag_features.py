"""What the tag task reads, per kind of data: word-level CoNLL columns, or characters of segmented text.

Both kinds give one interface to :mod:`seqlab.tasks.tag` -- sentences to id tensors for
:class:`seqlab.models.tagger.Tagger`, tags back in the file's scheme, the scores, the predicted
lines -- and the task chooses the class once, from ``data.format`` (:data:`KINDS`):

* :class:`WordFeatures` (``conll``): words (lowercased, digits as 0) and their characters; entity
  tags trained in ``data.train_scheme`` and written back in the file's own scheme (IOB1 for
  CoNLL-2003), scored by entity F1 (seqeval); plain tags (POS) by token accuracy.
* :class:`CharFeatures` (``segmented``): characters, character bigrams and optional word-list
  features; B/M/E/S tags; scored by word P/R/F1 with OOV recall (the SIGHAN scorer).
"""
from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import torch

from seqlab.data.files import read_text
from seqlab.data.tagged import Sentence, TaggedFile, conll_lines
from seqlab.data.tagschemes import SCHEMES, allowed_transitions, convert, split_tag, words_from_bmes
from seqlab.data.vocab import Vocabulary
from seqlab.errors import UserError
from seqlab.metrics.chunks import chunk_scores
from seqlab.metrics.segmentation import segmentation_scores
from seqlab.metrics.tagging import token_accuracy
from seqlab.models.charlm import collate_chars, sentence_chars
from seqlab.tasks.shared import read_vocab, write_vocab

BOS, EOS = "<s>", "</s>"


class TagFeatures:
    """The shared part: word ids, tag ids, the padded batch; a kind adds its own inputs and scores."""

    def __init__(self, cfg, scheme: str, vocabs: dict[str, Vocabulary]) -> None:
        self.cfg, self.scheme, self.vocabs = cfg, scheme, vocabs
        self.contextual: dict | None = None  # model.contextual: the char LMs' model config and vocabulary
        self.context_vocab = None

    def use_contextual(self, spec: dict | None) -> None:
        """Read each sentence for the char LMs too (``spec``: their ``model`` config, ``tokens`` and provenance)."""
        from seqlab.data.tokens import vocab_from_json

        if spec is not None and not isinstance(self, WordFeatures):
            raise UserError("model.contextual needs word-level data (data.format=conll or conllu): the char LMs' "
                            "states are read at the words")
        self.contextual = spec
        self.context_vocab = vocab_from_json(spec["tokens"]) if spec else None

    # ------------------------------------------------------------------ to ids and back
    def word_forms(self, tokens: list[str]) -> list[str]:
        return tokens

    def train_tags(self, tags: list[str]) -> list[str]:
        """File tags -> the tags the model learns."""
        return tags

    def file_tags(self, tags: list[str]) -> list[str]:
        """Tags the model gives -> the scheme of the training file."""
        return tags

    def encode(self, tokens: list[str]) -> dict:
        return {"words": self.vocabs["words"].encode(self.word_forms(tokens))}

    def encode_tags(self, tags: list[str]) -> list[int]:
        stoi = self.vocabs["tags"].stoi
        return [stoi[t] for t in self.train_tags(tags)]

    def sizes(self) -> dict:
        return {name: len(v) for name, v in self.vocabs.items()}

    def frequency_bins(self) -> torch.Tensor:
        """Per word id, floor(ln count) of the word in the training file (0 for <unk>, padding and words seen
        once): the auxiliary loss's targets (Plank et al. 2016)."""
        words = self.vocabs["words"]
        return torch.tensor([int(math.log(words.counts[w])) if words.counts.get(w, 0) > 0 else 0
                             for w in words.itos])

    def collate(self, items: list[dict], device) -> dict:
        B, T = len(items), max(len(x["words"]) for x in items)
        batch = {"words": torch.zeros(B, T, dtype=torch.long), "lengths": torch.tensor([len(x["words"]) for x in items])}
        for b, x in enumerate(items):
            batch["words"][b, : len(x["words"])] = torch.tensor(x["words"])
        self.collate_own(batch, items)
        batch["mask"] = torch.arange(T) < batch["lengths"][:, None]
        return {k: v.to(device) for k, v in batch.items()}

    def collate_own(self, batch: dict, items: list[dict]) -> None:
        """Add this kind's inputs to a padded batch of ``items``."""

    # ------------------------------------------------------------------ the run directory
    def save(self, run_dir: Path, train_words: set[str]) -> None:
        write_vocab(run_dir, scheme=self.scheme, **self.vocabs, word_counts=self.vocabs["words"].counts,
                    **({"contextual": self.contextual} if self.contextual else {}))
        # the training words as written: out-of-vocabulary figures (OOV recall, POS accuracy on OOV tokens)
        (run_dir / "train_words.txt").write_text("\n".join(sorted(train_words)) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, run_dir: Path, cfg) -> TagFeatures:
        spec = read_vocab(run_dir)
        vocabs = {name: Vocabulary.from_json(spec[name]) for name in cls.VOCABS if name in spec}
        vocabs["words"].counts = spec.get("word_counts", {})
        features = cls(cfg, spec["scheme"], vocabs)
        features.use_contextual(spec.get("contextual"))
        return features

    def files(self, run_dir: Path) -> list[Path]:
        """The files of ``run_dir`` that its inputs depend on (exported beside the model)."""
        return [run_dir / "config.json", run_dir / "vocab.json"]


class WordFeatures(TagFeatures):
    """Word-level CoNLL data: word ids and, per word, its characters (Lample et al. 2016)."""

    VOCABS = ("words", "chars", "tags")

    def __init__(self, cfg, scheme: str, vocabs: dict[str, Vocabulary]) -> None:
        super().__init__(cfg, scheme, vocabs)
        self.train_scheme = cfg.train_scheme if scheme in SCHEMES else scheme

    @classmethod
    def build(cls, cfg, data: TaggedFile) -> WordFeatures:
        if cfg.train_scheme not in SCHEMES:
            raise UserError(f"data.train_scheme must be one of {list(SCHEMES)}, got {cfg.train_scheme!r}")
        if cfg.lexicon:
            raise UserError("data.lexicon is for word segmentation (data.format=segmented)")
        f, sents = cls(cfg, data.scheme, {}), data.sentences
        f.vocabs["words"] = Vocabulary.build((f.word_forms(s.tokens) for s in sents), cfg.min_freq)
        f.vocabs["chars"] = Vocabulary.build((ch for s in sents for ch in s.tokens), 1)
        f.vocabs["tags"] = Vocabulary.build((f.train_tags(s.tags) for s in sents), 1, specials=())
        return f

    def word_forms(self, tokens: list[str]) -> list[str]:
        forms = [t.lower() for t in tokens] if self.cfg.lowercase else tokens
        return [re.sub(r"\d", "0", t) for t in forms] if self.cfg.zeros else forms

    def train_tags(self, tags: list[str]) -> list[str]:
        return convert(tags, self.train_scheme) if self.scheme in SCHEMES else tags

    def file_tags(self, tags: list[str]) -> list[str]:
        return convert(tags, self.scheme) if self.scheme in SCHEMES else tags

    def transitions(self):
        return allowed_transitions(self.vocabs["tags"].itos, self.train_scheme if self.scheme in SCHEMES else "plain")

    def encode(self, tokens: list[str]) -> dict:
        out = {**super().encode(tokens), "chars": [self.vocabs["chars"].encode(t) for t in tokens]}
        if self.context_vocab is not None:  # the sentence's characters for the char LMs (as written: case kept)
            out.update(sentence_chars(self.context_vocab, tokens))
        return out

    def collate_own(self, batch: dict, items: list[dict]) -> None:
        B, T = batch["words"].shape
        W = max(len(c) for x in items for c in x["chars"])
        batch["chars"] = torch.zeros(B, T, W, dtype=torch.long)
        batch["char_lengths"] = torch.zeros(B, T, dtype=torch.long)
        for b, x in enumerate(items):
            for t, c in enumerate(x["chars"]):
                batch["chars"][b, t, : len(c)] = torch.tensor(c)
                batch["char_lengths"][b, t] = len(c)
        if self.context_vocab is not None:
            collate_chars(batch, items)

    # ------------------------------------------------------------------ predict / evaluate
    @staticmethod
    def tokens_of(line: str) -> list[str]:
        return line.split()

    @staticmethod
    def predicted_lines(tokens: list[str], tags: list[str]) -> list[str]:
        """CoNLL lines, token and tag, and a blank line after the sentence."""
        return conll_lines(tokens, tags)

    def score(self, sentences: list[Sentence], predicted: list[list[str]], train_words: set[str]) -> dict:
        """Entity P/R/F1 per type (seqeval); plain tags (POS): token accuracy (also under ``f1``) and the
        accuracy on tokens not in ``train_words``."""
        if self.scheme != "plain":
            return {**chunk_scores([s.tags for s in sentences], predicted), "predicted": predicted}
        scores = token_accuracy([s.tags for s in sentences], predicted, [s.tokens for s in sentences], train_words)
        return {"f1": scores["token_accuracy"], **scores, "predicted": predicted}

    @staticmethod
    def output_lines(sentences: list[Sentence], predicted: list[list[str]]) -> list[str]:
        """CoNLL lines: token, gold tag, predicted tag."""
        return [line for s, p in zip(sentences, predicted) for line in conll_lines(s.tokens, s.tags, p)]

    def unseen_tags(self, data: TaggedFile) -> list[str]:
        """Gold tags the model cannot produce: an entity type it never saw, or a plain tag not in its set."""
        gold = {t for s in data.sentences for t in s.tags}
        if self.scheme in SCHEMES:
            types = {split_tag(t)[1] for t in self.vocabs["tags"].itos}
            return sorted(t for t in gold if t != "O" and split_tag(t)[1] not in types)
        return sorted(gold - set(self.vocabs["tags"].itos))

    def report(self, m: dict) -> str:
        if "per_type" not in m:
            line = f"token accuracy {m['token_accuracy']:.4f} ({m['tokens']} tokens)"
            if m.get("oov_tokens"):
                line += f"; on words not in the training file {m['oov_accuracy']:.4f} ({m['oov_tokens']} tokens)"
            return line
        lines = [(f"entities: P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  "
                  f"(token accuracy {m['token_accuracy']:.4f}; {m['sentences']} sentences)")]
        lines += [f"  {t:>6}  P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}  n {s['support']}"
                  for t, s in m["per_type"].items()]
        if m.get("unseen_tags"):
            lines.append(f"  tags the model never saw (counted wrong): {', '.join(m['unseen_tags'])}")
        return "\n".join(lines)


class CharFeatures(TagFeatures):
    """Segmented text: characters, their bigrams and optional word-list features; B/M/E/S tags."""

    VOCABS = ("words", "bigrams", "tags")

    def __init__(self, cfg, scheme: str, vocabs: dict[str, Vocabulary], lexicon: set[str] | None = None) -> None:
        super().__init__(cfg, scheme, vocabs)
        self.lexicon, self.train_scheme = lexicon, scheme

    @classmethod
    def build(cls, cfg, data: TaggedFile) -> CharFeatures:
        lexicon = read_lexicon(cfg.lexicon) if cfg.lexicon else None
        if lexicon is not None and cfg.lexicon_max_len < 2:
            raise UserError(f"data.lexicon_max_len must be at least 2, got {cfg.lexicon_max_len}")
        f, sents = cls(cfg, data.scheme, {}, lexicon), data.sentences
        f.vocabs["words"] = Vocabulary.build((s.tokens for s in sents), cfg.min_freq)
        f.vocabs["bigrams"] = Vocabulary.build((f.bigram_forms(s.tokens) for s in sents), cfg.min_freq)
        f.vocabs["tags"] = Vocabulary.build((s.tags for s in sents), 1, specials=())
        return f

    @staticmethod
    def bigram_forms(chars: list[str]) -> list[str]:
        padded = [BOS] + chars + [EOS]
        return [a + b for a, b in itertools.pairwise(padded)]  # T + 1 bigrams: position t sees t and t+1

    def transitions(self):
        return allowed_transitions(self.vocabs["tags"].itos, self.train_scheme)

    def sizes(self) -> dict:
        sizes = super().sizes()
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
        x = super().encode(tokens)
        ids = self.vocabs["bigrams"].encode(self.bigram_forms(tokens))
        x["bigrams"] = [[ids[t], ids[t + 1]] for t in range(len(tokens))]
        if self.lexicon is not None:
            x["lexicon"] = self.lexicon_features(tokens)
        return x

    def collate_own(self, batch: dict, items: list[dict]) -> None:
        B, T = batch["words"].shape
        batch["bigrams"] = torch.zeros(B, T, 2, dtype=torch.long)
        if self.lexicon is not None:
            batch["lexicon"] = torch.zeros(B, T, 2 * (self.cfg.lexicon_max_len - 1))
        for b, x in enumerate(items):
            batch["bigrams"][b, : len(x["words"])] = torch.tensor(x["bigrams"])
            if "lexicon" in x:
                batch["lexicon"][b, : len(x["words"])] = torch.tensor(x["lexicon"])

    # ------------------------------------------------------------------ the run directory
    def save(self, run_dir: Path, train_words: set[str]) -> None:
        super().save(run_dir, train_words)
        if self.lexicon is not None:  # the run keeps its own copy, so that it predicts without the original file
            (run_dir / "lexicon.txt").write_text("\n".join(sorted(self.lexicon)) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, run_dir: Path, cfg) -> CharFeatures:
        f = super().load(run_dir, cfg)
        f.lexicon = read_lexicon(Path(run_dir) / "lexicon.txt") if cfg.lexicon else None
        return f

    def files(self, run_dir: Path) -> list[Path]:
        return super().files(run_dir) + ([run_dir / "lexicon.txt"] if self.lexicon is not None else [])

    # ------------------------------------------------------------------ predict / evaluate
    @staticmethod
    def tokens_of(line: str) -> list[str]:
        return [ch for ch in line if not ch.isspace()]

    @staticmethod
    def predicted_lines(tokens: list[str], tags: list[str]) -> list[str]:
        """The sentence's words joined by spaces."""
        return [" ".join(words_from_bmes(tokens, tags))]

    def score(self, sentences: list[Sentence], predicted: list[list[str]], train_words: set[str]) -> dict:
        """Word P/R/F1, OOV and IV recall against ``train_words``; the predicted words."""
        words = [words_from_bmes(s.tokens, p) for s, p in zip(sentences, predicted)]
        return {**segmentation_scores([s.words for s in sentences], words, train_words), "predicted": words}

    @staticmethod
    def output_lines(sentences: list[Sentence], predicted: list[list[str]]) -> list[str]:
        return [" ".join(words) for words in predicted]

    @staticmethod
    def unseen_tags(data: TaggedFile) -> list[str]:
        return []  # B/M/E/S: every tag is known

    @staticmethod
    def report(m: dict) -> str:
        return (f"P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  OOV recall {m['oov_recall']:.4f}  "
                f"IV recall {m['iv_recall']:.4f}  (OOV rate {m['oov_rate']:.4f}, {m['gold_words']} words)")


KINDS = {"conll": WordFeatures, "conllu": WordFeatures, "segmented": CharFeatures}  # data.format -> the features of that kind of data


def read_lexicon(path: str | Path) -> set[str]:
    """A word list: the first whitespace-separated field of each line."""
    return {line.split()[0] for line in read_text(path, "data.lexicon").splitlines() if line.strip()}
