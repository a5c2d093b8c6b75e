"""Token files: a corpus tokenised once in pieces, memory-mapped, equal to encoding it whole in memory."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seqlab.cli import main
from seqlab.data import tokenfile
from seqlab.data.corpus import DataConfig, bundled_corpus, load_corpus
from seqlab.data.files import read_text
from seqlab.data.stream import batchify, windows
from seqlab.data.tokens import build_vocab
from seqlab.errors import UserError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# line breaks of every kind, blank lines, double spaces, characters of 2, 3 and 4 bytes, a last line without "\n"
TEXT = ("The cat sat.\nOn the  mat, it's 3:04 — naïve café ☕ 𝄞.\n\n\n  indented line\r\nwin\r\n" * 40
        + "x\ny z\n \nlast words")


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of a few dozen characters read a few bytes at a time: every cut and every carried byte is exercised."""
    monkeypatch.setattr(tokenfile, "PIECE", 40)
    monkeypatch.setattr(tokenfile, "READ", 7)


@pytest.mark.parametrize("level", ["char", "word", "bpe"])
def test_pieces_encode_to_the_ids_of_the_whole_text(tmp_path, small_pieces, level):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    cut = int(len(TEXT) * 0.9)
    vocab = build_vocab(level, TEXT[:cut], 300)
    streamed = tokenfile.build_vocab(level, str(path), 0, cut, 300)
    assert streamed.to_json() == vocab.to_json()
    for start, end in ((0, cut), (cut, None), (0, None)):
        ids = tokenfile.prepare(str(path), vocab, start, end, progress=False).tokens
        assert ids.tolist() == vocab.encode(TEXT[start:end]), (start, end)
    if level == "char":  # the text comes back whole (a vocabulary of all of it: no <unk>)
        full = build_vocab(level, TEXT)
        assert full.decode(tokenfile.prepare(str(path), full, progress=False).tokens.tolist()) == TEXT


def test_round_trip_of_words(tmp_path):
    text = "a b c\nb c d\nthe end\n"
    (tmp_path / "w.txt").write_text(text)
    vocab = tokenfile.build_vocab("word", str(tmp_path / "w.txt"))
    assert vocab.decode(tokenfile.prepare(str(tmp_path / "w.txt"), vocab, progress=False).tokens.tolist()) == text


def test_the_dtype_follows_the_vocabulary_size():
    assert [tokenfile.dtype_for(n).name for n in (2, 256, 257, 65536, 65537)] == \
        ["uint8", "uint8", "uint16", "uint16", "uint32"]


def test_the_split_and_the_batches_equal_the_in_memory_corpus(tmp_path):
    """tiny Shakespeare (bundled): the vocabulary, both splits and every training window as encoding it in memory."""
    text = read_text(bundled_corpus())
    corpus = load_corpus(DataConfig(path=bundled_corpus(), level="char"), progress=False)
    cut = int(len(text) * 0.9)
    vocab = build_vocab("char", text[:cut])
    assert corpus.vocab.to_json() == vocab.to_json() and isinstance(corpus.train, np.memmap)
    assert corpus.train.dtype == np.uint8 and len(corpus.valid) == len(text) - cut
    mapped, memory = batchify(corpus.train, 16, 64), batchify(torch.tensor(vocab.encode(text[:cut])), 16, 64)
    for (i, x, y), (j, a, b) in zip(windows(mapped, 64, device="cpu"), windows(memory, 64)):
        assert i == j and torch.equal(x, a) and torch.equal(y, b)
    assert torch.equal(torch.from_numpy(np.asarray(corpus.valid, dtype=np.int64)),
                       torch.tensor(vocab.encode(text[cut:])))


@pytest.mark.skipif(not (SHARED / "word_lm").is_dir(), reason="../shared/data/word_lm is absent")
def test_ptb_words_equal_the_in_memory_ids():
    corpus = load_corpus(DataConfig(path=str(SHARED / "word_lm"), level="word"), progress=False)
    files = {s: next(p for p in sorted((SHARED / "word_lm").iterdir()) if s in p.name) for s in ("train", "valid")}
    vocab = build_vocab("word", read_text(files["train"]))
    assert corpus.vocab.to_json() == vocab.to_json() and corpus.train.dtype == np.uint16
    for split in ("train", "valid"):
        assert np.array_equal(getattr(corpus, split), vocab.encode(read_text(files[split])))


