"""Sequence -> class: padding never changes a pooling, data formats, vectors, training end to end, bad input."""
import pytest
import torch

from seqlab.cli import main
from seqlab.data.labelled import read_labelled
from seqlab.errors import UserError
from seqlab.models.classifier import ClassifierConfig, SequenceClassifier

SMALL = ["--model.embed_size=16", "--model.hidden_size=16", "--train.batch_size=16", "--train.epochs=6",
         "--optim.lr=0.01", "--optim.warmup_steps=0", "--model.dropout=0.1", "--train.progress=false"]


@pytest.mark.parametrize("cell, bidirectional", [("lstm", True), ("gru", False), ("rnn_tanh", True), ("transformer", False)])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "center", "attention"])
@pytest.mark.parametrize("front", [{}, {"positions": 16, "conv_widths": "3,5", "conv_channels": 3}])
def test_pooling_ignores_padding(cell, bidirectional, pooling, front):
    torch.manual_seed(0)
    cfg = ClassifierConfig(cell=cell, bidirectional=bidirectional, pooling=pooling, embed_size=8, hidden_size=8,
                           num_heads=2, dropout=0.0, **front)
    model = SequenceClassifier(cfg, 20, 3).double().eval()
    lengths = torch.tensor([5, 2, 7])
    tokens = torch.randint(1, 20, (3, 7)).masked_fill(torch.arange(7) >= lengths[:, None], 0)
    longer = torch.cat([tokens, torch.zeros(3, 6, dtype=torch.long)], 1)  # six more pad tokens
    with torch.no_grad():
        a, b = model(tokens, lengths), model(longer, lengths)
        alone = model(tokens[1:2, :2], lengths[1:2])  # the short sentence without any padding
    assert torch.allclose(a, b, atol=1e-12) and torch.allclose(a[1:2], alone, atol=1e-12)


def test_center_pooling_reads_the_middle_state_and_positions_add_one_vector_per_step():
    from seqlab.nn.pooling import CenterPooling

    h, lengths = torch.randn(2, 6, 3), torch.tensor([6, 3])
    pooled = CenterPooling(3)(h, torch.arange(6) < lengths[:, None])
    assert torch.equal(pooled, torch.stack([h[0, 3], h[1, 1]]))  # t = len // 2
    torch.manual_seed(0)
    cfg = ClassifierConfig(embed_size=4, hidden_size=4, dropout=0.0, positions=5, conv_widths="1,3", conv_channels=2)
    model = SequenceClassifier(cfg, 9, 2).eval()
    tokens = torch.tensor([[1, 2, 3, 4, 5]])
    e = model.embed(tokens) + model.position.weight  # E[x_t] + P[t]
    convs = [torch.relu(c(e.transpose(1, 2))) for c in model.convs]
    torch.testing.assert_close(model.features(tokens, torch.tensor([5])), torch.cat(convs, 1).transpose(1, 2))
    assert model.convs[1].padding == (1,) and model.encoder.rnn.input_size == 4  # 2 widths x 2 channels
    with pytest.raises(UserError, match="an input of 6 tokens is longer than the model's 5 learned positions"):
        model(torch.ones(1, 6, dtype=torch.long), torch.tensor([6]))


@pytest.mark.parametrize("settings, message", [
    ({"conv_widths": "3,4"}, "model.conv_widths must be odd widths separated by commas"),
    ({"conv_widths": "3;5"}, r"model.conv_widths must be odd widths separated by commas \(e.g. 3,9,15\), got '3;5'"),
    ({"conv_widths": "3", "conv_width": 5}, "model.conv_width=5 and model.conv_widths='3': give one"),
    ({"conv_width": 4}, "model.conv_width must be 0 or odd, got 4"),
])
def test_bad_convolution_widths_are_named(settings, message):
    with pytest.raises(UserError, match=message):
        SequenceClassifier(ClassifierConfig(embed_size=4, hidden_size=4, **settings), 9, 2)


