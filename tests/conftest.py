"""Generated data shared by the task tests (no files outside the repository)."""
import random

import pytest

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
