"""seqlab serve in a real browser: Playwright drives Chromium over a served page of small runs trained here.

The browser is Debian's ``chromium`` (``make test`` installs it with apt where it can; Playwright's own
browser download needs the network).  Without a browser, or without the ``serve`` / ``browser`` extras,
these tests skip with the reason.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_registry import TASKS

from seqlab.cli import main

pytest.importorskip("starlette", reason="seqlab serve needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="seqlab serve needs the serve extra: pip install -e '.[serve]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright: pip install playwright")

CHROMIUM = os.environ.get("SEQLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    pytest.skip("no chromium on PATH (apt-get install chromium, or set SEQLAB_CHROMIUM)", allow_module_level=True)

# a run of every task; the classifier pools with attention, so that its weights can be shown
EXTRA = {"classify": ["--model.pooling=attention"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``seqlab serve`` over a small trained run of every task; yields (url, {task: panel index}, files)."""
    tmp = tmp_path_factory.mktemp("serve")
    runs, files = [], {}
    for task, make in sorted(TASKS.items()):
        (tmp / task).mkdir()
        train_args, _, _, predict_args, _ = make(tmp / task)
        assert main(["train", task, "--runs", str(tmp / "runs"), "--name", task, *train_args, *EXTRA.get(task, [])]) == 0
        runs.append(str(tmp / "runs" / task))
        files[task] = [a for a in predict_args if a.endswith((".wav", ".png"))]
    from seqlab.nn import fused

    fused.load()  # the C++ recurrence built into this session's cache here, so the server finds it (no compile there)
    port = _free_port()
    with open(tmp / "serve.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "seqlab", "serve", *runs, "--port", str(port),
                                   "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                listed = json.load(urllib.request.urlopen(f"{url}/api/runs", timeout=2))
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"seqlab serve exited: {(tmp / 'serve.log').read_text()}")
                time.sleep(0.2)
        else:
            pytest.fail("seqlab serve did not answer within 120 s")
        yield url, {r["task"]: r["index"] for r in listed}, files
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, served):
    url = served[0]
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    page.close()


def open_panel(page, served, task: str):
    index = served[1][task]
    page.click(f"nav button[data-index='{index}']")
    panel = page.locator(f"#panel-{index}")
    assert panel.is_visible()
    return panel


def go(panel):
    panel.locator("button.go").first.click()


def test_every_run_has_a_tab_and_a_panel(page, served):
    assert page.locator("nav button").count() == len(TASKS)
    assert sorted(page.locator("section.panel").evaluate_all("s => s.map(e => e.dataset.task)")) == sorted(TASKS)


def test_language_model_streams_its_continuation(page, served):
    panel = open_panel(page, served, "lm")
    panel.locator("textarea.prompt").fill("the rain")
    panel.locator("input[name=length]").fill("40")
    go(panel)
    out = panel.locator(".generated[data-done=true]")
    out.wait_for(timeout=30_000)
    assert out.inner_text().startswith("the rain") and len(out.inner_text()) > len("the rain")


def test_empty_prompt_shows_a_message_and_the_server_keeps_serving(page, served):
    panel = open_panel(page, served, "lm")
    panel.locator("textarea.prompt").fill("   ")
    go(panel)
    error = panel.locator(".error.shown")
    error.wait_for()
    assert "prompt is empty" in error.inner_text()
    panel.locator("textarea.prompt").fill("in spain")
    go(panel)
    panel.locator(".generated[data-done=true]").wait_for(timeout=30_000)
    assert not panel.locator(".error.shown").count()


def test_classifier_shows_probabilities_and_attention_weights(page, served):
    panel = open_panel(page, served, "classify")
    panel.locator("textarea.text").fill("w1 great w2 w3")
    go(panel)
    panel.locator("table.probs").wait_for()
    probs = [float(x) for x in panel.locator("table.probs tr td:nth-child(2)").all_inner_texts()]
    assert len(probs) == 3 and abs(sum(probs) - 1) < 2e-3 and probs == sorted(probs, reverse=True)
    weights = [float(w) for w in panel.locator(".tokens span").evaluate_all("s => s.map(e => e.dataset.weight)")]
    assert panel.locator(".tokens span").all_inner_texts() == ["w1", "great", "w2", "w3"]
    assert abs(sum(weights) - 1) < 2e-3


def test_a_sentence_over_the_limit_is_refused_in_the_page(page, served):
    panel = open_panel(page, served, "classify")
    panel.locator("textarea.text").fill("w1 " * 4000)
    go(panel)
    panel.locator(".error.shown").wait_for()
    assert "the limit is 10,000" in panel.locator(".error").inner_text()


def test_tagger_highlights_entities(page, served):
    panel = open_panel(page, served, "tag")
    panel.locator("textarea.text").fill("Alice Aliceson went to Paris")
    go(panel)
    panel.locator(".segments").wait_for()
    text = panel.locator(".segments").inner_text()
    assert all(word in text for word in ("Alice", "Aliceson", "went", "Paris"))
    labels = panel.locator(".segments mark").evaluate_all("m => m.map(e => e.dataset.label)")
    assert set(labels) <= {"PER", "LOC"}  # a 4-step model may find none; any it finds is a type of the data