def test_last_pooling_of_a_bidirectional_layer_is_both_final_states():
    from seqlab.nn.pooling import LastPooling

    torch.manual_seed(0)
    rnn = torch.nn.GRU(3, 4, bidirectional=True, batch_first=True)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 3])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = rnn(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    pooled = LastPooling(8, bidirectional=True)(out, torch.arange(5) < lengths[:, None])
    assert torch.allclose(pooled, torch.cat([h_n[0], h_n[1]], -1))


def test_label_text_lines_and_csv_tsv(tmp_path):
    lines = tmp_path / "a.txt"
    lines.write_text("1 a stirring , funny film\n\n0\tdull and long\n")
    assert [(e.label, e.text) for e in read_labelled(lines)] == [("1", "a stirring , funny film"), ("0", "dull and long")]
    csv = tmp_path / "a.csv"
    csv.write_text('review,stars\n"good, really",5\nbad,1\n')
    assert [(e.label, e.text) for e in read_labelled(csv, "review", "stars")] == [("5", "good, really"), ("1", "bad")]
    tsv = tmp_path / "a.tsv"
    tsv.write_text("label\ttext\nx\thello there\n")
    assert read_labelled(tsv)[0].text == "hello there"
    with pytest.raises(UserError, match="no column 'text'"):
        read_labelled(csv)


def test_train_predict_evaluate_beats_chance(labelled_files, tmp_path, capsys):
    train, dev = labelled_files
    runs = tmp_path / "runs"
    assert main(["train", "classify", "--data", str(train), "--data.valid", str(dev), "--runs", str(runs),
                 "--name", "c", "--model.pooling=attention", *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(runs / "c"), "--data", str(dev)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split()[1])
    assert accuracy > 0.8, out  # chance is 1/3
    assert "macro-F1" in out and (runs / "c" / "confusion.png").stat().st_size > 0
    src = tmp_path / "in.txt"
    src.write_text("w1 w2 great w3\nw4 awful w5\n")
    assert main(["predict", str(runs / "c"), "--input", str(src)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == ["pos", "neg"] and all(0.33 < float(r[1]) <= 1 for r in rows)


def test_bpe_tokens_and_a_transformer_encoder_train(labelled_files, tmp_path):
    train, dev = labelled_files
    assert main(["train", "classify", "--data", str(train), "--data.valid", str(dev), "--runs", str(tmp_path),
                 "--name", "t", "--data.tokens=bpe", "--data.bpe_vocab_size=200", "--model.cell=transformer",
                 "--model.num_heads=2", "--model.num_layers=1", "--model.pooling=mean", *SMALL]) == 0


def test_glove_format_vectors_are_loaded(labelled_files, tmp_path, capsys):
    train, dev = labelled_files
    vectors = tmp_path / "glove.txt"
    vectors.write_text("great " + " ".join(["0.5"] * 16) + "\nGREAT " + " ".join(["9"] * 16) + "\nzzz " +
                       " ".join(["1"] * 16) + "\n")
    assert main(["train", "classify", "--data", str(train), "--data.valid", str(dev), "--runs", str(tmp_path),
                 "--name", "g", "--model.vectors", str(vectors), "--model.freeze_vectors=true", *SMALL,
                 "--train.epochs=1"]) == 0
    assert "model.vectors: 1 of" in capsys.readouterr().out
    from seqlab.tasks.classify import TASK

    run = TASK.load(tmp_path / "g")
    assert torch.allclose(run.model.embed.weight[run.tokens.vocab.stoi["great"]], torch.full((16,), 0.5))
    bad = tmp_path / "bad.txt"
    bad.write_text("great 1 2\n")
    assert main(["train", "classify", "--data", str(train), "--runs", str(tmp_path), "--name", "b",
                 "--model.vectors", str(bad), *SMALL]) == 2
    assert "bad.txt line 1: 2 values, expected 16" in capsys.readouterr().err


def test_unseen_label_at_evaluation_counts_as_wrong(labelled_files, tmp_path, capsys):
    train, _dev = labelled_files
    main(["train", "classify", "--data", str(train), "--runs", str(tmp_path), "--name", "u", *SMALL])
    odd = tmp_path / "odd.txt"
    odd.write_text("pos w1 great\nsurprised w2 w3\n")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "u"), "--data", str(odd)]) == 0
    out = capsys.readouterr().out
    assert "never saw (counted wrong): surprised" in out and "accuracy 0.5000" in out


@pytest.mark.parametrize("content, message", [
    ("pos good film\nneg\n", "line 2: a label without text"),
    ("", "is empty"),
])
def test_bad_training_files(tmp_path, capsys, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    assert main(["train", "classify", "--data", str(path), "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and len(err.strip().splitlines()) == 1


def test_phrase_preset_trains_on_glue_style_phrases_and_scores_label_text_sentences(labelled_files, tmp_path, capsys):
    """sst2-phrases-*: a TSV of phrases (header 'label<TAB>sentence', as GLUE's SST-2 train.tsv) to train,
    the 'label text' sentence file to select on -- the two formats of the SST-2 benchmark."""
    train, dev = labelled_files
    phrases = tmp_path / "train.tsv"
    rows = [line.split(maxsplit=1) for line in train.read_text().splitlines() if line.strip()]
    words = [(label, text.split()) for label, text in rows]
    phrase_rows = [(label, " ".join(w[i : i + 3])) for label, w in words for i in range(0, len(w), 2)
                   if any(k in w[i : i + 3] for k in ("great", "lovely", "superb", "awful", "dull", "boring",
                                                       "okay", "fine", "average"))]
    phrases.write_text("label\tsentence\n" + "".join(f"{label}\t{text}\n" for label, text in phrase_rows))
    assert main(["train", "classify", "--preset", "sst2-phrases-bilstm-attention", "--data", str(phrases),
                 "--data.valid", str(dev), "--runs", str(tmp_path / "runs"), "--name", "p", *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "runs" / "p"), "--data", str(dev)]) == 0
    assert float(capsys.readouterr().out.split()[1]) > 0.8  # trained on short phrases, right on whole sentences


@pytest.mark.parametrize("pooling", ["attention", "max"])
def test_need_weights_returns_the_same_logits_and_the_pooling_weights(pooling):
    torch.manual_seed(0)
    cfg = ClassifierConfig(pooling=pooling, embed_size=8, hidden_size=8, dropout=0.0)
    model = SequenceClassifier(cfg, 20, 3).eval()
    tokens, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    logits, weights = model(tokens, lengths, need_weights=True)
    torch.testing.assert_close(logits, model(tokens, lengths))
    if pooling == "max":
        assert weights is None
    else:
        torch.testing.assert_close(weights.sum(-1), torch.ones(2))
        assert (weights[1, 2:] == 0).all()  # no weight on padding
