"""Handwriting strips: reproducible, disjoint splits; both decoders learn; attention over columns; bad images."""
import random

import numpy as np
import pytest
import torch

from seqlab.cli import main
from seqlab.ctc import greedy_decode, prefix_beam_search
from seqlab.data.strips import StripConfig, digits, read_strip, source_split, strips, write_strip
from seqlab.errors import UserError
from seqlab.models.handwriting import EOS, AttentionReader, ReaderConfig
from seqlab.search import beam_search, greedy_search
from seqlab.tasks import handwriting

# Small and quick: 400 steps on strips of 1-3 digits (about 25 s a model on 2 cores).
SMALL = ["--data.lengths=1-3", "--data.valid_strips=200", "--model.hidden_size=64", "--model.dropout=0.0",
         "--train.batch_size=32", "--train.epochs=4", "--train.eval_every=200", "--optim.lr=3e-3",
         "--optim.warmup_steps=20", "--train.progress=false"]


def test_splits_are_disjoint_stratified_and_seeded():
    parts = source_split(0)
    sets = [set(parts[s].tolist()) for s in ("train", "valid", "test")]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == len(digits()[1])
    labels = digits()[1]
    assert all(len(set(labels[parts[s]].tolist())) == 10 for s in parts)  # every digit in every split
    assert all((source_split(0)[s] == parts[s]).all() for s in parts)
    assert not (source_split(1)["test"] == parts["test"]).all()


def test_strips_are_reproducible_and_keep_to_their_split():
    cfg, parts = StripConfig(), source_split(0)
    a, b = strips(parts["test"], 50, (3, 8), 7, cfg), strips(parts["test"], 50, (3, 8), 7, cfg)
    assert all(torch.equal(x.image, y.image) and x.digits == y.digits for x, y in zip(a, b))
    assert {len(s.digits) for s in a} <= set(range(3, 9)) and len({len(s.digits) for s in a}) > 3
    test_images = set(parts["test"].tolist())
    assert all(src in test_images for s in a for src in s.sources)
    train = strips(parts["train"], 200, (3, 8), 7, cfg)
    assert not {src for s in train for src in s.sources} & test_images
    labels = digits()[1]
    assert all(s.digits == [int(labels[k]) for k in s.sources] for s in a)
    s = a[0]
    assert s.image.shape[0] == cfg.height and s.image.max() <= 1 and s.image.min() >= 0
    for (left, top, w, h), src in zip(s.boxes, s.sources):  # every digit lies inside the canvas, in order
        assert top + h <= cfg.height and s.image[top : top + h, left : left + w].sum() > 0
    assert [box[0] for box in s.boxes] == sorted(box[0] for box in s.boxes)


def test_png_round_trip_of_a_generated_strip(tmp_path):
    cfg = StripConfig()
    s = strips(source_split(0)["valid"], 1, (4, 4), 3, cfg)[0]
    for dark_on_light in (False, True):
        path = write_strip(tmp_path / f"s{dark_on_light}.png", s.image, dark_on_light)
        back = read_strip(path, cfg, scale=1.0)  # as drawn: cropped to the ink, centred, margins added
        ink = s.image > 0.25
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        crop = s.image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        top = (cfg.height - crop.shape[0]) // 2
        inner = back[top : top + crop.shape[0], cfg.margin : cfg.margin + crop.shape[1]]
        torch.testing.assert_close(inner, crop, atol=1 / 255 + 1e-6, rtol=0)
    auto = read_strip(path, cfg)
    assert auto.shape[0] == cfg.height and (auto > 0.25).any(1).sum() <= round(cfg.digit_size * cfg.max_scale) + 1


