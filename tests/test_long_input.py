"""Long and large input at prediction time: streamed lines, a named limit on one line, windowed primes."""
import gzip
import io
import sys

import pytest
import torch
from conftest import labelled_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.cli import main
from seqlab.data.lines import input_lines, numbered_chunks
from seqlab.data.wav import read_wav, write_wav
from seqlab.errors import UserError
from seqlab.models.lm import ModelConfig, RecurrentLM

SMALL = ["--model.embed_size=16", "--model.hidden_size=16", "--train.batch_size=16", "--train.epochs=4",
         "--optim.lr=0.01", "--optim.warmup_steps=0", "--train.progress=false"]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet="ab ", max_size=3), max_size=40), st.integers(1, 7))
def test_chunks_number_the_input_lines(lines, size):
    chunks = list(numbered_chunks(iter(lines), size))
    assert [line for _, chunk in chunks for line in chunk] == lines
    assert [first for first, _ in chunks] == list(range(1, len(lines) + 1, size))
    assert all(1 <= len(chunk) <= size for _, chunk in chunks)


def test_input_lines_reads_line_ends_gzip_and_stops_at_the_limit(tmp_path):
    plain = tmp_path / "in.txt"
    plain.write_bytes(b"one two\r\nthree\rfour\nfive")
    assert list(input_lines(str(plain))) == ["one two", "three", "four", "five"]
    packed = tmp_path / "in.txt.gz"
    packed.write_bytes(gzip.compress(b"x y\nz\n"))
    assert list(input_lines(str(packed))) == ["x y", "z"]
    assert list(input_lines(str(plain), max_chars=7)) == ["one two", "three", "four", "five"]  # 7 is allowed
    with pytest.raises(UserError, match=r"line 1 of .*in.txt is longer than 6 characters \(--max-chars"):
        list(input_lines(str(plain), max_chars=6))
    huge = tmp_path / "huge.txt"
    huge.write_text("ok\n" + "w " * 5_000_000)  # a 10 MB line without a newline
    lines = input_lines(str(huge), max_chars=1000)
    assert next(lines) == "ok"
    with pytest.raises(UserError, match="line 2 of .*huge.txt is longer than 1,000 characters"):
        next(lines)


def test_input_lines_refuse_bad_bytes_and_empty_files_but_not_empty_stdin(tmp_path, monkeypatch):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nnot \xff utf-8\n")
    with pytest.raises(UserError, match="bad.txt is not UTF-8 text"):
        list(input_lines(str(bad)))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(UserError, match="empty.txt is empty"):
        list(input_lines(str(empty)))
    with pytest.raises(UserError, match="no such file"):
        list(input_lines(str(tmp_path / "missing.txt")))
    with pytest.raises(UserError, match="--max-chars must be at least 1"):
        list(input_lines(str(bad), max_chars=0))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert list(input_lines(None)) == []


@pytest.fixture(scope="module")
def classifier_runs(tmp_path_factory):
    """A BiLSTM and a Transformer classifier trained on the keyword sentences."""
    root = tmp_path_factory.mktemp("long")
    train = root / "train.txt"
    train.write_text("\n".join(labelled_lines(300, 0)) + "\n")
    for name, extra in (("rnn", []), ("transformer", ["--model.cell=transformer", "--model.num_heads=2"])):
        assert main(["train", "classify", "--data", str(train), "--runs", str(root), "--name", name,
                     *SMALL, *extra]) == 0
    return root


def test_streamed_predictions_equal_one_batch_and_errors_name_the_input_line(classifier_runs, tmp_path, capsys):
    from seqlab.tasks import classify

    run = classify.TASK.load(classifier_runs / "rnn", "cpu")
    texts = [line.split(" ", 1)[1] for line in labelled_lines(600, 5)]  # more than two chunks of 256
    whole = classify.probabilities(run, texts).argmax(-1).tolist()
    streamed = [line.split("\t")[0] for line in classify.predict_lines(run, iter(texts))]
    assert streamed == [run.labels.itos[k] for k in whole]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts[:299] + [" "] + texts[300:]) + "\n")
    capsys.readouterr()
    assert main(["predict", str(classifier_runs / "rnn"), "--input", str(src)]) == 2
    captured = capsys.readouterr()
    assert "input line 300 is empty" in captured.err
    assert len(captured.out.splitlines()) == 256  # the first chunk was answered before the error


def test_a_line_over_the_limit_and_a_sequence_over_the_transformer_positions_are_refused(classifier_runs, tmp_path,
                                                                                         capsys):
    long_line = tmp_path / "long.txt"
    long_line.write_text("great " * 5000 + "\n")  # 5,000 tokens, 30,000 characters
    assert main(["predict", str(classifier_runs / "rnn"), "--input", str(long_line)]) == 0  # a recurrent model reads it
    assert capsys.readouterr().out.startswith("pos\t")
    assert main(["predict", str(classifier_runs / "transformer"), "--input", str(long_line)]) == 2
    assert "input line 1 has 5,000 tokens; the Transformer encoder reads at most 4,096" in capsys.readouterr().err
    assert main(["predict", str(classifier_runs / "rnn"), "--input", str(long_line), "--max-chars", "1000"]) == 2
    assert "line 1 of" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_long_prime_is_read_in_windows_with_the_state_carried(cell):
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(cell=cell, embed_size=8, hidden_size=16, num_layers=2, dropout=0.0), 11).eval()
    prime = torch.randint(0, 11, (1, 50))
    with torch.no_grad():
        logits, state = model(prime)
    windowed, carried = model.start(prime, window=7)
    torch.testing.assert_close(windowed, logits[:, -1], rtol=1e-5, atol=1e-5)
    for a, b in zip(torch.utils._pytree.tree_leaves(carried), torch.utils._pytree.tree_leaves(state)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_a_recording_over_the_limit_is_refused_from_its_header(tmp_path):
    wav = write_wav(tmp_path / "long.wav", torch.zeros(8000 * 3), 8000)
    assert read_wav(wav, max_seconds=3.0)[0].numel() == 24000
    with pytest.raises(UserError, match=r"long.wav: 3.0 s long, over the limit of 2 s \(--max-seconds"):
        read_wav(wav, max_seconds=2.0)
