"""The documentation site: its runnable examples pass, and every page of the nav exists.

(The strict build itself -- broken links and API references fail it -- is ``make docs``, which
``make test`` runs before pytest.)"""
from pathlib import Path

import pytest
from doc_examples import DOCS, check, pages

ROOT = DOCS.parent


def test_there_are_runnable_examples():
    assert len(pages()) >= 13  # every chapter of the notes has one


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_runnable_examples_print_what_the_page_shows(page: Path):
    failed, attempted, report = check(page)
    assert attempted and not failed, report


def test_the_checker_fails_on_a_wrong_output(tmp_path, monkeypatch):
    import doc_examples

    page = tmp_path / "bad.md"
    page.write_text("text\n\n```pycon\n>>> 1 + 1\n3\n```\n")
    monkeypatch.setattr(doc_examples, "DOCS", tmp_path)
    failed, attempted, report = check(page)
    assert (failed, attempted) == (1, 1) and "Expected:\n    3\nGot:\n    2" in report


def test_every_nav_page_exists():
    import re

    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$|^\s*-\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    files = [a or b for a, b in nav]
    assert len(files) >= 30 and all((DOCS / f).is_file() for f in files), [f for f in files if not (DOCS / f).is_file()]


def test_the_readme_links_into_the_site_and_states_the_two_commands():
    import re

    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) >= 10 and all((ROOT / link).is_file() for link in links), links
    assert "    make demo\n" in readme and "    make test\n" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
