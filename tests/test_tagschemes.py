"""Tag-scheme conversions round-trip; scheme detection; CoNLL and segmented-text reading."""
import random

import pytest

from seqlab.data.tagged import read_conll, read_segmented
from seqlab.data.tagschemes import bmes, chunks, convert, detect_scheme, from_chunks, words_from_bmes
from seqlab.errors import UserError

IOB1 = ["I-ORG", "O", "I-MISC", "O", "O", "O", "I-MISC", "I-PER", "B-PER", "O", "I-LOC", "I-LOC"]
IOB2 = ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "B-PER", "B-PER", "O", "B-LOC", "I-LOC"]
BIOES = ["S-ORG", "O", "S-MISC", "O", "O", "O", "S-MISC", "S-PER", "S-PER", "O", "B-LOC", "E-LOC"]


def _random_chunks(rng, length):
    out, t = [], 0
    while t < length:
        if rng.random() < 0.4:
            end = min(length, t + rng.randint(1, 3))
            out.append((rng.choice("AB"), t, end))
            t = end
        else:
            t += 1
    return out


def test_the_three_schemes_of_one_sentence():
    assert convert(IOB1, "iob2") == IOB2 and convert(IOB1, "bioes") == BIOES
    assert convert(IOB2, "iob1") == IOB1 and convert(BIOES, "iob1") == IOB1 and convert(BIOES, "iob2") == IOB2
    assert chunks(IOB1) == chunks(IOB2) == chunks(BIOES) == [
        ("ORG", 0, 1), ("MISC", 2, 3), ("MISC", 6, 7), ("PER", 7, 8), ("PER", 8, 9), ("LOC", 10, 12)]


@pytest.mark.parametrize("seed", range(20))
def test_random_chunkings_round_trip_through_every_scheme(seed):
    rng = random.Random(seed)
    found = _random_chunks(rng, rng.randint(1, 15))
    n = max((e for _, _, e in found), default=0) + rng.randint(0, 2)
    for a in ("iob1", "iob2", "bioes"):
        tags = from_chunks(found, n, a)
        assert chunks(tags) == found
        for b in ("iob1", "iob2", "bioes"):
            assert convert(convert(tags, b), a) == tags


def test_words_and_bmes_round_trip():
    words = ["共同", "创造", "美好", "的", "新", "世纪", "——", "二○○一年"]
    tags = bmes(words)
    assert tags[:6] == ["B", "E", "B", "E", "B", "E"] and tags[6] == "S" and tags[-5:] == ["B", "M", "M", "M", "E"]
    assert words_from_bmes([c for w in words for c in w], tags) == words


def test_scheme_detection():
    assert detect_scheme([IOB1], ["x"]) == "iob1"
    assert detect_scheme([IOB2], ["x"]) == "iob2"
    assert detect_scheme([BIOES], ["x"]) == "bioes"
    assert detect_scheme([["O", "O"]], ["x"]) == "iob2"
    with pytest.raises(UserError, match="mixed tag schemes: IOB1 at f line 1 but IOB2 at f line 9"):
        detect_scheme([IOB1, IOB2], ["f line 1", "f line 9"])
    with pytest.raises(UserError, match="mixed tag schemes: BIOES at b but"):
        detect_scheme([BIOES, ["B-X", "O"]], ["b", "c"])


def test_read_conll_skips_docstart_and_picks_columns(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\n")
    data = read_conll(path)
    assert [s.tokens for s in data.sentences] == [["EU", "rejects"], ["Peter"]]
    assert data.sentences[0].tags == ["I-ORG", "O"] and data.scheme == "iob1" and data.sentences[1].line == 6
    assert read_conll(path, 0, 1).scheme == "plain"  # POS tags: no chunk scheme


@pytest.mark.parametrize("content, message", [
    ("EU NNP I-ORG\nrejects O\n", "line 2: 2 columns, but the file's first token line has 3"),
    ("", "is empty"),
    ("\n-DOCSTART- O\n\n", "holds no sentences"),
    ("a I-X\nb O\n\nc B-X\nd O\n", "mixed tag schemes: IOB1 at {p} line 1 but IOB2 at {p} line 4"),
])
def test_conll_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.conll"
    path.write_text(content)
    with pytest.raises(UserError, match=message.format(p=path).replace("(", r"\(").replace(")", r"\)")):
        read_conll(path)


def test_non_utf8_file_is_an_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 O\n".encode("latin-1"))
    with pytest.raises(UserError, match="is not UTF-8"):
        read_conll(path)


def test_read_segmented_turns_words_into_bmes(tmp_path):
    path = tmp_path / "seg.utf8"
    path.write_bytes("共同  创造  的\r\n\r\n新  世纪\r\n".encode())
    data = read_segmented(path)
    assert data.scheme == "bmes" and len(data.sentences) == 2
    assert data.sentences[0].tokens == list("共同创造的") and data.sentences[0].tags == list("BEBES")
    assert data.sentences[1].words == ["新", "世纪"]
