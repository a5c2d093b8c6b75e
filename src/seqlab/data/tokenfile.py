"""Language-model corpora of any size: each part of a text tokenised once, in a streaming pass, into a token file
that training reads through a memory map (nanoGPT's ``train.bin``; fairseq's and Megatron's indexed datasets).

    $SEQLAB_CACHE/corpora/<key>.bin    the token ids of one part -- a file, or a character range of one (the 90/10
                                       split of a single file) -- in the narrowest unsigned dtype the vocabulary
                                       allows: uint8 (<= 256 tokens), uint16 (<= 65,536), else uint32
    $SEQLAB_CACHE/corpora/<key>.json   its index: the source (path, size, mtime, a hash of its first MiB), the range,
                                       the vocabulary's hash, the dtype and the token count
    $SEQLAB_CACHE/corpora/<key>.vocab.json   the vocabulary built from a training part (streamed as well)

``SEQLAB_CACHE`` defaults to ``~/.cache/seqlab`` (see :func:`cache_dir`).  The key is a hash of the source's
identity, the range and the vocabulary, so an edited file or another vocabulary is prepared anew; a later run,
``--resume``, ``evaluate`` and every torchrun rank read the file that is there.  The token file is written under a temporary name and renamed
when whole, its index after it: an interrupted preparation leaves nothing a later run reads.  A token file whose
size disagrees with its index is rebuilt (with a message); a part larger than the cache's free disk space is a
one-line error before anything is written.

The text is read in pieces (:func:`pieces`), cut only where the tokeniser would cut anyway, so the ids are those of
encoding the whole text at once (for words and BPE: after a line break between two non-space characters).
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlab.data.tokens import EOS, UNK, BPEVocab, CharVocab, WordVocab, train_bpe
from seqlab.errors import UserError

READ = 1 << 22  # bytes read at a time
PIECE = 1 << 18  # characters per piece handed to an encoder (BPE: encoded in parallel batches of these)
FORMAT = 1  # the layout of the token file and its index


def cache_dir() -> Path:
    """``$SEQLAB_CACHE/corpora``; without it ``$XDG_CACHE_HOME/seqlab/corpora`` (default ``~/.cache``), or a
    directory in the system's temporary one where that cannot be made (a read-only home)."""
    if os.environ.get("SEQLAB_CACHE"):
        return Path(os.environ["SEQLAB_CACHE"]) / "corpora"
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seqlab" / "corpora"
    try:
        home.mkdir(parents=True, exist_ok=True)
        return home
    except OSError:
        import tempfile

        return Path(tempfile.gettempdir()) / f"seqlab-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "corpora"


# ------------------------------------------------------------------ reading a text in pieces
@dataclass(frozen=True)
class Source:
    """A text file and what identifies its contents: size, modification time and the hash of its first MiB."""

    path: str
    size: int
    mtime_ns: int
    head: str

    @classmethod
    def of(cls, path: str | Path, what: str = "data") -> Source:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{what}: no such file: {path}")
        stat = path.stat()
        with open(path, "rb") as f:
            head = hashlib.sha256(f.read(1 << 20)).hexdigest()[:16]
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns, head)


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def characters(path: str, what: str = "data") -> Iterator[str]:
    """The UTF-8 text of a file (.gz too) in pieces as read; a bad byte is a UserError naming its offset, an
    empty (or all-space) file one naming the file."""
    decoder, offset, content = codecs.getincrementaldecoder("utf-8")(), 0, False
    try:
        with _open(path) as f:
            while raw := f.read(READ):
                held = len(decoder.getstate()[0])  # the start of a character cut by the previous read
                try:
                    text = decoder.decode(raw)
                except UnicodeDecodeError as e:
                    raise UserError(f"{what}: {path} is not UTF-8 text (bad byte at offset "
                                    f"{offset - held + e.start})") from None
                offset += len(raw)
                content = content or (bool(text) and not text.isspace())
                yield text
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UserError(f"{what}: {path} is not UTF-8 text (it ends inside a character, at offset {offset})") from None
    except (OSError, EOFError) as e:
        if path.endswith(".gz"):
            raise UserError(f"{what}: {path} is not a whole gzip file ({e})") from None
        raise UserError(f"{what}: cannot read {path} ({e.strerror or e})") from None
    if not content:
        raise UserError(f"{what}: {path} is empty")


def _safe_end(text: str, near: int, start: int = 0) -> int:
    """Where ``text[start:]`` may be cut so that every tokeniser cuts there too: after a line break that has a
    non-space character on both sides, the last one before ``near``, else the first one after it (0: none)."""
    def safe(at: int) -> bool:
        return start < at < len(text) - 1 and not text[at - 1].isspace() and not text[at + 1].isspace()

    at = min(near, len(text) - 1)
    while (at := text.rfind("\n", start + 1, at)) > start:
        if safe(at):
            return at + 1
    at = text.find("\n", near)
    while at != -1:
        if safe(at):
            return at + 1
        at = text.find("\n", at + 1)
    return 0


