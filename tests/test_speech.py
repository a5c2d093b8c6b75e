"""Spoken digits on a generated FSDD-like set (a tone per digit): splits, connected utterances, training, the CLI."""
import pytest
import torch
from conftest import digit_tone, write_fsdd

from seqlab.cli import main
from seqlab.data.fsdd import connected, read_fsdd, split
from seqlab.data.wav import write_wav
from seqlab.errors import UserError
from seqlab.tasks import speech


@pytest.fixture(scope="module")
def toy_fsdd(tmp_path_factory):
    return write_fsdd(tmp_path_factory.mktemp("fsdd"))


def test_splits(toy_fsdd):
    recordings = read_fsdd(toy_fsdd)
    assert len(recordings) == 240
    train, test = split(recordings, "official")
    assert {r.take for r in test} == set(range(5)) and {r.take for r in train} == {5, 6, 7}
    train, test = split(recordings, "speaker:bob")
    assert {r.speaker for r in test} == {"bob"} and "bob" not in {r.speaker for r in train}
    with pytest.raises(UserError, match="no speaker 'dave'"):
        split(recordings, "speaker:dave")


def test_connected_utterances_are_reproducible_and_keep_to_their_side(toy_fsdd):
    train, test = split(read_fsdd(toy_fsdd), "official")
    a, b = connected(train, 20, seed=3), connected(train, 20, seed=3)
    assert [u.digits for u in a] == [u.digits for u in b] and all(torch.equal(x.samples, y.samples) for x, y in zip(a, b))
    assert [u.digits for u in connected(train, 20, seed=4)] != [u.digits for u in a]
    assert all(2 <= len(u.digits) <= 7 for u in a)
    assert all(r.take >= 5 for u in a for r in u.sources)  # training takes only
    assert all(r.take < 5 for u in connected(test, 20, seed=3) for r in u.sources)
    assert all(u.digits == [r.digit for r in u.sources] for u in a)


def small(mode: str, path) -> speech.SpeechConfig:
    cfg = speech.fsdd(mode)
    cfg.data.path, cfg.data.train_utterances, cfg.data.valid_utterances, cfg.data.test_utterances = str(path), 300, 40, 40
    cfg.data.spec_augment = False  # a tone lives in one or two bands: a frequency mask would hide the label
    cfg.model.hidden_size, cfg.model.num_layers, cfg.model.dropout = 32, 1, 0.0
    cfg.optim.warmup_steps, cfg.optim.lr = 0, 5e-3
    cfg.train.epochs, cfg.train.progress, cfg.train.device, cfg.train.batch_size = 25, False, "cpu", 16
    if mode == "connected":
        cfg.model.hidden_size, cfg.optim.lr = 48, 1e-2
    return cfg


def test_a_small_model_learns_isolated_digits(toy_fsdd, tmp_path, capsys):
    cfg = small("isolated", toy_fsdd)
    speech.TASK.train(cfg, tmp_path / "iso")
    run = speech.TASK.load(tmp_path / "iso", "cpu")
    test = speech.evaluate(run, speech.EvaluateOptions(None, "test", 1))
    assert test["accuracy"] >= 0.9 and test["examples"] == 150
    assert main(["transcribe", str(tmp_path / "iso"), str(toy_fsdd / "7_carol_0.wav")]) == 0
    assert capsys.readouterr().out.split("\t")[1] == "7"
    assert main(["transcribe", str(tmp_path / "iso"), str(toy_fsdd / "7_carol_0.wav"), "--max-seconds", "0.1"]) == 2
    assert "over the limit of 0.1 s (--max-seconds" in capsys.readouterr().err


def test_ctc_learns_connected_tones(toy_fsdd, tmp_path, capsys):
    cfg = small("connected", toy_fsdd)
    result = speech.TASK.train(cfg, tmp_path / "ctc")
    assert result["best"]["value"] < 0.2  # the digit error rate on validation utterances
    wav = write_wav(tmp_path / "seq.wav", torch.cat([torch.zeros(800), digit_tone(3, 6, 0), torch.zeros(1200),
                                                      digit_tone(9, 5, 1), torch.zeros(800)]), 8000)
    png = tmp_path / "ctc.png"
    assert main(["transcribe", str(tmp_path / "ctc"), str(wav), "--beam", "4", "--plot", str(png)]) == 0
    assert capsys.readouterr().out.strip().endswith("\t39") and png.is_file()
    assert main(["evaluate", str(tmp_path / "ctc"), "--beam", "4"]) == 0
    assert "digit error rate" in capsys.readouterr().out


def _error(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab: error:") and "\n" not in err
    return err


def test_bad_input(toy_fsdd, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    train = ["train", "speech", "--runs", str(tmp_path / "runs"), "--train.progress=false", "--data"]
    assert "no .wav files" in _error(train + [str(tmp_path / "empty")], capsys)
    odd = tmp_path / "odd"
    odd.mkdir()
    write_wav(odd / "hello.wav", digit_tone(1, 1, 0), 8000)
    assert "not an FSDD file name" in _error(train + [str(odd)], capsys)
    assert "data.mode" in _error(train + [str(toy_fsdd), "--data.mode=words"], capsys)
    cfg = small("isolated", toy_fsdd)
    cfg.train.epochs = 1
    speech.TASK.train(cfg, tmp_path / "run")
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    assert "not a WAV file" in _error(["transcribe", str(tmp_path / "run"), str(text)], capsys)
