"""seqlab export: the ONNX graphs of LM, classification and tagging runs give PyTorch's outputs in onnxruntime."""
import json

import pytest
import torch

from seqlab.cli import main

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (pip install -e .[test])")

TINY = ["--train.max_steps=3", "--train.progress=false", "--optim.warmup_steps=0"]


def run_onnx(path, inputs: dict) -> list[torch.Tensor]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [torch.from_numpy(a) for a in session.run(None, {k: v.numpy() for k, v in inputs.items()})]


def export(run, capsys, *extra) -> dict:
    assert main(["export", str(run), *extra]) == 0
    printed = capsys.readouterr().out
    assert "model.onnx" in printed and "max |onnxruntime - torch|" in printed
    out = run / "export"
    assert {p.name for p in out.iterdir()} >= {"model.onnx", "config.json", "vocab.json", "export.json"}
    info = json.loads((out / "export.json").read_text())
    assert info["max_abs_difference"] < 1e-5
    return info


@pytest.mark.parametrize("cell, extra", [("lstm", ["--model.backend=bptt", "--model.num_layers=2"]),
                                         ("gru", ["--model.num_layers=1"]), ("rnn_tanh", [])])
def test_language_model_with_its_state(cell, extra, tmp_path, capsys):
    from seqlab.tasks import lm

    text = tmp_path / "text.txt"
    text.write_text("to be or not to be, that is the question.\n" * 30)
    assert main(["train", "lm", "--data", str(text), "--runs", str(tmp_path), "--name", cell, f"--model.cell={cell}",
                 "--model.hidden_size=24", "--model.embed_size=12", "--train.batch_size=4", "--train.bptt=8",
                 *extra, *TINY]) == 0
    run = tmp_path / cell
    info = export(run, capsys)
    states = ["h0", "c0"] if cell == "lstm" else ["h0"]
    assert list(info["inputs"]) == ["tokens", *states] and info["outputs"]["logits"]["dims"][:2] == ["batch", "time"]
    loaded = lm.TASK.load(run, device="cpu")
    vocab, model = loaded.vocab, loaded.model  # its own backend: the hand-BPTT driver for the LSTM
    torch.manual_seed(1)
    tokens = torch.randint(len(vocab), (5, 17))
    state = tuple(0.2 * torch.randn(model.rnn.num_layers, 5, model.rnn.hidden_size) for _ in states)
    with torch.no_grad():
        logits, final = model(tokens, state if len(state) > 1 else state[0])
    final = final if isinstance(final, tuple) else (final,)
    got = run_onnx(run / "export" / "model.onnx", {"tokens": tokens, **dict(zip(states, state))})
    for mine, theirs in zip(got, (logits, *final)):
        assert torch.allclose(mine, theirs, atol=1e-5)


@pytest.mark.parametrize("cell, pooling", [("gru", "attention"), ("lstm", "max"), ("lstm", "last")])
def test_classifier_on_a_padded_batch(cell, pooling, labelled_files, tmp_path, capsys):
    from seqlab.data.batching import pad_batch
    from seqlab.tasks import classify

    train, dev = labelled_files
    assert main(["train", "classify", "--data", str(train), "--data.valid", str(dev), "--runs", str(tmp_path),
                 "--name", "c", f"--model.cell={cell}", f"--model.pooling={pooling}", "--model.hidden_size=16",
                 "--model.embed_size=16", *TINY]) == 0
    info = export(tmp_path / "c", capsys)
    assert info["labels"] and list(info["inputs"]) == ["tokens", "lengths"]
    run = classify.TASK.load(tmp_path / "c", "cpu")
    texts = ["a great film", "awful", "the plot was dull and far too long for its own good", "fine"]
    tokens, lengths = pad_batch([classify.token_ids(run.tokens, t, 100) for t in texts], run.tokens.pad)
    with torch.no_grad():
        expected = run.model(tokens, lengths)
    got = run_onnx(tmp_path / "c" / "export" / "model.onnx", {"tokens": tokens, "lengths": lengths})[0]
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["conll", "segmented"])
def test_tagger_emissions_and_crf_scores(kind, conll_files, segmented_files, tmp_path, capsys):
    from seqlab.tasks import tag

    train, dev = conll_files if kind == "conll" else segmented_files
    assert main(["train", "tag", "--data", str(train), "--data.valid", str(dev), f"--data.format={kind}",
                 "--runs", str(tmp_path), "--name", kind, "--model.embed_size=16", "--model.hidden_size=16",
                 "--model.char_embed_size=8", "--model.char_hidden_size=8", "--model.bigram_embed_size=8",
                 *TINY]) == 0
    info = export(tmp_path / kind, capsys)
    assert set(info["crf"]) == {"transitions", "start", "end"} and info["tags"]
    run = tag.TASK.load(tmp_path / kind, "cpu")
    sentences = [["Alice", "Bobson", "visited", "Paris"], ["w3"], ["w1", "w2", "London", "x", "y", "z"]]
    if kind == "segmented":
        sentences = [list("中国人民银行的发展"), list("我们"), list("在北京大学")]
    batch = run.features.collate([run.features.encode(s) for s in sentences], "cpu")
    batch.pop("mask")
    with torch.no_grad():
        expected = run.model.emissions(batch)
    got = run_onnx(tmp_path / kind / "export" / "model.onnx", batch)[0]
    assert torch.allclose(got, expected, atol=1e-5)


def test_runs_that_cannot_be_exported_say_why(tmp_path, capsys, monkeypatch):
    text = tmp_path / "text.txt"
    text.write_text("to be or not to be, that is the question.\n" * 30)
    common = ["--data", str(text), "--runs", str(tmp_path), "--model.hidden_size=16", "--model.embed_size=8",
              "--train.batch_size=4", "--train.bptt=8", *TINY]
    for name, setting, message in [("mg", "--model.cell=min_gru", "(MinGRU, gates z, h) has no torch kernel"),
                                   ("peep", "--model.variant=peephole", "no torch kernel"),
                                   ("tf", "--model.cell=transformer", "recurrent LMs")]:
        assert main(["train", "lm", "--name", name, setting, *common]) == 0
        capsys.readouterr()
        assert main(["export", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert main(["export", str(tmp_path / "mg"), "--format", "torchscript"]) == 2
    assert "--format must be one of ['onnx']" in capsys.readouterr().err
    with monkeypatch.context() as m:
        m.setitem(__import__("sys").modules, "onnx", None)  # as if onnx were not installed
        assert main(["export", str(tmp_path / "peep")]) == 2
        assert "needs the onnx package: pip install onnx onnxruntime" in capsys.readouterr().err
    assert main(["train", "memory", "--runs", str(tmp_path), "--name", "mem", "--data.length=10", *TINY]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "mem")]) == 2
    assert "export covers classify, lm, tag runs" in capsys.readouterr().err