def test_translation_shows_the_output_and_its_attention_map(page, served):
    panel = open_panel(page, served, "translate")
    panel.locator("textarea.text").fill("ein mann sieht einen hund")
    go(panel)
    panel.locator(".text-output").wait_for()
    if panel.locator(".note").count() == 0:  # a 6-step model may stop at once: then the page says so
        assert _plot_size(panel.locator("img.result-plot")) > (100, 100)


def test_forecast_plots_from_a_chosen_row_and_refuses_a_row_out_of_range(page, served):
    panel = open_panel(page, served, "forecast")
    panel.locator("input.row").fill("300")
    go(panel)
    panel.locator("img.result-plot").wait_for()
    assert _plot_size(panel.locator("img.result-plot")) > (100, 100)
    assert len(panel.locator(".lines").inner_text().splitlines()) == 6  # the horizon
    panel.locator("input.row").fill("5")
    go(panel)
    panel.locator(".error.shown").wait_for()
    assert "must start between row 24" in panel.locator(".error").inner_text()


def test_speech_transcribes_an_upload_and_refuses_a_non_wav(page, served, tmp_path):
    panel = open_panel(page, served, "speech")
    panel.locator("input.file").set_input_files(served[2]["speech"][0])
    go(panel)
    panel.locator("img.result-plot").wait_for()
    assert panel.locator(".text-output").inner_text().strip()[0].isdigit()
    assert _plot_size(panel.locator("img.result-plot")) > (100, 100)
    bad = tmp_path / "notes.wav"
    bad.write_text("not a recording")
    panel.locator("input.file").set_input_files(str(bad))
    go(panel)
    panel.locator(".error.shown").wait_for()
    assert "wav" in panel.locator(".error").inner_text().lower()


def test_handwriting_reads_an_uploaded_strip(page, served):
    panel = open_panel(page, served, "handwriting")
    go(panel)  # nothing chosen yet
    panel.locator(".error.shown").wait_for()
    assert "choose a file" in panel.locator(".error").inner_text()
    panel.locator("input.file").set_input_files(served[2]["handwriting"][0])
    go(panel)
    panel.locator("img.result-plot").wait_for()
    assert panel.locator(".text-output").count() == 1 and not panel.locator(".error.shown").count()
    assert _plot_size(panel.locator("img.result-plot")) > (100, 100)


def test_conditional_lm_and_memory_panels_answer(page, served):
    panel = open_panel(page, served, "conditional_lm")
    assert panel.locator("select.condition option").count() == 3
    panel.locator("input[name=count]").fill("2")
    go(panel)
    panel.locator(".lines").wait_for()
    assert len(panel.locator(".lines").inner_text().splitlines()) == 2
    panel = open_panel(page, served, "memory")
    go(panel)
    panel.locator(".lines").wait_for()
    assert all(line.startswith("target") for line in panel.locator(".lines").inner_text().splitlines())


def test_bilm_scores_each_word_from_both_sides_and_refuses_one_word(page, served):
    panel = open_panel(page, served, "bilm")
    panel.locator("textarea.text").fill("w1 great w2")
    go(panel)
    panel.locator(".lines").wait_for()
    header, *rows = panel.locator(".lines").inner_text().splitlines()
    assert "left" in header and [r.split()[0] for r in rows] == ["w1", "great", "w2"]
    assert rows[0].split()[1] == "—" and rows[-1].split()[-1] == "—"  # no left context / no right context
    assert "perplexity" in panel.locator(".note").inner_text()
    panel.locator("textarea.text").fill("great")
    go(panel)
    error = panel.locator(".error.shown")
    error.wait_for()
    assert "two tokens or more" in error.inner_text()


def test_gradient_flow_of_a_recurrent_run(page, served):
    panel = open_panel(page, served, "classify")
    panel.locator("button.gradients").click()
    img = panel.locator("img.gradient-plot[src]")
    img.wait_for()
    assert _plot_size(img) > (300, 200)


def test_twenty_concurrent_requests_are_all_answered(served):
    from concurrent.futures import ThreadPoolExecutor

    url, index, _ = served

    def ask(k: int) -> int:
        body = json.dumps({"text": f"w{k} great w2"}).encode()
        request = urllib.request.Request(f"{url}/api/{index['classify']}/predict", body,
                                         {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            return len(json.load(r)["probabilities"])

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(ask, range(20))) == [3] * 20


def _plot_size(img) -> tuple[int, int]:
    """The natural size of a shown PNG (0, 0 when it failed to decode)."""
    img.wait_for()
    return tuple(img.evaluate("i => [i.naturalWidth, i.naturalHeight]"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([str(Path(__file__))]))
