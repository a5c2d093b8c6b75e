"""Frame-level labels of connected digits: labels from the assembly, segments and their F1, a frame tagger."""
import pytest
import torch
from conftest import digit_tone, write_fsdd

from seqlab.cli import main
from seqlab.data.fsdd import Recording, Utterance, connected, frame_labels, read_fsdd, split
from seqlab.data.wav import write_wav
from seqlab.metrics.segments import segment_scores, segments
from seqlab.tasks import speech


@pytest.fixture(scope="module")
def toy_fsdd(tmp_path_factory):
    return write_fsdd(tmp_path_factory.mktemp("fsdd"))


def test_segments_and_their_f1_by_hand():
    assert segments([0, 3, 3, 0, 0, 5, 5, 5, 2]) == [(3, 1, 3), (5, 5, 8), (2, 8, 9)]
    assert segments([]) == [] and segments([0, 0]) == []
    gold = [[(3, 10, 20), (5, 30, 40)], [(1, 0, 5)]]
    predicted = [[(3, 12, 18), (5, 33, 40), (5, 30, 41)], [(2, 0, 5)]]
    # (3, 12, 18): both ends within 2; (5, 33, 40): start 3 off; (5, 30, 41): matches; (2, 0, 5): wrong label
    s = segment_scores(gold, predicted, tolerance=2)
    assert s["segment_precision"] == 2 / 4 and s["segment_recall"] == 2 / 3
    assert s["segment_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert segment_scores([[(3, 10, 20)]], [[(3, 10, 20), (3, 10, 20)]])["segment_precision"] == 0.5  # one match each


def test_frame_labels_line_up_with_the_assembly():
    rec = Recording(None, 0, "x", 0)
    quiet, loud = torch.zeros(800), torch.ones(1600) * 0.5
    samples = torch.cat([quiet, quiet[:400], loud, quiet[:400], quiet, loud, quiet])  # silences around two digits
    u = Utterance(samples, [4, 7], [rec, rec], [(800, 800 + 2400), (4000, 5600)])  # the first has a quiet lead-in/tail
    frames = 1 + len(samples) // 80
    y = frame_labels(u, frames, hop=80, win=200).tolist()
    found = segments(y)
    assert [k for k, _, _ in found] == [5, 8]  # digits 4 and 7
    (_, s1, e1), (_, s2, e2) = found
    assert abs(s1 - 1200 // 80) <= 2 and abs(e1 - 2800 // 80) <= 2  # the loud part, not the recording's quiet ends
    assert abs(s2 - 4000 // 80) <= 2 and abs(e2 - 5600 // 80) <= 2
    assert all(v == 0 for v in y[e1 + 1 : s2 - 1])  # the silence between the two recordings is silence


def test_frame_labels_of_real_assembly_follow_the_sources(toy_fsdd):
    train, _ = split(read_fsdd(toy_fsdd), "official")
    for u in connected(train, 5, seed=1):
        y = frame_labels(u, 1 + len(u.samples) // 80, 80, 200).tolist()
        assert [k - 1 for k, _, _ in segments(y)] == u.digits


def small_frames(path) -> speech.SpeechConfig:
    cfg = speech.fsdd("frames")
    cfg.data.path, cfg.data.train_utterances, cfg.data.valid_utterances, cfg.data.test_utterances = str(path), 200, 30, 30
    cfg.data.spec_augment = False
    cfg.model.hidden_size, cfg.model.num_layers, cfg.model.dropout = 32, 1, 0.0
    cfg.optim.warmup_steps, cfg.optim.lr = 0, 1e-2
    cfg.train.epochs, cfg.train.progress, cfg.train.device, cfg.train.batch_size = 10, False, "cpu", 16
    return cfg


def test_a_frame_tagger_learns_tones_and_draws_them(toy_fsdd, tmp_path, capsys):
    cfg = small_frames(toy_fsdd)
    result = speech.TASK.train(cfg, tmp_path / "frames")
    assert result["best"]["value"] > 0.9  # frame accuracy on validation utterances
    run = speech.TASK.load(tmp_path / "frames", "cpu")
    test = speech.evaluate(run, speech.EvaluateOptions(None, "test", 1))
    assert test["segment_f1"] > 0.7
    wav = write_wav(tmp_path / "seq.wav", torch.cat([torch.zeros(800), digit_tone(3, 6, 0), torch.zeros(1200),
                                                      digit_tone(9, 5, 1), torch.zeros(800)]), 8000)
    png = tmp_path / "frames.png"
    assert main(["transcribe", str(tmp_path / "frames"), str(wav), "--plot", str(png)]) == 0
    digits, spans = capsys.readouterr().out.strip().split("\t")[1:]
    assert digits == "39" and png.is_file()
    (a, b) = spans.split()
    assert a.startswith("3@0.1") and b.startswith("9@")  # the first tone starts at 800 samples = 0.10 s


def test_a_wav_at_another_rate_is_refused_when_resampling_is_off(toy_fsdd, tmp_path, capsys):
    cfg = small_frames(toy_fsdd)
    cfg.train.epochs, cfg.data.train_utterances, cfg.features.resample = 1, 20, False
    speech.TASK.train(cfg, tmp_path / "r")
    wav = write_wav(tmp_path / "16k.wav", torch.zeros(1600), 16000)
    assert main(["transcribe", str(tmp_path / "r"), str(wav)]) == 2
    err = capsys.readouterr().err.strip()
    assert "16k.wav: sampled at 16000 Hz, the model at 8000 Hz, and features.resample is off" in err and "\n" not in err
