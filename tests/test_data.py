"""Text reading, vocabularies and contiguous-stream batching for truncated BPTT."""
import pytest
import torch

from seqlab.data.corpus import DataConfig, load_corpus
from seqlab.data.files import read_text
from seqlab.data.stream import batchify, num_windows, windows
from seqlab.data.tokens import BPEVocab, CharVocab, WordVocab, encode_prime, vocab_from_json
from seqlab.errors import UserError
from seqlab.models.lm import ModelConfig, RecurrentLM
from seqlab.tasks.lm import evaluate_streams
from seqlab.tasks.shared import read_vocab, write_vocab


def test_streams_are_contiguous_and_targets_shifted():
    tokens = torch.arange(103)
    streams = batchify(tokens, 4, 5)
    assert streams.shape == (4, 25)  # the 3-token tail is dropped
    for b in range(4):
        assert torch.equal(streams[b], tokens[b * 25 : (b + 1) * 25])
    seen = []
    for i, x, y in windows(streams, 5):
        assert torch.equal(y, x + 1)  # next token, since tokens are consecutive integers
        assert torch.equal(x, streams[:, i : i + x.shape[1]])
        seen.append(x)
    assert len(seen) == num_windows(streams, 5) == 5
    assert torch.equal(torch.cat(seen, 1), streams[:, :-1])  # every input position once, in order
    assert seen[-1].shape[1] == 4  # the last window is shorter


def test_windows_resume_from_a_position():
    streams = batchify(torch.arange(60), 2, 4)
    positions = [i for i, _, _ in windows(streams, 4)]
    assert [i for i, _, _ in windows(streams, 4, positions[3])] == positions[3:]


def test_carried_state_makes_windowed_evaluation_equal_one_long_window():
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(embed_size=8, hidden_size=16, num_layers=2), 11)
    streams = batchify(torch.randint(0, 11, (400,)), 4, 1)
    short = evaluate_streams(model, streams, 7)["loss"]
    whole = evaluate_streams(model, streams, streams.shape[1])["loss"]
    assert abs(short - whole) < 1e-5


def test_too_short_corpus_is_a_user_error():
    with pytest.raises(UserError, match="too short for batch_size=4 x window 10"):
        batchify(torch.arange(30), 4, 10)


def test_read_text_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_text(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(UserError, match="is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8 text .*offset 3"):
        read_text(tmp_path / "latin1.txt")


def test_char_vocab_round_trip_and_unseen_prime(tmp_path):
    vocab = CharVocab.build("hello world")
    assert vocab.decode(vocab.encode("hello")) == "hello"
    write_vocab(tmp_path, tokens=vocab)
    again = vocab_from_json(read_vocab(tmp_path)["tokens"])
    assert again.itos == vocab.itos
    with pytest.raises(UserError, match="never saw: 'Zxy'"):
        encode_prime(vocab, "xylo Z")


def test_word_vocab_has_eos_per_line_and_unk():
    vocab = WordVocab.build("the cat sat\nthe dog\n")
    ids = vocab.encode("the cat\nthe bird\n")
    assert [vocab.itos[i] for i in ids] == ["the", "cat", "<eos>", "the", "<unk>", "<eos>"]
    with pytest.raises(UserError, match="never saw: bird"):
        encode_prime(vocab, "the bird")


def test_bpe_vocab_through_tokenizers_round_trips(tmp_path):
    text = "the quick brown fox jumps over the lazy dog\n" * 50
    vocab = BPEVocab.build(text, vocab_size=300)
    ids = vocab.encode("the lazy fox")
    assert len(ids) < len("the lazy fox")  # merges happened
    assert vocab.decode(ids) == "the lazy fox"
    write_vocab(tmp_path, tokens=vocab)
    assert vocab_from_json(read_vocab(tmp_path)["tokens"]).encode("the lazy fox") == ids


def test_corpus_single_file_split_and_directory_layout(tmp_path):
    (tmp_path / "one.txt").write_text("abcdefghij" * 10)
    corpus = load_corpus(DataConfig(path=str(tmp_path / "one.txt"), level="char", split=0.9))
    assert len(corpus.train) == 90 and len(corpus.valid) == 10
    d = tmp_path / "ptb"
    d.mkdir()
    (d / "ptb.train.txt").write_text("a b c\nb c d\n")
    (d / "ptb.valid.txt").write_text("a b\n")
    corpus = load_corpus(DataConfig(path=str(d), level="word"))
    assert len(corpus.train) == 8 and len(corpus.valid) == 3 and corpus.test is None
    (d / "ptb.valid.txt").unlink()
    with pytest.raises(UserError, match=r"no file named like \*valid\*"):
        load_corpus(DataConfig(path=str(d), level="word"))
