"""The task layer's rules, checked on the source: the CLI alone parses flags, tasks and export use public names only;
and the two bugs found while consolidating it (translate's test pair, a segmentation run's word list on export)."""
import ast
import json
import re
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


BENCHMARKS = SRC.parents[1] / "benchmarks"


def test_tasks_export_probe_and_benchmarks_use_no_underscore_names_of_other_modules():
    files = [*(SRC / "tasks").glob("*.py"), SRC / "export.py", SRC / "nn" / "probe.py", *BENCHMARKS.glob("*.py")]
    assert [use for f in files for use in _private_uses(f)] == []


# -- the CLI and the server know no task by name: a task declares its commands, its generate and its panel ------
TASK_NAMES = {"bilm", "charlm", "classify", "conditional_lm", "forecast", "handwriting", "lm", "memory", "speech", "tag",
              "translate"}
PROSE = {"classify", "tag", "translate", "forecast", "speech", "handwriting", "memory"}  # words of plain English too


def _task_modules() -> set[str]:
    return {p.stem for p in (SRC / "tasks").glob("*.py") if "\nTASK = Task(" in p.read_text()}


def _task_references(path: Path, modules: set[str]) -> list[str]:
    """Imports of a task's module, and strings (docstrings aside) that name a task: equal to its name, or
    holding it as a word where the name is no English word (lm, bilm, conditional_lm)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names]
            full = names if isinstance(node, ast.Import) else \
                [node.module] if (node.module or "").count(".") == 2 else [f"{node.module}.{n}" for n in names]
            found += [f"{path.name}:{node.lineno} imports {m}" for m in full
                      if m.startswith("seqlab.tasks.") and m.split(".")[2] in modules]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            words = set(re.findall(r"[a-z_]+", node.value))
            named = {n for n in TASK_NAMES if node.value == n or (n in words and n not in PROSE)}
            found += [f"{path.name}:{node.lineno} names {n}" for n in sorted(named)]
    return found


def test_the_task_names_are_the_registry_s():
    from seqlab.tasks.registry import tasks

    assert set(tasks()) == TASK_NAMES  # a new task joins this list (the checks below then cover its name too)


def test_no_task_is_named_in_the_cli_or_the_server():
    modules = _task_modules()
    files = [SRC / "cli.py", *(SRC / "serve").glob("*.py")]
    assert [ref for f in files for ref in _task_references(f, modules)] == []
    page = (SRC / "serve" / "page.html").read_text()
    assert [n for n in TASK_NAMES if re.search(rf"[\"'`]{n}[\"'`]|\b{n}\s*:", page)] == []


def test_the_task_name_checker_finds_a_reference(tmp_path):  # the check above can fail
    (tmp_path / "m.py").write_text('"""lm and tag in a docstring."""\nfrom seqlab.tasks import lm\n'
                                   'from seqlab.tasks.translate import attention_map\n'
                                   'if task == "tag":\n    print(f"samples from lm runs")\nx = "out of memory"\n')
    assert _task_references(tmp_path / "m.py", {"lm", "tag", "translate"}) == [
        "m.py:2 imports seqlab.tasks.lm", "m.py:3 imports seqlab.tasks.translate", "m.py:4 names tag",
        "m.py:5 names lm"]


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