def test_bad_images_are_refused_with_one_line(tmp_path):
    cfg = StripConfig()
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UserError, match="notes.png: not an image"):
        read_strip(text, cfg)
    blank = write_strip(tmp_path / "blank.png", torch.zeros(24, 80))
    with pytest.raises(UserError, match="blank.png: the image is empty"):
        read_strip(blank, cfg)
    s = strips(source_split(0)["valid"], 1, (3, 3), 3, cfg)[0]
    png = write_strip(tmp_path / "s.png", s.image)
    with pytest.raises(UserError, match=r"pixels tall after scaling by 3, taller than the model's canvas of 24"):
        read_strip(png, cfg, scale=3.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("hw")
    for decoder in ("ctc", "attention"):
        assert main(["train", "handwriting", "--runs", str(root), "--name", decoder,
                     f"--model.decoder={decoder}", *SMALL]) == 0
    return root


@pytest.mark.parametrize("decoder", ["ctc", "attention"])
def test_both_decoders_learn_short_strips_well_above_chance(trained, decoder, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(trained / decoder), "--split", "test", "--strips", "300"]) == 0
    out = capsys.readouterr().out
    cer = float(out.split("CER ")[1].split(",")[0])
    assert cer < 0.35, out  # a random digit per digit: 0.9 of them wrong; none at all: 1.0


def test_predict_reads_pngs_and_plots(trained, tmp_path, capsys):
    s = strips(source_split(0)["test"], 1, (2, 2), 11, StripConfig())[0]
    png = write_strip(tmp_path / "two.png", s.image, dark_on_light=True)
    for decoder in ("ctc", "attention"):
        plot = tmp_path / f"{decoder}.png"
        assert main(["predict", str(trained / decoder), str(png), "--plot", str(plot), "--scale", "1"]) == 0
        name, guess = capsys.readouterr().out.strip().split("\t")
        assert name == str(png) and guess.isdigit() and plot.stat().st_size > 0
    notes = tmp_path / "notes.png"
    notes.write_text("hello")
    assert main(["predict", str(trained / "ctc"), str(notes)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab: error:") and "not an image" in err and "\n" not in err
    assert main(["predict", str(trained / "ctc"), str(png), "--scale", "5"]) == 2
    assert "taller than the model's canvas" in capsys.readouterr().err
    assert main(["train", "handwriting", "--data", "x", "--runs", str(tmp_path)]) == 2
    assert "ship with scikit-learn" in capsys.readouterr().err


def test_attention_sums_to_one_and_ignores_padding_columns(trained):
    run = handwriting.TASK.load(trained / "attention", "cpu")
    pool = source_split(0)["test"]
    items = [strips(pool, 1, (1, 1), 6, run.cfg.data)[0], strips(pool, 1, (3, 3), 5, run.cfg.data)[0]]  # narrow, wide
    images, widths = handwriting.pad([s.image for s in items], "cpu")
    memory = run.model.encode(images, widths)
    _, _, a = run.model.decode_step(torch.full((2,), 1), run.model.init_state(memory), memory)
    torch.testing.assert_close(a.sum(-1), torch.ones(2))
    narrow = int(widths.min()) // 4
    assert a.shape[1] > narrow and torch.all(a[0, narrow:] == 0)
    attention = run.model.attention_of(images, widths, [[1], [2, 3]])
    assert attention[0].shape == (2, narrow)


def test_beam_one_equals_greedy_for_both_decoders(trained):
    items = strips(source_split(0)["test"], 40, (1, 3), 9, StripConfig())
    images, widths = handwriting.pad([s.image for s in items], "cpu")
    attention = handwriting.TASK.load(trained / "attention", "cpu").model
    args = (attention, images, widths, 1, EOS, 4)
    assert beam_search(*args, beam=1) == greedy_search(*args)
    ctc = handwriting.TASK.load(trained / "ctc", "cpu").model
    log_probs, lengths = ctc(images, widths)
    for lp, n in zip(log_probs, lengths.tolist()):
        assert prefix_beam_search(lp[:n], beam=1) == greedy_decode(lp[:n])


def test_the_attention_reader_accepts_any_cell_for_its_columns():
    rng = random.Random(0)
    for cell in ("gru", "min_gru", "rnn_tanh"):
        model = AttentionReader(ReaderConfig(decoder="attention", cell=cell, hidden_size=8, conv_channels=2), 24)
        images = torch.rand(2, 24, 40 + rng.randrange(8))
        loss = model.loss(images, torch.tensor([images.shape[2], 30]), [[1, 2], [3]])
        loss.backward()
        assert torch.isfinite(loss) and model.encoder.conv[0].weight.grad.abs().sum() > 0
