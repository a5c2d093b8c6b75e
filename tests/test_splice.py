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


def test_the_paired_difference_by_hand():
    from seqlab.metrics.paired import paired_difference

    d = paired_difference([0.9, 0.8, 0.7, 0.6], [0.8, 0.75, 0.6, 0.6])  # d = 0.1, 0.05, 0.1, 0
    # mean 0.0625; squared deviations 0.0375², 0.0125², 0.0375², 0.0625² sum to 0.006875; s² = 0.006875 / 3
    assert d["mean"] == pytest.approx(0.0625) and d["se"] == pytest.approx((0.006875 / 3 / 4) ** 0.5)
    assert d["se"] == pytest.approx(0.0239357, abs=1e-7) and d["t"] == pytest.approx(0.0625 / 0.0239357, rel=1e-5)
    assert (d["wins"], d["ties"], d["losses"], d["folds"], d["beats"]) == (3, 1, 0, 4, True)  # t = 2.61 > 2
    assert not paired_difference([0.9, 0.7], [0.8, 0.8])["beats"]  # +0.1 and -0.1: the mean 0, nothing shown
    with pytest.raises(ValueError, match="one length >= 2"):
        paired_difference([0.9], [0.8])


@pytest.mark.parametrize("name", ["onehot-svm-rbf", "onehot-boosting", "onehot-logistic"])
def test_the_tuned_baselines_learn_a_planted_motif(name):
    from seqlab.baselines import SEQUENCE_BASELINES, tuned

    lines = splice_lines(30, 0)
    texts, labels = [line.split()[-1] for line in lines], [line.split(",")[0] for line in lines]
    model, chosen = tuned(name, texts, labels)
    grid = SEQUENCE_BASELINES[name][1]
    assert all(chosen[k.split("__")[-1]] in values for k, values in grid.items())  # chosen from its grid
    fresh = splice_lines(10, 5)
    assert (model.predict([line.split()[-1] for line in fresh]) == [line.split(",")[0] for line in fresh]).mean() > 0.9


def test_integrated_gradients_add_up_to_the_change_in_log_probability():
    """Completeness: Σ_t a_t = f(x) - f(baseline), f = log p(c | x), up to the quadrature error."""
    import torch

    from seqlab.models.attribution import integrated_gradients
    from seqlab.models.classifier import ClassifierConfig, SequenceClassifier

    torch.manual_seed(0)
    cfg = ClassifierConfig(embed_size=6, hidden_size=5, dropout=0.0, pooling="attention", positions=9,
                           conv_widths="3", conv_channels=4)
    model = SequenceClassifier(cfg, 7, 3).double().eval()
    lengths = torch.tensor([9, 6])
    tokens = torch.randint(1, 7, (2, 9)).masked_fill(torch.arange(9) >= lengths[:, None], 0)
    target = torch.tensor([2, 0])
    a = integrated_gradients(model, tokens, lengths, target, steps=400)
    baseline = model.embed.weight[1:].mean(0).detach()
    mask = (torch.arange(9) < lengths[:, None])[..., None]
    with torch.no_grad():
        f_x = model(tokens, lengths).log_softmax(-1)[[0, 1], target]
        f_0 = model(tokens, lengths, embedded=baseline.expand(2, 9, 6) * mask).log_softmax(-1)[[0, 1], target]
    torch.testing.assert_close(a.sum(1), f_x - f_0, atol=1e-5, rtol=0)
    assert (a[1, 6:] == 0).all() and (f_x - f_0).abs().min() > 1e-3  # nothing on padding; a case that can fail


def test_a_planted_motif_is_learned_and_its_attribution_peaks_there(tmp_path, capsys):
    """Class X: the dinucleotide GT at positions 9-10 (0-based) of 20 random bases; class Y: anything else there."""
    import torch

    from seqlab.tasks import classify, registry

    rng = random.Random(0)

    def line(i):
        bases = [rng.choice("ACGT") for _ in range(20)]
        label = "X" if i % 2 else "Y"
        if label == "X":
            bases[9:11] = "GT"
        elif bases[9:11] == ["G", "T"]:
            bases[10] = "A"
        return label, "".join(bases)

    train = tmp_path / "train.data"
    train.write_text("".join(f"{label}, s-{i}, {seq}\n" for i, (label, seq) in enumerate(map(line, range(600)))))
    args = ["train", "classify", "--data", str(train), "--preset", "splice-bilstm-pos", "--runs", str(tmp_path),
            "--name", "motif", "--model.positions=20", "--model.hidden_size=16", "--train.epochs=12",
            "--train.progress=false"]
    assert main(args) == 0
    assert float(capsys.readouterr().out.split("best accuracy ")[1].split()[0]) > 0.95
    queries = [line(i) for i in range(1, 41, 2)]  # 20 of class X
    (tmp_path / "q.txt").write_text("".join(seq + "\n" for _, seq in queries))
    logo = tmp_path / "logo.png"
    assert main(["predict", str(tmp_path / "motif"), "--input", str(tmp_path / "q.txt"), "--explain", str(logo)]) == 0
    assert capsys.readouterr().out.count("X\t") >= 19 and logo.stat().st_size > 10_000
    run = registry.get("classify").load(tmp_path / "motif", "cpu")
    ids = [classify.token_ids(run.tokens, seq, 0) for _, seq in queries]
    attributions, tokens = classify.explanation(run, ids, [run.labels.stoi["X"]] * len(ids))
    maps, letters = classify.class_maps(run, attributions, tokens, [run.labels.stoi["X"]] * len(ids))
    (m,) = maps.values()
    m = torch.tensor(m)  # (symbols, 20)
    top = sorted(((float(m[a, t]), letters[a], t) for a in range(len(letters)) for t in range(20)), reverse=True)[:2]
    assert {(letter, t) for _, letter, t in top} == {("G", 9), ("T", 10)}
    assert classify.position_labels(run, 20)[9:11] == ["-1", "+1"]  # the junction sits between them


def test_explain_needs_inputs_of_one_length(tmp_path, capsys):
    train = tmp_path / "train.data"
    train.write_text("\n".join(splice_lines(20, 1)) + "\n")
    assert main(["train", "classify", "--data", str(train), "--preset", "splice-bilstm-pos", "--runs", str(tmp_path),
                 "--name", "dna", "--model.positions=20", "--model.hidden_size=8", "--train.epochs=1",
                 "--train.progress=false"]) == 0
    capsys.readouterr()
    q = tmp_path / "q.txt"
    q.write_text("ACGTACGTACGTACGTACGT\nACGTACGT\n")
    assert main(["predict", str(tmp_path / "dna"), "--input", str(q), "--explain", str(tmp_path / "l.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--explain: input line 2 has 8 tokens, the first 20" in err and "\n" not in err
    q.write_text("ACGTACGTACGTACGTACGT\n")
    assert main(["predict", str(tmp_path / "dna"), "--input", str(q), "--explain", str(tmp_path / "l.xyz")]) == 2
    err = capsys.readouterr().err.strip()  # a suffix matplotlib cannot write: one line, not a traceback
    assert f"cannot write the plot {tmp_path / 'l.xyz'}: Format 'xyz' is not supported" in err and "\n" not in err
    q.write_text("ACGTACGTACGTACGTACGTA\n")  # 21 > the 20 learned positions
    assert main(["predict", str(tmp_path / "dna"), "--input", str(q)]) == 2
    assert "input line 1 has 21 tokens; model.positions reads at most 20" in capsys.readouterr().err
