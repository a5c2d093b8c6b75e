"""DNA splice junctions: the UCI reader, the stratified folds, the baselines, a classifier on nucleotides."""
import random

import pytest

from seqlab.baselines import kmer_logistic, onehot_logistic
from seqlab.cli import main
from seqlab.data.folds import stratified_folds, stratified_hold_out
from seqlab.data.splice import read_splice
from seqlab.errors import UserError

MOTIF = {"EI": "GGTAAG", "IE": "TTTCAG", "N": "ACGTAC"}  # a class-specific word at the junction


def splice_lines(n: int, seed: int, length: int = 20) -> list[str]:
    """UCI-format lines: random bases with the class's motif at positions 7..12, sorted by class as the UCI file."""
    rng = random.Random(seed)
    lines = []
    for label in ("EI", "IE", "N"):
        for i in range(n):
            bases = [rng.choice("ACGT") for _ in range(length)]
            bases[7:13] = MOTIF[label]
            lines.append(f"{label},    {label}-{i},    {''.join(bases)}")
    return lines


def test_the_reader_on_hand_made_lines(tmp_path):
    f = tmp_path / "s.data"
    f.write_text("EI,  A-1,   ACGTDNSR\nN,   B-2,   acgtacgt\n\nIE, C-3, TTTTCCCC\n")
    ex = read_splice(f)
    assert [(e.label, e.text) for e in ex] == [("EI", "ACGTNNNN"), ("N", "ACGTACGT"), ("IE", "TTTTCCCC")]
    f.write_text("EI,  A-1,   ACGTACGT\nN,   B-2,   ACGXACGT\n")
    with pytest.raises(UserError, match=r"s.data line 2 column 16: 'X' is not an IUPAC nucleotide code"):
        read_splice(f)
    assert "N,   B-2,   ACGXACGT"[16 - 1] == "X"  # the column named is the letter's (1-based)
    f.write_text("EI,  A-1,   ACGTACGT\nN,   B-2,   ACGTACG\n")
    with pytest.raises(UserError, match="line 2: a sequence of 7 nucleotides; the file's first has 8"):
        read_splice(f)
    f.write_text("EI ACGTACGT\n")
    with pytest.raises(UserError, match="line 1: expected 'CLASS, NAME, SEQUENCE'"):
        read_splice(f)


def test_folds_are_stratified_disjoint_covering_and_reproducible():
    labels = ["EI"] * 40 + ["IE"] * 40 + ["N"] * 80
    folds = stratified_folds(labels, 10, seed=3)
    tests = [set(test) for _, test in folds]
    assert sorted(i for t in tests for i in t) == list(range(160))  # disjoint and covering
    for train, test in folds:
        assert set(train) | set(test) == set(range(160)) and not set(train) & set(test)
        assert [labels[i] for i in test].count("N") == 8 and [labels[i] for i in test].count("EI") == 4
    assert folds == stratified_folds(labels, 10, seed=3)
    assert folds != stratified_folds(labels, 10, seed=4)
    kept, held = stratified_hold_out(labels, 0.25, seed=0)
    assert [labels[i] for i in held].count("N") == 20 and not set(kept) & set(held)
    with pytest.raises(UserError, match="the rarest has 2"):
        stratified_folds(["a", "a", "b", "b", "b"], 3, 0)


def test_the_baselines_read_position_and_composition():
    lines = splice_lines(30, 0)
    texts, labels = [line.split()[-1] for line in lines], [line.split(",")[0] for line in lines]
    onehot = onehot_logistic(C=1.0).fit(texts, labels)
    assert onehot.predict(texts).tolist() == labels  # the motif's position is linearly separable
    kmer = kmer_logistic(4, C=10.0).fit(texts, labels)
    assert (kmer.predict(texts) == labels).mean() > 0.9  # and the motif's 4-mers are in the bag


def test_a_classifier_on_nucleotides_through_the_cli(tmp_path, capsys):
    train = tmp_path / "train.data"
    train.write_text("\n".join(splice_lines(60, 1)) + "\n")
    args = ["train", "classify", "--data", str(train), "--preset", "splice-bilstm", "--runs", str(tmp_path),
            "--name", "dna", "--model.hidden_size=16", "--train.epochs=25", "--train.progress=false"]
    assert main(args) == 0
    out = capsys.readouterr().out
    best = float(out.split("best accuracy ")[1].split()[0])
    assert best > 0.8  # three classes: chance is 1/3; the held-out part is stratified (the file is sorted by class)
    test = tmp_path / "test.data"
    test.write_text("\n".join(splice_lines(10, 2)) + "\n")
    assert main(["evaluate", str(tmp_path / "dna"), "--data", str(test)]) == 0
    assert "accuracy" in capsys.readouterr().out
    queries = tmp_path / "q.txt"
    queries.write_text(MOTIF["IE"].join(["ACGTACG", "ACGTACG"]).lower() + "\nACGTXACG\n")
    assert main(["predict", str(tmp_path / "dna"), "--input", str(queries)]) == 2  # X: refused, line and column
    assert "input line 2 column 5: 'X' is not an IUPAC nucleotide code" in capsys.readouterr().err
    queries.write_text("ACGTDAC" + MOTIF["IE"] + "ACGTACG\n")
    assert main(["predict", str(tmp_path / "dna"), "--input", str(queries)]) == 0
    assert capsys.readouterr().out.split("\t")[0] == "IE"
    bad = tmp_path / "bad.data"
    bad.write_text("EI, X-1, ACGTQ\n")
    assert main(["evaluate", str(tmp_path / "dna"), "--data", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "line 1 column 14: 'Q' is not an IUPAC nucleotide code" in err and "\n" not in err