def pieces(path: str, start: int = 0, end: int | None = None, anywhere: bool = False,
           what: str = "data") -> Iterator[str]:
    """Characters ``start`` to ``end`` (None: the end) of a file, in pieces of about PIECE characters that end
    where a tokeniser would cut anyway (``anywhere``: characters, cut anywhere)."""
    at, pending = 0, ""
    for text in characters(path, what):
        lo, hi = max(start - at, 0), len(text) if end is None else min(end - at, len(text))
        at += len(text)
        if hi > lo:
            pending += text[lo:hi]
        done = 0  # pieces are cut from the read text by position: the rest is copied once per read
        while len(pending) - done >= PIECE:
            cut = done + PIECE if anywhere else _safe_end(pending, done + PIECE, done)
            if cut == 0:
                break  # no place to cut yet: read on
            yield pending[done:cut]
            done = cut
        pending = pending[done:]
        if end is not None and at >= end:
            break
    if pending:
        yield pending


# ------------------------------------------------------------------ the index and the key
def _hash(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _vocab_hash(vocab) -> str:
    return _hash(vocab.to_json())


def dtype_for(vocab_size: int) -> np.dtype:
    """The narrowest unsigned dtype that holds every id of a vocabulary of this size."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise UserError(f"a vocabulary of {vocab_size:,} tokens does not fit a 32-bit token file")


def _write_json(path: Path, tree: dict) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(tree, indent=1))
        os.replace(tmp, path)
    except OSError as e:
        _discard(tmp)
        raise _unwritable(path.parent, e) from None


def _discard(path: Path) -> None:
    """Remove a temporary file if there is one (and nothing else can be done where there is no directory)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _unwritable(directory: Path, e: OSError) -> UserError:
    return UserError(f"cannot write the token cache {directory}: {e.strerror or e} (set SEQLAB_CACHE to a writable "
                     "directory with room for the corpus)")


def char_count(path: str, what: str = "data") -> int:
    """Characters in a file (its split point is a character position), counted once per version of the file."""
    source = Source.of(path, what)
    index = cache_dir() / f"{_hash('chars', source)}.chars.json"
    if index.is_file():
        return json.loads(index.read_text())["chars"]
    count = sum(len(text) for text in characters(path, what))
    _write_json(index, {"source": source.__dict__, "chars": count})
    return count


# ------------------------------------------------------------------ vocabularies, streamed
def build_vocab(level: str, path: str, start: int = 0, end: int | None = None, bpe_vocab_size: int = 2000,
                what: str = "data"):
    """The vocabulary of characters ``start`` to ``end`` of a file, as :func:`seqlab.data.tokens.build_vocab` builds
    it from that text in memory, read in pieces (kept in the cache: built once per training part)."""
    source = Source.of(path, what)
    key = _hash("vocab", FORMAT, source, start, end, level, bpe_vocab_size if level == "bpe" else None)
    cached = cache_dir() / f"{key}.vocab.json"
    if cached.is_file():
        from seqlab.data.tokens import vocab_from_json

        return vocab_from_json(json.loads(cached.read_text()))
    text = pieces(path, start, end, anywhere=level == "char", what=what)
    if level == "char":
        seen: set[str] = set()
        for piece in text:
            seen.update(piece)
        vocab = CharVocab(sorted(seen) + [UNK])
    elif level == "word":
        words: set[str] = set()
        for piece in text:
            words.update(piece.split())
        vocab = WordVocab([EOS, UNK] + sorted(words - {UNK, EOS}))
    elif level == "bpe":
        lines = (piece.splitlines(keepends=True) for piece in text)  # the lines, a piece's in one batch
        vocab = BPEVocab(train_bpe(lines, bpe_vocab_size, [UNK], prefix_space=False))
    else:
        raise UserError(f"data.level must be one of ['char', 'word', 'bpe'], got {level!r}")
    _write_json(cached, vocab.to_json())
    return vocab


# ------------------------------------------------------------------ encoding into a token file
def _encoder(vocab):
    """piece -> ids (numpy) for this vocabulary."""
    if vocab.level == "char":  # a lookup table over code points: no Python loop per character
        unk = vocab.stoi[UNK]
        table = np.full(max(ord(ch) for ch in vocab.stoi if len(ch) == 1) + 1, unk, dtype=np.int64)
        for ch, i in vocab.stoi.items():
            if len(ch) == 1:
                table[ord(ch)] = i

        def encode(piece: str) -> np.ndarray:
            points = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
            ids = table[np.minimum(points, len(table) - 1)]
            ids[points >= len(table)] = unk  # a code point past the table: clipped onto its last entry, then <unk>
            return ids

        return encode
    if vocab.level == "bpe":
        tokenizer = vocab.tokenizer
        return lambda piece: np.concatenate([np.asarray(e.ids, dtype=np.int64)
                                             for e in tokenizer.encode_batch(_split(piece))] or [np.zeros(0, np.int64)])
    return lambda piece: np.asarray(vocab.encode(piece), dtype=np.int64)


def _split(piece: str, size: int = 1 << 14) -> list[str]:
    """A piece in parts of about ``size`` characters, cut at safe places (for the tokeniser's parallel batch)."""
    parts = []
    while len(piece) > 2 * size:
        cut = _safe_end(piece, size) or len(piece)
        parts.append(piece[:cut])
        piece = piece[cut:]
    return parts + [piece] if piece else parts


@dataclass
class TokenFile:
    """A prepared part: its ids as a read-only memory map, and its index."""

    path: Path
    index: dict

    @property
    def tokens(self) -> np.ndarray:
        count = self.index["tokens"]
        if count == 0:
            return np.zeros(0, dtype=self.index["dtype"])
        return np.memmap(self.path, dtype=self.index["dtype"], mode="r", shape=(count,))


def _found(key: str) -> TokenFile | None:
    """The prepared part ``key`` if it is whole; a token file whose size disagrees with its index is removed."""
    index_path, path = cache_dir() / f"{key}.json", cache_dir() / f"{key}.bin"
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_text())
        expected = index["tokens"] * np.dtype(index["dtype"]).itemsize
    except (ValueError, KeyError, TypeError):
        index, expected = None, -1
    size = path.stat().st_size if path.is_file() else -1
    if index is None or size != expected:
        what = "missing" if size < 0 else f"{size:,} bytes, its index says {expected:,}" if index else "no index"
        print(f"seqlab: the token file {path} is damaged ({what}): preparing it again", file=sys.stderr)
        index_path.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return None
    return TokenFile(path, index)


