"""The task layer's rules, checked on the source: the CLI alone parses flags, tasks and export use public names only;
and the two bugs found while consolidating it (translate's test pair, a segmentation run's word list on export)."""
import ast
import json
from pathlib import Path

import pytest
from conftest import LEXICON, MT_TINY, parallel_corpus, segmented_sentences

from seqlab.cli import main

SRC = Path(__file__).resolve().parents[1] / "src" / "seqlab"


def test_no_argparse_below_the_cli():
    users = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if p.name != "cli.py"
             and any(isinstance(node, (ast.Import, ast.ImportFrom)) and "argparse" in ast.dump(node)
                     for node in ast.walk(ast.parse(p.read_text())))]
    assert users == []


def _private_uses(path: Path) -> list[str]:
    """Underscore names reached in another object or module: x._name (not self/cls), from m import _name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        if private and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
        if isinstance(node, ast.ImportFrom):
            found += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_tasks_and_export_use_no_underscore_names_of_other_modules():
    files = [*(SRC / "tasks").glob("*.py"), SRC / "export.py"]
    assert [use for f in files for use in _private_uses(f)] == []


def test_the_rule_checker_finds_a_private_use(tmp_path):  # the check above can fail
    (tmp_path / "m.py").write_text("from a import _hidden\nx = run.model.crf._scores(1)\nself._ok = 1\n")
    assert _private_uses(tmp_path / "m.py") == ["m.py:1 import _hidden", "m.py:2 ._scores"]


def test_translate_scores_the_test_pair_named_in_its_config(tmp_path, capsys):
    d = parallel_corpus(tmp_path)
    args = ["train", "translate", "--data", str(d), "--runs", str(tmp_path), "--name", "t", *MT_TINY,
            f"--data.test_src={d / 'val.de'}", f"--data.test_tgt={d / 'val.en'}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test:\nBLEU" in out and "(20 sentences;" in out
    assert main(["train", "translate", "--data", str(d), "--runs", str(tmp_path), "--name", "u", *MT_TINY,
                 f"--data.test_src={d / 'val.de'}"]) == 2
    assert "data.test_src and data.test_tgt go together" in capsys.readouterr().err
    assert not (tmp_path / "u").exists()  # refused before training


def test_export_of_a_segmentation_run_takes_its_word_list(tmp_path, capsys):
    pytest.importorskip("onnx")
    train, words = tmp_path / "train.utf8", tmp_path / "words.txt"
    train.write_text(segmented_sentences(60, 0), encoding="utf-8")
    words.write_text("\n".join(LEXICON) + "\n", encoding="utf-8")
    assert main(["train", "tag", "--data", str(train), "--data.format=segmented", f"--data.lexicon={words}",
                 "--runs", str(tmp_path), "--name", "s", "--train.max_steps=2", "--train.progress=false",
                 "--model.hidden_size=8"]) == 0
    assert main(["export", str(tmp_path / "s"), "--out", str(tmp_path / "x")]) == 0
    exported = tmp_path / "x"
    assert (exported / "lexicon.txt").read_text(encoding="utf-8") == (tmp_path / "s" / "lexicon.txt").read_text(
        encoding="utf-8")
    assert json.loads((exported / "export.json").read_text())["files"] == ["config.json", "vocab.json", "lexicon.txt"]
