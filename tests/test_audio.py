"""WAV reading and speech features: round trips, bad files, the mel filterbank and MFCC against their formulas."""
import math
import struct
import wave

import numpy as np
import pytest
import torch

from seqlab.data.mel import FeatureConfig, Features, dct_matrix, mel_filterbank, normalise, spec_augment
from seqlab.data.wav import read_wav, wav_files, write_wav
from seqlab.errors import UserError


def tone(freq: float, rate: int = 8000, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(rate * seconds), dtype=torch.float64) / rate
    return (0.5 * torch.sin(2 * math.pi * freq * t)).float()


def raw_wav(path, frames: bytes, width: int, channels: int = 1, rate: int = 8000):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(frames)
    return path


def test_round_trip_16_bit(tmp_path):
    x = tone(440)
    y, rate = read_wav(write_wav(tmp_path / "a.wav", x, 8000))
    assert rate == 8000 and y.shape == x.shape and torch.allclose(x, y, atol=1 / 32768)


def test_8_and_24_bit_and_stereo(tmp_path):
    assert torch.allclose(read_wav(raw_wav(tmp_path / "u8.wav", bytes([0, 128, 255]), 1))[0],
                          torch.tensor([-1.0, 0.0, 127 / 128]))
    pcm24 = b"".join(v.to_bytes(3, "little", signed=True) for v in (-(2**23), 0, 2**22))
    assert torch.allclose(read_wav(raw_wav(tmp_path / "s24.wav", pcm24, 3))[0], torch.tensor([-1.0, 0.0, 0.5]))
    stereo = struct.pack("<4h", 16384, -16384, 8192, 8192)  # (L, R) frames -> their means
    assert torch.allclose(read_wav(raw_wav(tmp_path / "st.wav", stereo, 2, channels=2))[0], torch.tensor([0.0, 0.25]))


def test_resampling_keeps_the_frequency(tmp_path):
    y, rate = read_wav(write_wav(tmp_path / "hi.wav", tone(1000, 16000), 16000), rate=8000)
    assert rate == 8000 and abs(len(y) - 4000) <= 1
    spectrum = torch.fft.rfft(y).abs()
    assert abs(int(spectrum.argmax()) * 8000 / len(y) - 1000) < 5


