"""The seqlab command line: a tiny end-to-end run, and one-line errors for bad input."""
import subprocess
import sys

import pytest
from conftest import MT_TINY, TEXT, TINY, parallel_corpus

from seqlab.cli import main


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "rain.txt"
    path.write_text(TEXT)
    return path


def test_train_generate_evaluate_plot_end_to_end(corpus, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "lm", "--data", str(corpus), "--runs", str(runs), "--name", "tiny", *TINY]) == 0
    run = runs / "tiny"
    assert (run / "loss.png").stat().st_size > 0 and (run / "best" / "model.safetensors").is_file()
    assert main(["train", "lm", "--resume", str(run), "--train.max_steps=9"]) == 0
    trained = capsys.readouterr().out
    assert "valid loss" in trained and "after 9 steps; best loss" in trained
    assert main(["generate", str(run), "--prime", "the ", "--length", "20", "--seed", "1"]) == 0
    sample = capsys.readouterr().out
    assert sample.startswith("the ") and len(sample) == len("the ") + 20 + 1  # 20 new characters, then a newline
    assert set(sample[4:-1]) <= set(TEXT) | {"?"}  # characters of the corpus (or "?", the unknown one)
    assert main(["evaluate", str(run), "--data", str(corpus)]) == 0
    assert "perplexity" in capsys.readouterr().out
    assert main(["plot", "gradients", "--data", str(corpus), "--steps", "12", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 0


def test_an_explicit_max_steps_wins_over_the_epochs_of_a_preset(corpus, tmp_path):
    import json

    # ptb-small trains 13 epochs; --train.max_steps=3 alone used to be ignored silently
    args = ["train", "lm", "--preset", "ptb-small", "--data", str(corpus), "--runs", str(tmp_path), "--name", "p",
            "--data.level=char", "--model.embed_size=8", "--model.hidden_size=8", "--train.max_steps=3",
            "--train.eval_every=3", "--train.progress=false"]
    assert main(args) == 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "p" / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 3
    assert json.loads((tmp_path / "p" / "config.json").read_text())["train"]["epochs"] == 0


def test_config_file_and_preset_are_read(corpus, tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"model": {"hidden_size": 12}, "train": {"max_steps": 2}}')
    args = ["train", "lm", "--preset", "char-lstm-small", "--config", str(config), "--data", str(corpus),
            "--runs", str(tmp_path), "--name", "p", "--train.bptt=8", "--train.batch_size=2",
            "--train.eval_batch_size=2", "--train.progress=false"]
    assert main(args) == 0
    assert '"hidden_size": 12' in (tmp_path / "p" / "config.json").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "lm", "--data", "{missing}"], "no such file"),
        (["train", "lm", "--data", "{empty}"], "is empty"),
        (["train", "lm", "--data", "{latin1}"], "is not UTF-8"),
        (["train", "lm", "--data", "{short}", "--train.bptt=64"], "too short for batch_size=32 x window 64"),
        (["train", "lm", "--data", "{corpus}", "--preset", "gpt-17"], "unknown preset 'gpt-17'"),
        (["train", "lm", "--data", "{corpus}", "--model.hiden_size=3"], "unknown config key 'model.hiden_size'"),
        (["train", "lm", "--data", "{corpus}", "--model.hidden_size=big"], "model.hidden_size expects int, got 'big'"),
        (["train", "lm", "--data", "{corpus}", "--model.cell=mamba"], "model.cell must be one of"),
        (["train", "lm", "--data", "{corpus}", "--model.variant=sideways"], "variant must be one of"),
        (["train", "lm", "--data", "{corpus}", "--config", "{missing}"], "--config: no such file"),
        (["train", "lm", "--resume", "{missing}"], "is not a seqlab run directory"),
        (["generate", "{missing}", "--prime", "x"], "is not a seqlab run directory"),
        (["generate", "{run}", "--prime", "QUIZ", "--length", "5"], "never saw: 'IQUZ'"),
        (["generate", "{run}", "--prime", "the", "--length", "0"], "--length must be in [1, 2147483647], got 0"),
        (["evaluate", "{run}", "--data", "{missing}"], "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, corpus, tmp_path, capsys):
    files = {"missing": tmp_path / "nope.txt", "empty": tmp_path / "empty.txt", "latin1": tmp_path / "l1.txt",
             "short": tmp_path / "short.txt", "corpus": corpus, "run": tmp_path / "runs" / "tiny"}
    files["empty"].write_text("")
    files["latin1"].write_bytes(b"\xff\xfe caf\xe9")
    files["short"].write_text("just a few words\n")
    if "{run}" in args:
        assert main(["train", "lm", "--data", str(corpus), "--runs", str(tmp_path / "runs"), "--name", "tiny", *TINY]) == 0
        capsys.readouterr()
    args = [a.format(**files) for a in args] + ["--runs", str(tmp_path / "r")] * (args[0] == "train")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab: error:") and "\n" not in err and message in err, err


def test_unseen_prime_prints_nothing_but_the_error(corpus, tmp_path, capsys):
    assert main(["train", "lm", "--data", str(corpus), "--runs", str(tmp_path), "--name", "r", *TINY]) == 0
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "r"), "--prime", "Ñandú", "--length", "5"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "never saw: 'dÑú'" in err  # the toy corpus has no d either


