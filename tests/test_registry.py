"""One task interface: the registry drives train / predict / evaluate for every task, and a new task is one module."""
import json
import re

import pytest
from conftest import MT_TINY, TEXT, TINY, conll_sentences, labelled_lines, parallel_corpus, write_csv, write_fsdd

from seqlab.cli import main
from seqlab.tasks import registry
from seqlab.train.rundir import read_config, task_of

SMALL = ["--train.max_steps=4", "--train.epochs=0", "--train.progress=false", "--model.hidden_size=8"]


def test_every_task_module_declares_itself():
    found = registry.tasks()
    assert set(found) == {"lm", "translate", "classify", "tag", "forecast", "speech", "memory", "handwriting",
                          "conditional_lm", "bilm", "charlm"}
    for name, task in found.items():
        assert task.name == name and task.presets, name
        for preset in task.presets:
            assert type(task.preset(preset)) is task.config  # every preset is a config of its task


def _lm(tmp_path):
    corpus = tmp_path / "rain.txt"
    corpus.write_text(TEXT)
    return ["--data", str(corpus), *TINY], ["--data", str(corpus)], "the rain\nin spain\n", ["--length", "5"], 2


def _charlm(tmp_path):
    corpus = tmp_path / "rain.txt"
    corpus.write_text(TEXT)
    return ["--data", str(corpus), *TINY], ["--data", str(corpus)], "the rain\nin spain\n", [], 2


def _translate(tmp_path):
    d = parallel_corpus(tmp_path)
    return (["--data", str(d), *MT_TINY], ["--src", str(d / "val.de"), "--ref", str(d / "val.en")],
            "ein mann\nein hund sieht eine katze\n", [], 2)


def _classify(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("\n".join(labelled_lines(60, 0)) + "\n")
    return ["--data", str(path), *SMALL, "--model.embed_size=8"], ["--data", str(path)], "w1 great\nw2 dull w3\n", [], 2


def _bilm(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("\n".join(labelled_lines(60, 0)) + "\n")
    return (["--data", str(path), "--data.format=lines", *SMALL, "--model.embed_size=8"], ["--data", str(path)],
            "w1 great\nw2 dull w3\n", [], 2)


def _tag(tmp_path):
    path = tmp_path / "t.conll"
    path.write_text(conll_sentences(40, 0))
    return (["--data", str(path), *SMALL, "--model.embed_size=8"], ["--data", str(path)], "w1 Alice\nParis w2 w3\n",
            [], 7)  # CoNLL lines: 2 + 3 tokens and a blank line after each sentence


def _forecast(tmp_path):
    from conftest import series_values

    csv = write_csv(tmp_path / "s.csv", series_values(600))
    train = ["--data", str(csv), "--model.kind=rnn_direct", "--data.lookback=24", "--data.horizon=6", *SMALL]
    return train, ["--split", "valid"], None, ["--out", str(tmp_path / "f.csv")], 7  # header + 6 forecast rows


def _speech(tmp_path):
    root = write_fsdd(tmp_path / "fsdd", takes=6)
    files = [str(root / "3_alice_5.wav"), str(root / "7_bob_5.wav")]
    return (["--data", str(root), "--preset", "fsdd-isolated", *SMALL, "--model.num_layers=1"], ["--split", "valid"],
            None, files, 2)


def _memory(tmp_path):
    return (["--data.problem=copy", "--data.length=5", "--model.cell=gru", *SMALL], ["--length", "7"], None,
            ["--examples", "3"], 3)


def _handwriting(tmp_path):
    from seqlab.data.strips import StripConfig, source_split, strips, write_strip

    made = strips(source_split(0)["test"], 2, (2, 3), 0, StripConfig())
    files = [str(write_strip(tmp_path / f"strip{i}.png", s.image, dark_on_light=True)) for i, s in enumerate(made)]
    return (["--data.lengths=1-2", "--data.valid_strips=8", "--model.conv_channels=2", *SMALL], ["--strips", "8"],
            None, files, 2)


def _conditional_lm(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("\n".join(labelled_lines(60, 0)) + "\n")
    return (["--data", str(path), "--model.embed_size=8", "--model.label_size=4", "--data.min_freq=1", *SMALL],
            ["--samples", "3"], "pos\nneg\n", [], 2)


TASKS = {"lm": _lm, "translate": _translate, "classify": _classify, "tag": _tag, "forecast": _forecast,
         "speech": _speech, "memory": _memory, "handwriting": _handwriting, "conditional_lm": _conditional_lm, "bilm": _bilm,
         "charlm": _charlm}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_registry_drives_train_predict_evaluate(task, tmp_path, capsys):
    train_args, evaluate_args, inputs, predict_args, outputs = TASKS[task](tmp_path)
    assert main(["train", task, "--runs", str(tmp_path / "runs"), "--name", "r", *train_args]) == 0
    run = tmp_path / "runs" / "r"
    assert task_of(run) == task and registry.of_run(run).name == task
    assert "best" in capsys.readouterr().out  # the one train report of every task
    extra = []
    if inputs is not None:
        (tmp_path / "in.txt").write_text(inputs)
        extra = ["--input", str(tmp_path / "in.txt")]
    assert main(["predict", str(run), *extra, *predict_args]) == 0
    assert len(capsys.readouterr().out.splitlines()) == outputs  # one result per input (tag: CoNLL lines)
    assert main(["evaluate", str(run), *evaluate_args]) == 0
    assert capsys.readouterr().out.strip()
    trained = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    cfg = read_config(run, task, registry.get(task).config())
    result = registry.get(task).train(cfg, run, resume=True)  # a finished run: evaluated, not trained further
    assert result["steps"] == trained and result["best"]["metric"] in result and 1 <= result["best"]["step"] <= trained


def test_task_options_are_checked_per_task(tmp_path, capsys):
    train_args, *_ = _classify(tmp_path)
    main(["train", "classify", "--runs", str(tmp_path), "--name", "c", *train_args])
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "c"), "--src", "x"]) == 2  # a translation option on a classify run
    err = capsys.readouterr().err
    assert "--data" in err and len(err.strip().splitlines()) == 1
    assert main(["translate", str(tmp_path / "c")]) == 2
    assert "is a classify run, not one for seqlab translate: use seqlab predict" in capsys.readouterr().err
    assert main(["train", "classify", "--preset", "nope", "--runs", str(tmp_path)]) == 2
    assert "unknown preset 'nope' for classify; presets: sst2-bilstm-max" in capsys.readouterr().err


