"""Part of speech: the tag column chosen, token accuracy with OOV words, the baselines by hand, the tag task."""
import pytest
from conftest import conll_sentences

from seqlab.baselines import MostFrequentTag, perceptron_tagger
from seqlab.cli import main
from seqlab.data.tagged import read_conll
from seqlab.metrics.tagging import token_accuracy

TRAIN = [(["the", "dog", "runs"], ["DT", "NN", "VBZ"]), (["the", "runs"], ["DT", "NNS"]),
         (["a", "dog", "barks"], ["DT", "NN", "VBZ"]), (["runs"], ["NNS"])]


def test_most_frequent_tag_by_hand():
    tagger = MostFrequentTag(TRAIN)
    # 'runs': NNS twice, VBZ once; an unknown word: DT (3 of 9 tags, the most frequent overall)
    assert tagger(["the", "runs", "cat"]) == ["DT", "NNS", "DT"]
    gold = [["DT", "VBZ", "NN"]]
    scores = token_accuracy(gold, [tagger(["the", "runs", "cat"])], [["the", "runs", "cat"]],
                            {w for s, _ in TRAIN for w in s})
    assert scores == {"token_accuracy": 1 / 3, "tokens": 3, "oov_accuracy": 0.0, "oov_tokens": 1}


def test_token_accuracy_counts_oov_by_the_written_form():
    s = token_accuracy([["A", "B"], ["C"]], [["A", "X"], ["C"]], [["Dog", "dog"], ["cat"]], {"dog"})
    assert s == {"token_accuracy": 2 / 3, "tokens": 3, "oov_accuracy": 1.0, "oov_tokens": 2}


def test_the_perceptron_learns_the_training_file():
    pytest.importorskip("nltk")
    tagger = perceptron_tagger(TRAIN * 5, iterations=5)
    assert tagger(["a", "dog", "barks"]) == ["DT", "NN", "VBZ"] and tagger([]) == []


def test_the_pos_column_through_the_tag_task(tmp_path, capsys):
    train, dev = tmp_path / "train.conll", tmp_path / "dev.conll"
    train.write_text(conll_sentences(200, 0))
    dev.write_text(conll_sentences(40, 1) + "Zoe NNP I-NP I-PER\nqux NN I-NP O\n\n")  # two unseen words
    assert {t for s in read_conll(train, 0, 1).sentences for t in s.tags} == {"NN", "NNP"}  # column 2
    assert main(["train", "tag", "--data", str(train), "--data.valid", str(dev), "--preset", "conll-pos-bilstm-softmax",
                 "--runs", str(tmp_path), "--name", "pos", "--model.hidden_size=16", "--train.epochs=10", "--optim.warmup_steps=0",
                 "--train.progress=false"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "pos"), "--data", str(dev)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("token accuracy ")[1].split()[0])
    assert accuracy > 0.9 and "(2 tokens)" in out.split("on words not in the training file")[1]
    assert main(["train", "tag", "--data", str(train), "--data.tag_column=7", "--runs", str(tmp_path),
                 "--train.progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert "line 3: no column 7 (the line has 4 columns" in err and "\n" not in err