def prepare(path: str, vocab, start: int = 0, end: int | None = None, what: str = "data",
            progress: bool = True) -> TokenFile:
    """The token file of characters ``start`` to ``end`` of ``path`` under ``vocab``: the one in the cache, or
    written now in one streaming pass (a progress bar in MB and MB/s)."""
    source = Source.of(path, what)
    key = _hash("tokens", FORMAT, source, start, end, _vocab_hash(vocab))
    found = _found(key)
    if found is not None:
        return found
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(directory, e) from None
    dtype = dtype_for(len(vocab))
    if end is not None:
        most = end - start  # at most a token per character (words: a word or a line break per character, + 1)
    else:
        most = source.size if not path.endswith(".gz") else char_count(path, what)  # characters <= bytes
    needed = (most + 1) * dtype.itemsize + (1 << 20)
    free = shutil.disk_usage(directory).free
    if needed > free:
        raise UserError(f"{what}: not enough disk space to prepare {path} in {directory}: up to "
                        f"{needed / 2**30:,.2f} GiB needed, {free / 2**30:,.2f} GiB free (set SEQLAB_CACHE to a "
                        "directory on a larger disk)")
    encode, count = _encoder(vocab), 0
    tmp = directory / f"{key}.bin.tmp-{os.getpid()}"
    from tqdm import tqdm

    bar = tqdm(total=round(source.size / 1e6, 1) if start == 0 and end is None else None, unit="MB",
               desc=f"preparing {Path(path).name}", disable=not progress, dynamic_ncols=True, delay=1.0)
    try:
        with open(tmp, "wb") as out:
            for piece in pieces(path, start, end, anywhere=vocab.level == "char", what=what):
                ids = encode(piece)
                out.write(ids.astype(dtype).tobytes())
                count += len(ids)
                bar.update(round(len(piece.encode("utf-8")) / 1e6, 3))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, directory / f"{key}.bin")
    except OSError as e:  # a full disk, a cache that cannot be written
        _discard(tmp)
        raise _unwritable(directory, e) from None
    except BaseException:
        _discard(tmp)
        raise
    finally:
        bar.close()
    index = {"format": FORMAT, "source": source.__dict__, "start": start, "end": end, "level": vocab.level,
             "vocab": _vocab_hash(vocab), "vocab_size": len(vocab), "dtype": dtype.name, "tokens": count}
    _write_json(directory / f"{key}.json", index)
    return TokenFile(directory / f"{key}.bin", index)