def test_console_entry_point_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "seqlab.cli", "train", "lm", "--data", str(tmp_path / "x.txt")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no such file" in result.stderr


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_translate_end_to_end(arch, tmp_path, capsys):
    d = parallel_corpus(tmp_path)
    runs = tmp_path / "runs"
    extra = ["--model.d_model=16", "--model.num_heads=2", "--model.d_ff=32", "--model.enc_layers=1",
             "--model.dec_layers=1"] if arch == "transformer" else []
    assert main(["train", "translate", "--data", str(d), "--runs", str(runs), "--name", "t",
                 f"--model.arch={arch}", *MT_TINY, *extra]) == 0
    run = runs / "t"
    capsys.readouterr()
    assert main(["translate", str(run), "--input", str(d / "val.de"), "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 20
    assert main(["evaluate", str(run), "--src", str(d / "val.de"), "--ref", str(d / "val.en")]) == 0
    assert "BLEU" in capsys.readouterr().out
    assert main(["plot", "attention", str(run), "--src", "ein mann sieht eine katze"]) == 0
    assert (run / "attention.png").stat().st_size > 0


def test_translate_bad_input(tmp_path, capsys):
    d = parallel_corpus(tmp_path)
    (d / "val.en").write_text("only one line\n")
    assert main(["train", "translate", "--data", str(d), "--runs", str(tmp_path / "r"), *MT_TINY]) == 2
    assert "val.de has 20 lines, " in capsys.readouterr().err
    (d / "train.de").write_text("ein hund\n\nein mann\n")
    (d / "train.en").write_text("a dog\na\na man\n")
    assert main(["train", "translate", "--data", str(d), "--runs", str(tmp_path / "r"), *MT_TINY]) == 2
    assert "train.de: line 2 is empty" in capsys.readouterr().err
    assert main(["translate", str(tmp_path / "nowhere")]) == 2
    assert "is not a seqlab run directory" in capsys.readouterr().err


def test_transformer_language_model_trains_and_generates(corpus, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "lm", "--data", str(corpus), "--runs", str(runs), "--name", "tf", *TINY,
                 "--model.cell=transformer", "--model.num_heads=2"]) == 0
    capsys.readouterr()
    assert main(["generate", str(runs / "tf"), "--prime", "the ", "--length", "15"]) == 0
    assert len(capsys.readouterr().out) == len("the ") + 15 + 1  # prime, 15 characters, newline


def test_demo_refuses_to_replace_a_directory_that_is_not_a_run(tmp_path, capsys):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("not a run")
    for bad in (str(keep), ""):
        assert main(["demo", "--run-dir", bad, "--minutes", "0"]) == 2
        assert "is not a run directory, and the demo replaces its run directory" in capsys.readouterr().err
    assert (keep / "notes.txt").read_text() == "not a run"