def test_the_cache_key_follows_the_file_and_the_vocabulary(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcabc\n")
    vocab = tokenfile.build_vocab("char", str(path))
    first = tokenfile.prepare(str(path), vocab, progress=False)
    assert tokenfile.prepare(str(path), vocab, progress=False).path == first.path  # reused
    other = tokenfile.build_vocab("char", str(path), 0, 3)  # another vocabulary: abc only
    assert tokenfile.prepare(str(path), other, progress=False).path != first.path
    path.write_text("abcabd\n")  # the file changed
    again = tokenfile.prepare(str(path), vocab, progress=False)
    assert again.path != first.path and again.tokens.tolist() == vocab.encode("abcabd\n")


def test_a_damaged_token_file_is_prepared_again(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text("hello world\n" * 50)
    vocab = tokenfile.build_vocab("char", str(path))
    made = tokenfile.prepare(str(path), vocab, progress=False)
    with open(made.path, "r+b") as f:
        f.truncate(100)
    again = tokenfile.prepare(str(path), vocab, progress=False)
    assert "is damaged (100 bytes, its index says 600)" in capsys.readouterr().err
    assert again.tokens.tolist() == vocab.encode("hello world\n" * 50)


def test_a_killed_preparation_leaves_nothing_that_is_read(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("some words here\n" * 20000)
    code = (
        "import os, signal, sys\n"
        "from seqlab.data import tokenfile\n"
        "tokenfile.PIECE = 1000\n"
        "encoder = tokenfile._encoder\n"
        "def dying(vocab):\n"
        "    encode, calls = encoder(vocab), []\n"
        "    def once(piece):\n"
        "        calls.append(1)\n"
        "        if len(calls) == 5:\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "        return encode(piece)\n"
        "    return once\n"
        "tokenfile._encoder = dying\n"
        f"tokenfile.prepare({str(path)!r}, tokenfile.build_vocab('word', {str(path)!r}), progress=False)\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, env=os.environ.copy(), capture_output=True)
    assert done.returncode == -9, done.stderr
    cache = tokenfile.cache_dir()
    assert not [p for p in cache.glob("*.json") if json.loads(p.read_text()).get("source", {}).get("path") ==
                str(path.resolve()) and "tokens" in json.loads(p.read_text())]  # no index of a token file
    vocab = tokenfile.build_vocab("word", str(path))
    assert tokenfile.prepare(str(path), vocab, progress=False).tokens.tolist() == vocab.encode(path.read_text())


def test_two_ranks_read_disjoint_streams(tmp_path, monkeypatch):
    from seqlab.train import distributed

    path = tmp_path / "t.txt"
    path.write_text("".join(chr(97 + i % 26) for i in range(4000)))
    ids = load_corpus(DataConfig(path=str(path)), progress=False).train
    streams = batchify(ids, 8, 16)
    rows = []
    for rank in (0, 1):
        monkeypatch.setattr(distributed, "world", lambda: 2)
        monkeypatch.setattr(distributed, "rank", lambda r=rank: r)
        mine = distributed.shard(streams, contiguous=True)
        assert isinstance(mine, np.memmap) and mine.shape == (4, streams.shape[1])
        start = (mine.ctypes.data - streams.ctypes.data) // streams.itemsize  # where its rows begin in the file
        rows.append(set(range(start, start + mine.size)))
    assert not rows[0] & rows[1] and len(rows[0] | rows[1]) == streams.size


def test_not_enough_disk_space_is_one_line_before_writing(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    path = tmp_path / "t.txt"
    path.write_text("abc\n" * 1000)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10, 10, 1000))
    assert main(["prepare", "lm", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not enough disk space to prepare" in err and "set SEQLAB_CACHE" in err and "\n" not in err
    assert not list(tokenfile.cache_dir().glob("*.bin*"))


def test_prepare_lm_then_train_reuses_the_token_files(tmp_path, capsys):
    from conftest import TEXT as LM_TEXT
    from conftest import TINY

    path = tmp_path / "corpus"
    path.mkdir()
    (path / "train.txt").write_text(LM_TEXT)
    (path / "valid.txt").write_text(LM_TEXT[:300])
    assert main(["prepare", "lm", "--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "uint8" in out and ".bin" in out
    made = {p: p.stat().st_mtime_ns for p in tokenfile.cache_dir().glob("*.bin")}
    assert main(["train", "lm", "--data", str(path), "--runs", str(tmp_path), "--name", "r", *TINY]) == 0
    assert {p: p.stat().st_mtime_ns for p in tokenfile.cache_dir().glob("*.bin")} == made  # nothing prepared again
    assert main(["train", "lm", "--resume", str(tmp_path / "r"), "--train.progress=false"]) == 0
    assert main(["evaluate", str(tmp_path / "r"), "--data", str(path / "valid.txt")]) == 0
    assert {p: p.stat().st_mtime_ns for p in tokenfile.cache_dir().glob("*.bin")} == made  # resume, evaluate: too
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc\n" * 10 + b"caf\xe9\n")
    assert main(["prepare", "lm", "--data", str(bad)]) == 2
    assert "not UTF-8 text (bad byte at offset 43)" in capsys.readouterr().err


def test_a_bad_byte_is_named_by_its_offset_across_reads(tmp_path, small_pieces):
    path = tmp_path / "t.txt"
    path.write_bytes("ééé".encode() + b"\xff" + b"abc")  # the bad byte at offset 6, the reads 7 bytes long
    with pytest.raises(UserError, match=r"bad byte at offset 6\)"):
        tokenfile.char_count(str(path))


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "t.txt").write_text("abc\n" * 10)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "a-file"))  # a file where the cache directory should be
    assert main(["prepare", "lm", "--data", str(tmp_path / "t.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write the token cache" in err and "SEQLAB_CACHE" in err and "\n" not in err
