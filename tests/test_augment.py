"""Speech augmentations: speed perturbation, additive noise, VTLP -- their effect measured, and training-only use."""
import math

import pytest
import torch
from conftest import write_fsdd

from seqlab.data.augment import add_noise, change_speed, draw, vtlp_warp
from seqlab.data.mel import FeatureConfig, Features, mel_filterbank
from seqlab.data.wav import read_wav
from seqlab.errors import UserError
from seqlab.tasks import speech

RATE = 8000


def tone(hz: float, seconds: float = 0.5) -> torch.Tensor:
    return torch.sin(2 * math.pi * hz * torch.arange(int(RATE * seconds)) / RATE)


def peak_hz(x: torch.Tensor) -> float:
    return float(torch.fft.rfft(x).abs().argmax()) * RATE / len(x)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_shortens_by_the_factor_and_raises_every_frequency_by_it(factor):
    x = tone(500.0)
    y = change_speed(x, factor)
    assert len(y) == round(len(x) / factor)
    assert abs(peak_hz(y) - 500.0 * factor) <= RATE / len(y)  # within one FFT bin
    assert torch.allclose(change_speed(x, 1.0), x)


def test_noise_is_added_at_the_signal_to_noise_ratio_asked_for():
    x = tone(300.0, 2.0)
    for snr in (5.0, 20.0):
        noise = add_noise(x, snr, torch.Generator().manual_seed(0)) - x
        measured = 10 * math.log10(x.pow(2).mean() / noise.pow(2).mean())
        assert abs(measured - snr) < 0.2


def test_vtlp_warp_keeps_zero_and_nyquist_is_continuous_and_scales_the_low_band():
    f = torch.linspace(0, RATE / 2, 4001, dtype=torch.float64)
    assert torch.equal(vtlp_warp(f, 1.0, RATE), f)
    for alpha in (0.9, 1.1):
        w = vtlp_warp(f, alpha, RATE)
        assert w[0] == 0 and abs(w[-1] - RATE / 2) < 1e-9
        assert torch.all(w[1:] > w[:-1])  # monotonic, so continuous at the break (no jump down or gap back)
        assert torch.max((w[1:] - w[:-1]).abs()) < 2 * (f[1] - f[0])
        low = f < 0.5 * RATE / 2
        assert torch.allclose(w[low], alpha * f[low])
    assert torch.equal(mel_filterbank(RATE, 256, 40, warp=1.0), mel_filterbank(RATE, 256, 40))
    # a warp > 1 moves a tone's energy up the mel bands
    feats = Features(FeatureConfig(normalise=False))
    x = tone(800.0)
    band = [int(feats(x, warp).mean(0).argmax()) for warp in (0.9, 1.0, 1.1)]
    assert band[0] < band[1] < band[2]


def test_draw_stays_in_its_range():
    g = torch.Generator().manual_seed(1)
    values = [draw(g, 0.9, 1.1) for _ in range(200)]
    assert min(values) >= 0.9 and max(values) <= 1.1 and max(values) - min(values) > 0.15


@pytest.fixture(scope="module")
def toy_fsdd(tmp_path_factory):
    return write_fsdd(tmp_path_factory.mktemp("fsdd"))


def augmented_config(path, mode: str = "isolated") -> speech.SpeechConfig:
    cfg = speech.fsdd(mode)
    cfg.data.path, cfg.data.train_utterances, cfg.data.valid_utterances = str(path), 40, 10
    cfg.data.speed, cfg.data.vtlp, cfg.data.noise_snr_db, cfg.data.spec_augment = 0.1, 0.1, 10.0, False
    cfg.model.hidden_size, cfg.model.num_layers, cfg.model.dropout = 16, 1, 0.0
    cfg.train.device, cfg.train.progress = "cpu", False
    return cfg


@pytest.mark.parametrize("mode", ["isolated", "connected"])
def test_augmentations_apply_to_training_batches_only(toy_fsdd, mode):
    cfg = augmented_config(toy_fsdd, mode)
    task = speech.setup(cfg, None, torch.device("cpu"))
    feats = Features(cfg.features)
    # training examples keep their samples; each step makes new features of a new draw, shaped (T', n_mels)
    x, _ = task.train[0]
    assert x.dim() == 1
    a, b = task.augmented(x), task.augmented(x)
    assert a.shape[1] == b.shape[1] == cfg.features.n_mels and not (a.shape == b.shape and torch.allclose(a, b))
    assert abs(len(a) - feats.frames(len(x))) <= 0.11 * feats.frames(len(x)) + 1  # speed within ±10%
    batch = task.train[:4]
    assert task.train_step(batch)[0].item() != task.train_step(batch)[0].item()  # fresh draws every step
    # validation (and so model selection, evaluation, transcription) sees the plain features
    parts = speech.split_recordings(cfg.data)
    plain = speech.examples(cfg, feats, parts["valid"], "valid")
    assert all(torch.equal(f, g) for (f, _), (g, _) in zip(task.valid, plain))
    if mode == "isolated":
        first = read_wav(parts["valid"][0].path, RATE)[0]
        assert torch.equal(task.valid[0][0], feats(first))
    # without augmentation the training examples are the features themselves
    cfg.data.speed = cfg.data.vtlp = cfg.data.noise_snr_db = 0.0
    assert speech.setup(cfg, None, torch.device("cpu")).train[0][0].dim() == 2


def test_augmentation_settings_are_checked(toy_fsdd):
    for name, value, message in [("speed", 0.6, r"data.speed must be in \[0, 0.5\), got 0.6"), ("vtlp", -0.1, "data.vtlp must be in"),
                                 ("noise_snr_db", -3.0, "data.noise_snr_db must be")]:
        cfg = augmented_config(toy_fsdd)
        setattr(cfg.data, name, value)
        with pytest.raises(UserError, match=message):
            speech.TASK.train(cfg, toy_fsdd / "never")
    cfg = augmented_config(toy_fsdd, "frames")
    with pytest.raises(UserError, match="data.speed is not for data.mode=frames"):
        speech.setup(cfg, None, torch.device("cpu"))
