"""Fuzzing the readers with hypothesis: any input either parses or raises seqlab's one-line UserError --
never another exception, never a hang.

Each reader gets ``SEQLAB_FUZZ_EXAMPLES`` inputs (200 by default in ``make test``; set more for a long run):
raw bytes, arbitrary text, and text built from the format's own pieces so that the deeper branches are reached.
"""
import os
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.data.labelled import read_labelled
from seqlab.data.lines import input_lines
from seqlab.data.splice import read_splice
from seqlab.data.strips import StripConfig, read_strip
from seqlab.data.tagged import read_conll, read_segmented
from seqlab.data.timeseries import read_series
from seqlab.data.wav import read_wav
from seqlab.errors import UserError
from seqlab.tasks.classify import ClassifyConfig
from seqlab.train.config import apply_overrides, load_json, parse_overrides

EXAMPLES = int(os.environ.get("SEQLAB_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _lines(pieces: list[str], separators: str) -> st.SearchStrategy[str]:
    """Text made of the format's own pieces: tokens, separators, line ends."""
    token = st.one_of(st.sampled_from(pieces), st.text(max_size=6))
    line = st.lists(token, max_size=6).flatmap(
        lambda parts: st.sampled_from(list(separators)).map(lambda sep: sep.join(parts)))
    return st.lists(line, max_size=12).map("\n".join)


def _content(pieces: list[str], separators: str = " \t") -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode),
                     _lines(pieces, separators).map(lambda s: s.encode("utf-8", "surrogatepass")))


def parses_or_refuses(read, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"input{suffix}"
        path.write_bytes(data)
        try:
            read(path)
        except UserError as e:
            assert "\n" not in str(e).strip(), str(e)


CONLL = ["-DOCSTART-", "EU", "NNP", "B-ORG", "I-ORG", "O", "I-PER", "E-LOC", "S-MISC", "B-", "I-", "x", ""]


@FUZZ
@given(_content(CONLL), st.integers(-5, 5), st.integers(-5, 5))
def test_conll_reader(data, token_column, tag_column):
    parses_or_refuses(lambda p: read_conll(p, token_column, tag_column), data, ".conll")


@FUZZ
@given(_content(["中国", "人民", "的", "a", "  ", "\u3000"]))
def test_segmented_reader(data):
    parses_or_refuses(read_segmented, data, ".utf8")


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".tsv"])
@FUZZ
@given(data=_content(["label", "text", "1", "0", "pos", '"', '""', "a b"], " \t,"))
def test_labelled_readers(suffix, data):
    parses_or_refuses(read_labelled, data, suffix)


@pytest.mark.parametrize("suffix", [".txt", ".gz"])
@FUZZ
@given(data=_content(["a b", "\r", "\r\n", "\x0b", "\u2028", "\xff"], " \n"), max_chars=st.integers(1, 40))
def test_prediction_input_lines(suffix, data, max_chars):
    parses_or_refuses(lambda p: list(input_lines(str(p), max_chars)), data, suffix)


@FUZZ
@given(_content(["EI", "IE", "N", "ACGT", "acgtn", "DNSR", "X", "ATRINS-DONOR-521", ",", ", "], ", "))
def test_splice_reader(data):
    parses_or_refuses(read_splice, data, ".data")


@FUZZ
@given(_content(["date", "OT", "HUFL", "2016-07-01 00:00:00", "2016-07-01 01:00:00", "5.827", "nan", "", "-1e309",
                 "inf", "2016-13-01 00:00:00"], ","))
def test_ett_csv_reader(data):
    parses_or_refuses(read_series, data, ".csv")


def _wav(channels: int, rate: int, width: int, fmt: int, payload: bytes, size_delta: int) -> bytes:
    """A RIFF/WAVE file with chosen header fields, the payload and a (possibly wrong) data size."""
    block = channels * width
    fmt_chunk = struct.pack("<4sIHHIIHH", b"fmt ", 16, fmt, channels, rate, rate * block, block, width * 8)
    data_chunk = struct.pack("<4sI", b"data", max(0, len(payload) + size_delta)) + payload
    body = b"WAVE" + fmt_chunk + data_chunk
    return struct.pack("<4sI", b"RIFF", len(body)) + body


WAVS = st.one_of(st.binary(max_size=200), st.builds(
    _wav, st.integers(0, 3), st.integers(0, 96000), st.integers(0, 4), st.sampled_from([1, 3, 0, 2, 0xFFFE]),
    st.binary(max_size=400), st.integers(-8, 8)))


@FUZZ
@given(WAVS, st.sampled_from([None, 8000, 16000]), st.sampled_from([None, 0.001, 600.0]))
def test_wav_reader(data, rate, max_seconds):
    parses_or_refuses(lambda p: read_wav(p, rate, max_seconds), data, ".wav")


def _png(height: int, width: int, pixels: bytes, cut: int, mode: str) -> bytes:
    """A PNG (or JPEG) of the given pixels, its last ``cut`` bytes dropped."""
    import io

    from PIL import Image

    grey = (pixels * (height * width // max(1, len(pixels)) + 1))[: height * width]
    out = io.BytesIO()
    Image.frombytes("L", (width, height), grey).save(out, format=mode)
    raw = out.getvalue()
    return raw[: len(raw) - cut] if cut else raw


IMAGES = st.one_of(st.binary(max_size=200), st.builds(
    _png, st.integers(1, 60), st.integers(1, 300), st.binary(min_size=1, max_size=64), st.integers(0, 40),
    st.sampled_from(["PNG", "JPEG"])))


@FUZZ
@given(IMAGES, st.sampled_from([0.0, 0.5, 1.0, 3.0]))
def test_image_reader(data, scale):
    parses_or_refuses(lambda p: read_strip(p, StripConfig(), scale), data, ".png")


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_subnormal=False),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.sampled_from(["data", "model", "optim", "train", "path", "hidden_size", "lr", "cell", "x"]), inner,
        max_size=4)), max_leaves=12).map(lambda tree: __import__("json").dumps(tree).encode())))
def test_config_json(data):
    parses_or_refuses(lambda p: load_json(ClassifyConfig(), p), data, ".json")


KEYS = ["model.hidden_size", "optim.lr", "train.epochs", "data.tokens", "model.bidirectional", "train.device",
        "model", "nope.key", "data.path", ""]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=10)), max_size=4), st.booleans())
def test_section_key_value_overrides(pairs, dashes):
    args = [f"--{k}={v}" if dashes else f"{k}={v}" for k, v in pairs]
    try:
        apply_overrides(ClassifyConfig(), parse_overrides(args))
    except UserError as e:
        assert "\n" not in str(e).strip(), str(e)
