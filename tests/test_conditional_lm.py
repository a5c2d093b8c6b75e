"""The label -> sentence language model: the condition changes what it writes; generate, predict, evaluate."""
import random

import pytest
import torch

from seqlab.cli import main
from seqlab.models.conditional_lm import ConditionalLM, ConditionalLMConfig
from seqlab.tasks import conditional_lm

GOOD = ["a fine film", "a lovely story", "fine acting", "lovely and fine", "a superb cast"]
BAD = ["a dull film", "a boring story", "dull acting", "boring and dull", "an awful cast"]
SMALL = ["--model.hidden_size=32", "--model.embed_size=16", "--model.label_size=8", "--model.dropout=0.0",
         "--data.min_freq=1", "--train.batch_size=16", "--train.epochs=12", "--optim.lr=0.01",
         "--optim.warmup_steps=0", "--train.progress=false", "--data.label_names=1=positive,0=negative"]


def toy(path, n: int, seed: int):
    """A TSV of phrases whose words give their label away."""
    rng = random.Random(seed)
    rows = [f"{rng.choice(GOOD if label == '1' else BAD)}\t{label}" for label in rng.choices("01", k=n)]
    path.write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cond")
    train, dev = toy(root / "train.tsv", 300, 0), toy(root / "dev.tsv", 60, 1)
    assert main(["train", "conditional_lm", "--data", str(train), "--data.valid", str(dev), "--runs", str(root),
                 "--name", "c", "--data.text_column=sentence", *SMALL]) == 0
    return root


def test_the_two_conditions_give_different_next_word_distributions(run):
    loaded = conditional_lm.TASK.load(run / "c", "cpu")
    v = loaded.vocab
    bos = torch.tensor([[v.stoi["<bos>"]], [v.stoi["<bos>"]]])
    second = torch.tensor([[v.stoi["<bos>"], v.stoi["a"]]] * 2)
    labels = torch.tensor([loaded.label_id("positive"), loaded.label_id("negative")])
    with torch.no_grad():
        p = loaded.model(second, labels)[0][:, -1].softmax(-1)  # after "<bos> a"
        first = loaded.model(bos, labels)[0][:, -1].softmax(-1)
    assert p[0, v.stoi["fine"]] > 5 * p[1, v.stoi["fine"]] and p[1, v.stoi["dull"]] > 5 * p[0, v.stoi["dull"]]
    assert (first[0] - first[1]).abs().sum() > 0.1  # "fine" / "lovely" vs "dull" / "boring" at the start


def test_generate_predict_and_evaluate(run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["generate", str(run / "c"), "--condition", "positive", "--count", "20", "--temperature", "0.5"]) == 0
    said = capsys.readouterr().out.split()
    assert said and not {"dull", "boring", "awful"} & set(said)
    src = tmp_path / "conditions.txt"
    src.write_text("negative\n0\n")
    assert main(["predict", str(run / "c"), "--input", str(src), "--temperature", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and not {"fine", "lovely", "superb"} & set(lines[0].split())
    clf = tmp_path / "clf"
    assert main(["train", "classify", "--data", str(run / "train.tsv"), "--data.text_column=sentence",
                 "--runs", str(tmp_path), "--name", "clf", "--model.hidden_size=16", "--model.embed_size=16",
                 "--train.epochs=6", "--optim.lr=0.01", "--train.progress=false"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run / "c"), "--samples", "50", "--classifier", str(clf)]) == 0
    out = capsys.readouterr().out
    assert "per class: " in out and "negative " in out and "label fidelity" in out and "distinct-2" in out
    fidelity = [float(line.split("label fidelity ")[1]) for line in out.splitlines() if "fidelity" in line]
    assert len(fidelity) == 2 and min(fidelity) > 0.8, out


def test_bad_conditions_and_options_are_one_line_errors(run, capsys):
    for args, message in ((["--condition", "neutral"], "condition 'neutral' is not one the model was trained with"),
                          (["--prime", "a"], "give --condition (not --prime)"),
                          (["--condition", "positive", "--count", "0"], "--count must be in [1, 2147483647], got 0")):
        assert main(["generate", str(run / "c"), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err


@pytest.mark.parametrize("condition", ["state", "input", "both"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_every_way_of_conditioning_reaches_the_label_embedding(condition, cell):
    model = ConditionalLM(ConditionalLMConfig(cell=cell, hidden_size=8, embed_size=4, label_size=3,
                                              condition=condition, dropout=0.0), 7, 2)
    tokens = torch.tensor([[2, 4, 5, 3], [2, 6, 3, 0]])
    loss = model.loss(tokens, torch.tensor([0, 1]), torch.tensor([4, 3]))
    loss.backward()
    assert torch.isfinite(loss) and model.label.weight.grad.abs().sum() > 0
    with torch.no_grad():
        a = model(tokens[:, :1], torch.tensor([0, 0]))[0]
        b = model(tokens[:, :1], torch.tensor([1, 1]))[0]
    assert not torch.allclose(a, b)  # the label changes the first prediction