def float_wav(path):
    data = struct.pack("<3f", 0.0, 0.5, -0.5)
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)  # format 3: IEEE float
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_bad_files(tmp_path):
    cases = {}
    (tmp_path / "text.wav").write_text("hello, not audio")
    cases["text.wav"] = "not a WAV file"
    good = write_wav(tmp_path / "good.wav", tone(300), 8000).read_bytes()
    (tmp_path / "cut.wav").write_bytes(good[: len(good) // 2])
    cases["cut.wav"] = "truncated"
    (tmp_path / "head.wav").write_bytes(good[:20])
    cases["head.wav"] = "WAV"
    raw_wav(tmp_path / "empty.wav", b"", 2)
    cases["empty.wav"] = "empty"
    float_wav(tmp_path / "float.wav")
    cases["float.wav"] = "IEEE-float"
    for name, expected in cases.items():
        with pytest.raises(UserError) as e:
            read_wav(tmp_path / name)
        assert expected in str(e.value) and name in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "none").mkdir()
    with pytest.raises(UserError, match="no .wav files"):
        wav_files(tmp_path / "none")


def reference_filterbank(sr, n_fft, n_mels):
    """The triangles written out one weight at a time."""
    mel = lambda f: 2595 * math.log10(1 + f / 700)
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)
    edges = [hz(mel(sr / 2) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    w = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(1, n_mels + 1):
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if edges[m - 1] <= f <= edges[m]:
                w[m - 1, k] = (f - edges[m - 1]) / (edges[m] - edges[m - 1])
            elif edges[m] < f <= edges[m + 1]:
                w[m - 1, k] = (edges[m + 1] - f) / (edges[m + 1] - edges[m])
    return torch.from_numpy(w).float()


def test_mel_filterbank_equals_its_formula():
    for sr, n_fft, n_mels in ((8000, 256, 40), (16000, 512, 80), (8000, 200, 23)):
        assert torch.allclose(mel_filterbank(sr, n_fft, n_mels), reference_filterbank(sr, n_fft, n_mels), atol=1e-6)


def test_mel_filterbank_equals_librosa():
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=8000, n_fft=256, n_mels=40, htk=True, norm=None)
    assert torch.allclose(mel_filterbank(8000, 256, 40), torch.from_numpy(ref).float(), atol=1e-5)


def test_mfcc_is_the_orthonormal_dct_of_the_log_mel():
    from scipy.fft import dct

    cfg = FeatureConfig(kind="mfcc", normalise=False)
    x = tone(1000) + 0.01 * torch.randn(4000, generator=torch.Generator().manual_seed(0))
    feats = Features(cfg)
    log_mel = feats.log_mel(x)
    reference = torch.from_numpy(dct(log_mel.double().numpy(), type=2, norm="ortho", axis=1)[:, :13]).float()
    assert torch.allclose(feats(x), reference, atol=1e-4)
    d = dct_matrix(40, 40).double()
    assert torch.allclose(d @ d.T, torch.eye(40, dtype=torch.float64), atol=1e-6)  # orthonormal


def test_log_mel_and_mfcc_equal_librosa_on_a_tone():
    librosa = pytest.importorskip("librosa")
    cfg = FeatureConfig(kind="mfcc", normalise=False)
    x = tone(1000) + 0.01 * torch.randn(4000, generator=torch.Generator().manual_seed(0))
    feats = Features(cfg)
    power = librosa.feature.melspectrogram(y=x.double().numpy(), sr=8000, n_fft=256, win_length=200, hop_length=80,
                                           window="hann", center=True, pad_mode="reflect", power=2.0, n_mels=40,
                                           htk=True, norm=None)
    ours = feats.log_mel(x).double()  # (T, 40)
    assert ours.shape == (power.shape[1], 40)
    log_ref = torch.from_numpy(power.T + 1e-6).log()  # the same floor against log(0)
    assert torch.allclose(ours, log_ref, atol=1e-3)  # torch.stft pads by reflection, as asked of librosa
    mfcc = librosa.feature.mfcc(S=ours.T.numpy(), n_mfcc=13, dct_type=2, norm="ortho")
    assert torch.allclose(feats(x).double(), torch.from_numpy(mfcc.T), atol=1e-3)


def test_a_tone_lights_the_mel_band_around_its_frequency():
    cfg = FeatureConfig(normalise=False)
    s = Features(cfg).log_mel(tone(1000))  # (T, 40)
    band = int(s[5:-5].mean(0).argmax())
    edges = 700 * (10 ** (torch.linspace(0, 2595 * math.log10(1 + 4000 / 700), 42) / 2595) - 1)
    assert edges[band] < 1000 < edges[band + 2]
    assert s.shape == (4000 // 80 + 1, 40)


def test_normalise_and_spec_augment():
    f = torch.randn(100, 40) * 3 + 5
    n = normalise(f)
    assert torch.allclose(n.mean(0), torch.zeros(40), atol=1e-5) and abs(n.pow(2).mean().item() - 1) < 1e-3
    ratio = n.std(0) / (f - f.mean(0)).std(0)  # one scale for every band
    assert torch.allclose(ratio, ratio[0].expand(40), rtol=1e-4)
    a = spec_augment(n, torch.Generator().manual_seed(3))
    b = spec_augment(n, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # reproducible from its generator
    zero_cols = (a == 0).all(0).sum()
    zero_rows = (a == 0).all(1).sum()
    assert 0 < zero_cols <= 2 * 8 and 0 < zero_rows <= 2 * 10  # two bands and two runs at most, each bounded
