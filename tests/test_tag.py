"""Synchronous tagging end to end on generated data: NER-style CoNLL and word segmentation; bad input."""
import pytest
import torch

from seqlab.cli import main

SMALL = ["--model.embed_size=16", "--model.hidden_size=24", "--model.char_embed_size=8", "--model.char_hidden_size=8",
         "--model.bigram_embed_size=8", "--train.batch_size=16", "--train.epochs=8", "--optim.lr=0.01",
         "--optim.warmup_steps=0", "--model.dropout=0.1", "--train.progress=false"]


@pytest.mark.parametrize("output, chars", [("crf", "lstm"), ("softmax", "cnn")])
def test_ner_trains_predicts_and_evaluates(conll_files, tmp_path, capsys, output, chars):
    train, dev = conll_files
    run = tmp_path / "ner"
    assert main(["train", "tag", "--data", str(train), "--data.valid", str(dev), "--runs", str(tmp_path),
                 "--name", "ner", f"--model.output={output}", f"--model.char_encoder={chars}", *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(dev), "--output", str(tmp_path / "pred.conll")]) == 0
    out = capsys.readouterr().out
    f1 = float(out.split("F1 ")[1].split()[0])
    assert f1 > 0.9, out  # tagging everything O scores 0
    assert "PER" in out and "LOC" in out
    written = (tmp_path / "pred.conll").read_text().split("\n\n")[0].splitlines()
    assert all(len(line.split()) == 3 for line in written)  # token, gold tag, predicted tag (conlleval input)
    src = tmp_path / "in.txt"
    src.write_text("w1 Alice Bobson w2 Paris\nw3\n")
    assert main(["predict", str(run), "--input", str(src)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:6] == ["w1 O", "Alice I-PER", "Bobson I-PER", "w2 O", "Paris I-LOC", ""]  # written back in IOB1
    assert lines[6:] == ["w3 O", ""]


def test_segmentation_trains_and_segments(segmented_files, tmp_path, capsys):
    train, dev = segmented_files
    run = tmp_path / "seg"
    assert main(["train", "tag", "--data", str(train), "--data.valid", str(dev), "--data.format=segmented",
                 "--runs", str(tmp_path), "--name", "seg", *SMALL]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(dev)]) == 0
    out = capsys.readouterr().out
    assert float(out.split("F1 ")[1].split()[0]) > 0.9, out  # one word per character scores about 0.3
    src = tmp_path / "in.txt"
    src.write_text("中国人民银行的发展\n我们在北京大学合作\n")
    assert main(["predict", str(run), "--input", str(src)]) == 0
    assert capsys.readouterr().out.splitlines() == ["中国 人民 银行 的 发展", "我们 在 北京大学 合作"]


def test_unseen_tag_at_evaluation_is_counted_wrong(conll_files, tmp_path, capsys):
    train, _dev = conll_files
    main(["train", "tag", "--data", str(train), "--runs", str(tmp_path), "--name", "u", *SMALL, "--train.epochs=1"])
    odd = tmp_path / "odd.conll"
    odd.write_text("Acme NNP I-NP I-ORG\nw1 NN I-NP O\n")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "u"), "--data", str(odd)]) == 0
    out = capsys.readouterr().out
    assert "never saw (counted wrong): I-ORG" in out and "R 0.0000" in out


@pytest.mark.parametrize("content, message", [
    ("EU NNP I-NP I-ORG\nrejects VBZ O\n", "bad.conll line 2: 3 columns, but the file's first token line has 4"),
    ("", "bad.conll is empty"),
    ("a X I-PER\nb X O\n\nc X B-PER\nd X O\n", "mixed tag schemes: IOB1 at"),
    (b"caf\xe9 NN O\n", "is not UTF-8"),
])
def test_bad_tagging_files(tmp_path, capsys, content, message):
    path = tmp_path / "bad.conll"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["train", "tag", "--data", str(path), "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_empty_predict_line_is_an_error(conll_files, tmp_path, capsys):
    train, _ = conll_files
    main(["train", "tag", "--data", str(train), "--runs", str(tmp_path), "--name", "e", *SMALL, "--train.epochs=1"])
    src = tmp_path / "in.txt"
    src.write_text("w1 w2\n\n")
    assert main(["predict", str(tmp_path / "e"), "--input", str(src)]) == 2
    assert "input line 2 is empty" in capsys.readouterr().err


def test_an_interrupted_tagging_run_resumes_bit_identically(conll_files, tmp_path):
    from safetensors.torch import load_file

    train, dev = conll_files
    common = ["--data", str(train), "--data.valid", str(dev), *SMALL, "--train.epochs=0", "--train.eval_every=3",
              "--model.word_dropout=0.5", "--optim.schedule=constant"]  # max_steps changes the cosine
    assert main(["train", "tag", "--runs", str(tmp_path), "--name", "whole", *common, "--train.max_steps=8"]) == 0
    assert main(["train", "tag", "--runs", str(tmp_path), "--name", "split", *common, "--train.max_steps=3"]) == 0
    assert main(["train", "tag", "--resume", str(tmp_path / "split"), "--train.max_steps=8"]) == 0
    a = load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = load_file(tmp_path / "split" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_segmentation_with_word_list_features(segmented_files, tmp_path, capsys):
    from conftest import LEXICON

    from seqlab.data.tagged import read_segmented
    from seqlab.tasks.tag import TagDataConfig
    from seqlab.tasks.tag_features import CharFeatures

    train, dev = segmented_files
    words = tmp_path / "words.txt"
    words.write_text("\n".join(LEXICON) + "\n", encoding="utf-8")
    f = CharFeatures.build(TagDataConfig(format="segmented", lexicon=str(words), lexicon_max_len=4), read_segmented(train))
    # 北京大学: ends of listed words of length 2, 3, 4, then starts of length 2, 3, 4
    assert f.lexicon_features(list("在北京大学")) == [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0],
                                                  [0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]]
    assert main(["train", "tag", "--data", str(train), "--data.valid", str(dev), "--data.format=segmented",
                 "--data.lexicon", str(words), "--runs", str(tmp_path), "--name", "lex", *SMALL]) == 0
    words.unlink()  # the run keeps its own copy
    src = tmp_path / "in.txt"
    src.write_text("中国人民银行的发展\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "lex"), "--input", str(src)]) == 0
    assert capsys.readouterr().out.splitlines() == ["中国 人民 银行 的 发展"]
