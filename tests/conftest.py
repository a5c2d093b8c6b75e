"""Generated data shared by the task tests (no files outside the repository)."""
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import torch

# a tiny character LM: its corpus and the flags that keep a run to a few seconds
TEXT = "the rain in spain stays mainly in the plain.\n" * 30
TINY = ["--model.embed_size=8", "--model.hidden_size=16", "--model.num_layers=1", "--train.batch_size=4",
        "--train.bptt=16", "--train.max_steps=6", "--train.eval_every=3", "--train.eval_batch_size=2",
        "--train.progress=false"]
MT_TINY = ["--model.embed_size=16", "--model.hidden_size=16", "--data.vocab_size=300", "--data.max_tokens=256",
           "--train.max_steps=6", "--train.eval_every=3", "--train.progress=false", "--decode.max_len=12"]



@pytest.fixture(autouse=True, scope="session")
def _token_cache(tmp_path_factory):
    """Language-model token files (seqlab.data.tokenfile) go to a directory of this session, never ~/.cache."""
    import os

    os.environ["SEQLAB_CACHE"] = str(tmp_path_factory.mktemp("seqlab-cache"))
    yield


FILLER = [f"w{i}" for i in range(40)]
KEYWORDS = {"pos": ["great", "lovely", "superb"], "neg": ["awful", "dull", "boring"], "mid": ["okay", "fine", "average"]}


def labelled_lines(n: int, seed: int) -> list[str]:
    """'label text' lines whose label is given by one keyword hidden among filler words."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        label = rng.choice(sorted(KEYWORDS))
        words = rng.choices(FILLER, k=rng.randint(3, 10))
        words.insert(rng.randint(0, len(words)), rng.choice(KEYWORDS[label]))
        lines.append(f"{label} {' '.join(words)}")
    return lines


PEOPLE, PLACES = ["Alice", "Bob", "Carol", "Dave", "Erin"], ["Paris", "London", "Rome", "Oslo"]


def conll_sentences(n: int, seed: int) -> str:
    """IOB1 CoNLL text (token POS chunk NER): two-token people, one-token places, lowercase filler."""
    rng = random.Random(seed)
    out = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(n):
        for _ in range(rng.randint(2, 6)):
            r = rng.random()
            if r < 0.2:
                out += [f"{rng.choice(PEOPLE)} NNP I-NP I-PER", f"{rng.choice(PEOPLE)}son NNP I-NP I-PER"]
            elif r < 0.35:
                out.append(f"{rng.choice(PLACES)} NNP I-NP I-LOC")
            else:
                out.append(f"{rng.choice(FILLER)} NN I-NP O")
        out.append("")
    return "\n".join(out) + "\n"


LEXICON = ["中国", "人民", "银行", "发展", "经济", "的", "了", "在", "北京大学", "我们", "合作", "新", "世纪"]


def segmented_sentences(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join("  ".join(rng.choices(LEXICON, k=rng.randint(3, 9))) for _ in range(n)) + "\n"


@pytest.fixture
def labelled_files(tmp_path):
    train, dev = tmp_path / "train.txt", tmp_path / "dev.txt"
    train.write_text("\n".join(labelled_lines(400, 0)) + "\n")
    dev.write_text("\n".join(labelled_lines(90, 1)) + "\n")
    return train, dev


@pytest.fixture
def conll_files(tmp_path):
    train, dev = tmp_path / "train.conll", tmp_path / "dev.conll"
    train.write_text(conll_sentences(300, 0))
    dev.write_text(conll_sentences(60, 1))
    return train, dev


@pytest.fixture
def segmented_files(tmp_path):
    train, dev = tmp_path / "train.utf8", tmp_path / "dev.utf8"
    train.write_text(segmented_sentences(300, 0), encoding="utf-8")
    dev.write_text(segmented_sentences(60, 1), encoding="utf-8")
    return train, dev


def parallel_corpus(tmp_path, n_val=20):
    """A toy German->English corpus: word-for-word with a fixed dictionary."""
    words = {"ein": "a", "hund": "dog", "mann": "man", "sieht": "sees", "eine": "a", "katze": "cat", "frau": "woman"}
    rng = random.Random(0)
    d = tmp_path / "mt"
    d.mkdir()
    for split, n in (("train", 200), ("val", n_val)):
        src = [" ".join(rng.choice(list(words)) for _ in range(rng.randint(2, 5))) for _ in range(n)]
        (d / f"{split}.de").write_text("\n".join(src) + "\n")
        (d / f"{split}.en").write_text("\n".join(" ".join(words[w] for w in s.split()) for s in src) + "\n")
    return d


MT_TINY = ["--model.embed_size=16", "--model.hidden_size=16", "--data.vocab_size=300", "--data.max_tokens=256",
           "--train.max_steps=6", "--train.eval_every=3", "--train.progress=false", "--decode.max_len=12"]


SPEAKERS = ["alice", "bob", "carol"]


def digit_tone(digit: int, take: int, speaker: int, rate: int = 8000) -> torch.Tensor:
    """A tone per digit (300 + 150·d Hz), a little longer or shorter per take, a little detuned per speaker."""
    n = int(rate * (0.25 + 0.01 * (take % 5)))
    t = torch.arange(n, dtype=torch.float64) / rate
    f = (300 + 150 * digit) * (1 + 0.01 * speaker)
    envelope = torch.sin(math.pi * torch.arange(n) / n)
    return (0.4 * envelope * torch.sin(2 * math.pi * f * t)).float()


def write_fsdd(root: Path, takes: int = 8) -> Path:
    """An FSDD-like directory: DIGIT_SPEAKER_TAKE.wav, a tone per digit."""
    from seqlab.data.wav import write_wav

    root.mkdir(parents=True, exist_ok=True)
    for s, speaker in enumerate(SPEAKERS):
        for d in range(10):
            for take in range(takes):
                write_wav(root / f"{d}_{speaker}_{take}.wav", digit_tone(d, take, s), 8000)
    return root


def series_values(n: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """A daily sine (period 24) + trend + noise per channel, the last channel the sum of the others' seasons."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64)
    cols = []
    for c in range(channels):
        season = (1 + c) * torch.sin(2 * math.pi * t / 24 + c)
        cols.append(season + 0.002 * (c + 1) * t + 0.1 * torch.randn(n, generator=g, dtype=torch.float64))
    return torch.stack(cols, 1)


def write_csv(path: Path, values: torch.Tensor, start=datetime(2020, 1, 1), step=timedelta(hours=1)) -> Path:
    names = [f"c{k}" for k in range(values.shape[1] - 1)] + ["OT"]
    lines = ["date," + ",".join(names)]
    lines += [f"{start + i * step},{','.join(f'{v:.6f}' for v in row.tolist())}" for i, row in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return path