def test_help_of_a_run_lists_its_task_options(tmp_path, capsys):
    train_args, *_ = _tag(tmp_path)
    main(["train", "tag", "--runs", str(tmp_path), "--name", "t", *train_args])
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "t"), "--help"]) == 0
    out = capsys.readouterr().out
    assert "Options of a tag run" in out and "--output" in out and "--train-words" in out


def test_train_help_lists_every_config_field_with_type_default_and_comment(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "classify", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert re.search(r'--data\.valid=str +default "" +validation file \(default: the last valid_fraction', out)
    assert re.search(r"--data\.valid_fraction=float +default 0\.1 +without data\.valid", out)
    assert re.search(r"--model\.hidden_size=int +default 256 +per direction", out)
    assert re.search(r"--train\.max_steps=int +default 1000 +optimizer steps", out)
    assert "presets (--preset NAME): sst2-bilstm-max, sst2-bilstm-attention, sst2-transformer" in out


def test_print_config_is_what_config_reads(tmp_path, capsys):
    assert main(["train", "memory", "--preset", "adding-gru", "--model.hidden_size=40", "--print-config"]) == 0
    printed = capsys.readouterr().out
    tree = json.loads(printed)
    assert tree["model"]["hidden_size"] == 40 and tree["model"]["cell"] == "gru" and tree["train"]["max_steps"] == 3000
    (tmp_path / "c.json").write_text(printed)
    assert main(["train", "memory", "--config", str(tmp_path / "c.json"), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out) == tree
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_image_runs_read_input_as_every_other_run(tmp_path, capsys):
    """Issue 34: `seqlab predict RUN --input strip.png` (and a glob) works for image runs as for line runs;
    the positional files remain a shorthand, and the run's help says what it reads."""
    train_args, _, _, files, outputs = _handwriting(tmp_path)
    assert main(["train", "handwriting", "--runs", str(tmp_path / "runs"), "--name", "h", *train_args]) == 0
    run = str(tmp_path / "runs" / "h")
    capsys.readouterr()
    assert main(["predict", run, "--input", files[0], "--input", files[1]]) == 0
    by_input = capsys.readouterr().out.splitlines()
    assert len(by_input) == outputs
    assert main(["predict", run, "--input", str(tmp_path / "strip*.png")]) == 0
    assert capsys.readouterr().out.splitlines() == by_input
    assert main(["predict", run, *files]) == 0
    assert capsys.readouterr().out.splitlines() == by_input
    assert main(["predict", run]) == 2
    assert "no input: a handwriting run reads PNG or JPEG images" in capsys.readouterr().err
    assert main(["predict", run, "--input", str(tmp_path / "none*.png")]) == 2
    assert "--input: no file matches" in capsys.readouterr().err
    assert main(["predict", run, "--help"]) == 0
    assert "It reads PNG or JPEG images of digit strips: --input FILE" in " ".join(capsys.readouterr().out.split())
