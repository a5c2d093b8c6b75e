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


def test_frequency_bins_and_the_auxiliary_loss_by_hand():
    """Plank et al. 2016: each word's target is floor(ln count) in the training file; the loss adds aux_loss times
    the mean cross-entropy of the second softmax to the tagging loss."""
    import math

    import torch

    from seqlab.data.tagged import Sentence, TaggedFile
    from seqlab.models.tagger import Tagger, TaggerConfig
    from seqlab.tasks.tag import TagDataConfig
    from seqlab.tasks.tag_features import WordFeatures

    sentences = [Sentence(["the"] * 8 + ["a"] * 3 + ["x"], ["DT"] * 11 + ["NN"], 1)]
    f = WordFeatures.build(TagDataConfig(), TaggedFile(sentences, "plain", "t"))
    assert f.vocabs["words"].itos == ["<pad>", "<unk>", "the", "a", "x"]
    assert f.frequency_bins().tolist() == [0, 0, 2, 1, 0]  # ln 8 = 2.08, ln 3 = 1.10, ln 1 = 0

    torch.manual_seed(0)
    cfg = TaggerConfig(embed_size=4, char_encoder="none", hidden_size=3, output="softmax", dropout=0.0, aux_loss=0.5)
    model = Tagger(cfg, {"words": 5, "tags": 2, "frequency_bins": 3})
    batch = {"words": torch.tensor([[2, 3, 4]]), "lengths": torch.tensor([3]), "mask": torch.ones(1, 3, dtype=torch.bool)}
    tags, bins = torch.tensor([[0, 1, 0]]), torch.tensor([[2, 1, 0]])
    h = model.states(batch)[0]

    def cross_entropy(scores, targets):  # by hand: - mean of log p(target)
        return -sum(math.log(torch.softmax(scores[t], -1)[k].item()) for t, k in enumerate(targets.tolist())) / 3

    expected = cross_entropy(model.emit(h), tags[0]) + 0.5 * cross_entropy(model.aux(h), bins[0])
    assert model.loss(batch, tags, bins).item() == pytest.approx(expected, rel=1e-5)
    assert model.loss(batch, tags).item() == pytest.approx(cross_entropy(model.emit(h), tags[0]), rel=1e-5)
    crf = Tagger(TaggerConfig(**{**cfg.__dict__, "output": "crf"}), {"words": 5, "tags": 2, "frequency_bins": 3})
    h = crf.states(batch)[0]  # with a CRF (a loss per sentence) the auxiliary loss is summed over the sentence's words
    assert (crf.loss(batch, tags, bins) - crf.loss(batch, tags)).item() == pytest.approx(
        0.5 * 3 * cross_entropy(crf.aux(h), bins[0]), rel=1e-4)
    assert Tagger(TaggerConfig(char_encoder="none"), {"words": 5, "tags": 2}).aux is None  # off by default


def test_a_tagger_with_the_auxiliary_loss_and_averaged_weights_through_the_cli(tmp_path, capsys):
    train, dev = tmp_path / "train.conll", tmp_path / "dev.conll"
    train.write_text(conll_sentences(60, 0))
    dev.write_text(conll_sentences(20, 1))
    assert main(["train", "tag", "--data", str(train), "--data.valid", str(dev), "--preset", "conll-pos-bilstm-crf",
                 "--runs", str(tmp_path), "--name", "aux", "--model.hidden_size=8", "--train.epochs=2",
                 "--model.aux_loss=1", "--optim.ema=0.9", "--train.progress=false"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "aux"), "--data", str(dev)]) == 0
    assert "token accuracy" in capsys.readouterr().out
    (tmp_path / "in.txt").write_text("the dog\n")
    assert main(["predict", str(tmp_path / "aux"), "--input", str(tmp_path / "in.txt")]) == 0
    assert len(capsys.readouterr().out.split("\n\n")[0].splitlines()) == 2
    assert main(["train", "tag", "--data", str(train), "--runs", str(tmp_path), "--model.aux_loss=-1"]) == 2
    assert "model.aux_loss must be >= 0, got -1" in capsys.readouterr().err
