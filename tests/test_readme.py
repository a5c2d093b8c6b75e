"""The README's examples run and print what the README says they print."""
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_drop_in_example_prints_what_readme_shows():
    text = README.read_text()
    code, expected = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.DOTALL).groups()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own example)
    assert out.getvalue() == expected


def test_readme_probe_example_prints_vanishing_norms():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    namespace, out = {}, io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102
    namespace["torch"].manual_seed(0)
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[1], "README.md", "exec"), namespace)  # noqa: S102
    snn, rnn, x = namespace["snn"], namespace["rnn"], namespace["x"]
    norms = snn.gradient_flow(rnn, x, lambda o: o[-1].sum())  # ||dL/dh_k|| for k = 1..60
    assert out.getvalue().strip() == str(norms[:3])  # what the example prints: the first three norms
    assert norms[-1] > 0 and (norms[:3] < 1e-6 * norms[-1]).all()  # vanished 57+ steps back
