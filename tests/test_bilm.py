"""The biLM (pretraining a classifier's encoder) against torch.nn.LSTM, and fine-tuning from it (model.init_from)."""
import pytest
import torch
import torch.nn.functional as F
from conftest import labelled_lines

from seqlab.cli import main
from seqlab.data.batching import pad_batch
from seqlab.errors import UserError
from seqlab.models.bilm import BiLM, BiLMConfig
from seqlab.tasks import bilm, classify
from seqlab.train.config import apply_overrides, parse_overrides

SMALL = ["--model.embed_size=8", "--model.hidden_size=12", "--train.batch_size=8", "--train.max_steps=30",
         "--train.epochs=0", "--train.progress=false"]


def _model(**kw) -> BiLM:
    torch.manual_seed(0)
    return BiLM(BiLMConfig(embed_size=6, hidden_size=5, dropout=0.0, **kw), vocab_size=11, pad=0).double().eval()


def test_loss_is_both_directions_cross_entropy_computed_sentence_by_sentence_with_torch_lstm():
    model = _model()
    ref = torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True).double()
    ref.load_state_dict({k.removeprefix("encoder.rnn."): v for k, v in model.state_dict().items()
                         if k.startswith("encoder.rnn.")})
    sentences = [[3, 4, 5, 6, 2], [7, 1], [9], [2, 3, 10, 4, 4, 8, 5]]
    total, count = model.loss_sum(*pad_batch(sentences, 0))
    expected, n = 0.0, 0
    for s in sentences:  # each sentence alone, no padding
        x = torch.tensor([s])
        h, _ = ref(model.embed(x))
        forward, backward = model.decoder(h[0, :, :5]), model.decoder(h[0, :, 5:])
        if len(s) > 1:
            expected += F.cross_entropy(forward[:-1], x[0, 1:], reduction="sum")  # state t predicts x_{t+1}
            expected += F.cross_entropy(backward[1:], x[0, :-1], reduction="sum")  # state t predicts x_{t-1}
            n += 2 * (len(s) - 1)
    assert count == n == 2 * (4 + 1 + 0 + 6)
    torch.testing.assert_close(total, expected, rtol=1e-10, atol=1e-10)


def test_neither_direction_sees_the_token_it_predicts():
    model = _model()
    x = torch.tensor([[3, 4, 5, 6, 7, 8]])
    lengths = torch.tensor([6])
    forward, backward = model(x, lengths)
    for t in range(1, 5):
        changed = x.clone()
        changed[0, t] = 10
        f2, b2 = model(changed, lengths)
        torch.testing.assert_close(f2[0, :t], forward[0, :t])  # forward states before t never read x_t
        torch.testing.assert_close(b2[0, t + 1 :], backward[0, t + 1 :])  # backward states after t never read x_t
        assert not torch.allclose(f2[0, t], forward[0, t])  # (and the check can fail: x_t does reach state t)


def test_refused_models():
    with pytest.raises(UserError, match="model.cell=transformer"):
        BiLM(BiLMConfig(cell="transformer", hidden_size=8, num_heads=2), 10)
    with pytest.raises(UserError, match="model.num_layers=2 with model.bidirectional=true"):
        BiLM(BiLMConfig(num_layers=2), 10)
    BiLM(BiLMConfig(num_layers=2, bidirectional=False, embed_size=4, hidden_size=4), 10)  # one way: any depth


def _pretrained(tmp_path, *extra):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(labelled_lines(120, 0)) + "\n")
    assert main(["train", "bilm", "--data", str(path), "--data.format=lines", "--runs", str(tmp_path), "--name", "lm",
                 *SMALL, *extra]) == 0
    return path, tmp_path / "lm"


def test_fine_tuning_starts_from_the_pretrained_embedding_and_encoder(tmp_path, capsys):
    path, run = _pretrained(tmp_path)
    pretrained = bilm.TASK.load(run, "cpu")
    assert pretrained.model.training is False
    cfg = classify.ClassifyConfig()
    cfg.data.path = str(path)
    apply_overrides(cfg, parse_overrides([*SMALL, f"--model.init_from={run}"]))
    task = classify.setup(cfg, None, torch.device("cpu"))
    assert task.tokens.vocab.itos == pretrained.tokens.vocab.itos  # the biLM's vocabulary, not a new one
    mine, theirs = task.model.state_dict(), pretrained.model.state_dict()
    shared = [k for k in mine if k.startswith(("embed.", "encoder."))]
    assert len(shared) == 9  # the embedding and the 8 tensors of a one-layer BiLSTM
    for key in shared:
        torch.testing.assert_close(mine[key], theirs[key], rtol=0, atol=0)
    assert "decoder.weight" in theirs and not any(k.startswith("decoder") for k in mine)
    assert "embedding and encoder from" in capsys.readouterr().out
    # and without init_from the same config starts elsewhere
    cfg.model.init_from = ""
    other = classify.setup(cfg, None, torch.device("cpu")).model.state_dict()
    assert not torch.equal(other["encoder.rnn.weight_hh_l0"], theirs["encoder.rnn.weight_hh_l0"])


