"""One task interface: the registry drives train / predict / evaluate for every task, LM and translation included."""
import pytest
from test_cli import MT_TINY, TEXT, TINY, _parallel

from seqlab.cli import main
from seqlab.tasks import registry
from seqlab.train.rundir import task_of


def test_every_task_module_declares_itself():
    found = registry.tasks()
    assert {"lm", "translate", "classify", "tag"} <= set(found)
    for name, task in found.items():
        assert task.name == name and task.presets, name
        for preset in task.presets:
            assert type(task.preset(preset)) is task.config  # every preset is a config of its task


def _lm(tmp_path):
    corpus = tmp_path / "rain.txt"
    corpus.write_text(TEXT)
    return ["--data", str(corpus), *TINY], ["--data", str(corpus)], "the rain\nin spain\n"


def _translate(tmp_path):
    d = _parallel(tmp_path)
    return (["--data", str(d), *MT_TINY], ["--src", str(d / "val.de"), "--ref", str(d / "val.en")],
            "ein mann\nein hund sieht eine katze\n")


def _classify(tmp_path):
    from conftest import labelled_lines

    path = tmp_path / "l.txt"
    path.write_text("\n".join(labelled_lines(60, 0)) + "\n")
    return (["--data", str(path), "--train.max_steps=4", "--train.epochs=0", "--train.progress=false",
             "--model.hidden_size=8", "--model.embed_size=8"], ["--data", str(path)], "w1 great\nw2 dull w3\n")


def _tag(tmp_path):
    from conftest import conll_sentences

    path = tmp_path / "t.conll"
    path.write_text(conll_sentences(40, 0))
    return (["--data", str(path), "--train.max_steps=4", "--train.epochs=0", "--train.progress=false",
             "--model.hidden_size=8", "--model.embed_size=8"], ["--data", str(path)], "w1 Alice\nParis w2 w3\n")


@pytest.mark.parametrize("task, make, outputs", [("lm", _lm, 2), ("translate", _translate, 2), ("classify", _classify, 2),
                                                 ("tag", _tag, 7)])
def test_registry_drives_train_predict_evaluate(task, make, outputs, tmp_path, capsys):
    train_args, evaluate_args, inputs = make(tmp_path)
    assert main(["train", task, "--runs", str(tmp_path / "runs"), "--name", "r", *train_args]) == 0
    run = tmp_path / "runs" / "r"
    assert task_of(run) == task and registry.of_run(run).name == task
    capsys.readouterr()
    src = tmp_path / "in.txt"
    src.write_text(inputs)
    extra = ["--length", "5"] if task == "lm" else []
    assert main(["predict", str(run), "--input", str(src), *extra]) == 0
    assert len(capsys.readouterr().out.splitlines()) == outputs  # one result per input line (tag: CoNLL lines)
    assert main(["evaluate", str(run), *evaluate_args]) == 0
    assert capsys.readouterr().out.strip()


def test_task_options_are_checked_per_task(tmp_path, capsys):
    train_args, _, _ = _classify(tmp_path)
    main(["train", "classify", "--runs", str(tmp_path), "--name", "c", *train_args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", str(tmp_path / "c"), "--src", "x"])  # a translation option on a classify run
    assert stop.value.code == 2 and "--data" in capsys.readouterr().err
    assert main(["translate", str(tmp_path / "c")]) == 2
    assert "is a classify run, not one for seqlab translate: use seqlab predict" in capsys.readouterr().err
    assert main(["train", "classify", "--preset", "nope", "--runs", str(tmp_path)]) == 2
    assert "unknown preset 'nope' for classify; presets: sst2-bilstm-max" in capsys.readouterr().err


def test_help_of_a_run_lists_its_task_options(tmp_path, capsys):
    train_args, _, _ = _tag(tmp_path)
    main(["train", "tag", "--runs", str(tmp_path), "--name", "t", *train_args])
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "t"), "--help"]) == 0
    out = capsys.readouterr().out
    assert "Options of a tag run" in out and "--output" in out and "--train-words" in out
