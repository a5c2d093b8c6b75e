"""The documentation's runnable examples: the ```pycon blocks of docs/**/*.md, run as doctests.

Each page's blocks share one namespace, in order (like a notebook); output is compared with
ELLIPSIS and NORMALIZE_WHITESPACE.  ``python tests/doc_examples.py --update [PAGE ...]`` rewrites
the expected output of every block from a fresh run (then read the diff before committing);
``python tests/doc_examples.py`` checks them all, as ``tests/test_docs.py`` does.
"""
from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.DOTALL | re.MULTILINE)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def pages() -> list[Path]:
    """Every page with at least one runnable block."""
    return sorted(p for p in DOCS.rglob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))


def _namespace() -> dict:
    return {"__name__": "__docs__"}


def check(page: Path) -> tuple[int, int, str]:
    """(failures, examples, report) of one page's blocks."""
    text = page.read_text(encoding="utf-8")
    parser, globs = doctest.DocTestParser(), _namespace()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(DOCS.parent)  # paths in the examples are relative to the repository root
        for k, match in enumerate(BLOCK.finditer(text)):
            line = text[: match.start()].count("\n") + 1
            test = parser.get_doctest(match.group(1), globs, f"{page.relative_to(DOCS)} block {k + 1}", str(page), line)
            runner.run(test, out=out.write, clear_globs=False)
            globs = test.globs  # the next block sees this one's names (a DocTest works on a copy)
    finally:
        os.chdir(cwd)
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted, out.getvalue()


def update(page: Path) -> None:
    """Rewrite the expected output of the page's blocks from a fresh run."""
    text = page.read_text(encoding="utf-8")
    globs, pieces, at = _namespace(), [], 0
    cwd = os.getcwd()
    os.chdir(DOCS.parent)
    try:
        for match in BLOCK.finditer(text):
            pieces.append(text[at : match.start(1)])
            pieces.append(_rerun(match.group(1), globs))
            at = match.end(1)
    finally:
        os.chdir(cwd)
    pieces.append(text[at:])
    page.write_text("".join(pieces), encoding="utf-8")


def _rerun(block: str, globs: dict) -> str:
    out = []
    for example in doctest.DocTestParser().get_examples(block):
        source = example.source.rstrip("\n").split("\n")
        out += [(">>> " if i == 0 else "... ") + s for i, s in enumerate(source)]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(example.source, "<docs>", "single"), globs)  # noqa: S102 - the docs' own examples
        out += [line.rstrip() for line in buffer.getvalue().rstrip("\n").split("\n") if buffer.getvalue()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--update":
        for p in [Path(a).resolve() for a in args[1:]] or pages():
            update(p)
            print(f"updated {p.relative_to(DOCS.parent)}")
    else:
        failed = 0
        for p in pages():
            f, n, report = check(p)
            failed += f
            print(f"{p.relative_to(DOCS.parent)}: {n - f}/{n} examples pass")
            print(report, end="")
        sys.exit(1 if failed else 0)