def test_a_fine_tuned_run_trains_predicts_and_resumes(tmp_path, capsys):
    path, run = _pretrained(tmp_path)
    assert main(["train", "classify", "--data", str(path), "--runs", str(tmp_path), "--name", "c", *SMALL,
                 f"--model.init_from={run}"]) == 0
    assert main(["train", "classify", "--resume", str(tmp_path / "c"), "--train.max_steps=40"]) == 0
    capsys.readouterr()
    (tmp_path / "in.txt").write_text("w1 great\n")
    assert main(["predict", str(tmp_path / "c"), "--input", str(tmp_path / "in.txt")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize("setting, message", [
    ("--model.hidden_size=16", "model.hidden_size=16 but the biLM run"),
    ("--model.cell=gru", "model.cell='gru' but the biLM run"),
    ("--data.tokens=char", "data.tokens='char', data.lowercase=True but the biLM run"),
    ("--model.conv_width=3", "model.conv_width=3 with model.init_from"),
    ("--model.conv_widths=3,5", "model.conv_widths=3,5 with model.init_from"),
])
def test_a_classifier_that_does_not_match_the_biLM_is_refused_in_one_line(tmp_path, capsys, setting, message):
    path, run = _pretrained(tmp_path)
    capsys.readouterr()
    assert main(["train", "classify", "--data", str(path), "--runs", str(tmp_path), "--name", "c", *SMALL,
                 f"--model.init_from={run}", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_init_from_names_a_run_of_another_task_or_none(tmp_path, capsys):
    path, _ = _pretrained(tmp_path)
    assert main(["train", "classify", "--data", str(path), "--runs", str(tmp_path), "--name", "c", *SMALL]) == 0
    capsys.readouterr()
    assert main(["train", "classify", "--data", str(path), "--runs", str(tmp_path), "--name", "d", *SMALL,
                 f"--model.init_from={tmp_path / 'c'}"]) == 2
    assert "is a classify run; give a run of `seqlab train bilm`" in capsys.readouterr().err
    assert main(["train", "classify", "--data", str(path), "--runs", str(tmp_path), "--name", "e", *SMALL,
                 f"--model.init_from={tmp_path / 'none'}"]) == 2
    assert "is not a seqlab run directory" in capsys.readouterr().err


def test_texts_of_each_format_and_bad_input(tmp_path):
    cfg = bilm.BiLMDataConfig()
    (tmp_path / "t.txt").write_text("a b c\n\n  d e \n")
    assert bilm.read_texts(cfg, str(tmp_path / "t.txt")) == ["a b c", "d e"]
    cfg.format = "lines"
    (tmp_path / "l.txt").write_text("1 a good film\n0 a bad one\n")
    assert bilm.read_texts(cfg, str(tmp_path / "l.txt")) == ["a good film", "a bad one"]
    cfg.format = "table"
    (tmp_path / "p.tsv").write_text("sentence\tlabel\nfine work\t1\n")
    with pytest.raises(UserError, match="no column 'text' \\(data.text_column\\)"):
        bilm.read_texts(cfg, str(tmp_path / "p.tsv"))
    cfg.text_column = "sentence"
    assert bilm.read_texts(cfg, str(tmp_path / "p.tsv")) == ["fine work"]
    cfg.format = "words"
    with pytest.raises(UserError, match="data.format must be one of"):
        bilm.read_texts(cfg, str(tmp_path / "t.txt"))
    cfg.format = "text"
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(UserError, match="empty.txt is empty"):
        bilm.read_texts(cfg, str(tmp_path / "empty.txt"))


def test_the_serve_panel_gives_each_words_surprisal_from_the_model(tmp_path):
    pytest.importorskip("starlette", reason="seqlab serve needs the serve extra")
    from seqlab.serve.panels import ServedRun

    _, run = _pretrained(tmp_path)
    panel = ServedRun(0, run, "cpu")
    panel_action = lambda served, fields: served.answer(fields, None)  # the bilm task's own panel (tasks/bilm.py)
    out = panel_action(panel, {"text": "w1 great w2 w3"})
    rows = [line.split() for line in out["lines"][1:]]
    model, ids = panel.run.model, panel.run.tokens.encode("w1 great w2 w3")
    forward, backward = model(torch.tensor([ids]), torch.tensor([len(ids)]))
    assert rows[0][1] == "—" and rows[-1][2] == "—"
    assert float(rows[1][1]) == pytest.approx(-forward[0, 0].log_softmax(-1)[ids[1]].item(), abs=0.006)
    assert float(rows[0][2]) == pytest.approx(-backward[0, 1].log_softmax(-1)[ids[0]].item(), abs=0.006)
    with pytest.raises(UserError, match="two tokens or more"):
        panel_action(panel, {"text": "great"})
