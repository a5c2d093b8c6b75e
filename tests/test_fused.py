"""The fused C++ loop (seqlab.nn.fused) against the Python driver (seqlab.nn.scan), and its fallback.

Every other recurrent test (equality with torch.nn, gradcheck, variants against their equations)
runs through the fused loop wherever it is built, since backend="bptt" picks it by itself; these
tests pin the two drivers to each other and check the way back to Python.
"""
from __future__ import annotations

import pytest
import torch

import seqlab.nn as snn
from seqlab.nn import fused

F64 = {"dtype": torch.float64}
LAYERS = {
    "rnn_tanh": lambda hidden=4, **k: snn.RNN(3, hidden, **k),
    "rnn_relu": lambda hidden=4, **k: snn.RNN(3, hidden, nonlinearity="relu", **k),
    "lstm": lambda hidden=4, **k: snn.LSTM(3, hidden, **k),
    "peephole": lambda hidden=4, **k: snn.LSTM(3, hidden, variant="peephole", **k),
    "coupled": lambda hidden=4, **k: snn.LSTM(3, hidden, variant="coupled", **k),
    "no_forget": lambda hidden=4, **k: snn.LSTM(3, hidden, variant="no_forget", **k),
    "gru": lambda hidden=4, **k: snn.GRU(3, hidden, **k),
    "gru_before": lambda hidden=4, **k: snn.GRU(3, hidden, reset="before", **k),
}

needs_fused = pytest.mark.skipif(
    not fused.load(), reason="the fused recurrence is not built here (no C++ compiler, or no AVX2: see seqlab.nn.fused)"
)


@pytest.fixture
def python_driver():
    """Run the test body with the fused loop switched off; restore it after."""
    fused.set_enabled(False)
    yield
    fused.set_enabled(True)


def _run(layer, x, hx, lengths, seed=0):
    """Outputs, final state and every gradient of one forward+backward (dropout masks drawn from ``seed``)."""
    layer.zero_grad()
    x = x.detach().clone().requires_grad_()
    hx = tuple(h.detach().clone().requires_grad_() for h in hx)
    torch.manual_seed(seed)
    out, state = layer(x, hx if len(hx) > 1 else hx[0], lengths=lengths)
    state = state if isinstance(state, tuple) else (state,)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    ((out * weights).sum() + sum((s * s).sum() for s in state)).backward()
    return [out, *state, x.grad, *(h.grad for h in hx)] + [p.grad for p in layer.parameters()]


def _both(layer, x, hx, lengths):
    fused.set_enabled(True)
    try:
        a = _run(layer, x, hx, lengths)
        fused.set_enabled(False)
        b = _run(layer, x, hx, lengths)
    finally:
        fused.set_enabled(True)
    return a, b


@needs_fused
@pytest.mark.parametrize("lengths", [None, [7, 3, 5]], ids=["full", "lengths"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_equals_python_driver_two_layer_bidirectional(name, lengths):
    torch.manual_seed(1)
    layer = LAYERS[name](num_layers=2, bidirectional=True, dropout=0.3, variational_dropout=0.25, backend="bptt", **F64)
    x = torch.randn(7, 3, 3, **F64)
    hx = tuple(torch.randn(4, 3, 4, **F64) for _ in range(layer.cell.num_states))
    for training in (True, False):
        layer.train(training)
        a, b = _both(layer, x, hx, None if lengths is None else torch.tensor(lengths))
        for p, q in zip(a, b):
            torch.testing.assert_close(p, q, atol=1e-10, rtol=0)


@needs_fused
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_equals_python_driver_float32(name):
    torch.manual_seed(2)
    layer = LAYERS[name](backend="bptt")
    x = torch.randn(20, 5, 3)
    hx = tuple(torch.randn(1, 5, 4) for _ in range(layer.cell.num_states))
    for p, q in zip(*_both(layer, x, hx, torch.tensor([20, 9, 1, 17, 20]))):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-5)


@needs_fused
@pytest.mark.parametrize("name", list(LAYERS))
def test_gradcheck_through_fused_loop(name):
    torch.manual_seed(3)
    layer = LAYERS[name](backend="bptt", **F64)
    x = torch.randn(5, 2, 3, **F64, requires_grad=True)
    hx = tuple(torch.randn(1, 2, 4, **F64, requires_grad=True) for _ in range(layer.cell.num_states))
    lengths = torch.tensor([5, 3])

    n = len(hx)

    def f(x, *hx_and_params):
        h, params = hx_and_params[:n], hx_and_params[n:]
        state = dict(zip((name for name, _ in layer.named_parameters()), params))
        out, final = torch.func.functional_call(layer, state, (x, h if n > 1 else h[0]), {"lengths": lengths})
        return (out,) + (final if isinstance(final, tuple) else (final,))

    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(f, (x, *hx, *params))


@needs_fused
def test_layers_pick_the_fused_loop_by_themselves(monkeypatch):
    calls = []
    apply = fused._FusedRecurrence.apply
    monkeypatch.setattr(fused._FusedRecurrence, "apply", lambda *a: calls.append(1) or apply(*a))
    layer = snn.LSTM(3, 4, backend="bptt")
    layer(torch.randn(6, 2, 3))[0].sum().backward()
    assert calls == [1]
    fused.set_enabled(False)
    try:
        layer(torch.randn(6, 2, 3))[0].sum().backward()
    finally:
        fused.set_enabled(True)
    assert calls == [1]  # switched off: the Python driver ran


@needs_fused
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("hidden", [21, 520])
@pytest.mark.parametrize("name", list(LAYERS))
def test_packed_products_at_every_edge_equal_python_driver(name, hidden, dtype):
    # the step products run on W_hh packed into panels (csrc/gemm.h: NR = 16 floats or 8 doubles per panel with
    # AVX2, MR = 6 rows at a time, 512 panel rows per pass; AVX-512: 32 or 16, 12 rows, 256): B = 13 is two full
    # row blocks and one row (AVX-512: one and one); H = 21 ends every product in a partial panel; H = 520 makes
    # the forward's 520 and the backward's G*H rows of a panel take two passes or more; with two threads the batch
    # rows are split between them for the whole sequence (7 and 6 rows: masks, the variational-dropout mask and
    # every buffer taken at the thread's rows); training and inference
    torch.manual_seed(6)
    layer = LAYERS[name](hidden=hidden, variational_dropout=0.25, dtype=dtype)
    x = torch.randn(9, 13, 3, dtype=dtype)  # packing starts at 8 steps (fewer call BLAS)
    hx = tuple(torch.randn(1, 13, hidden, dtype=dtype) for _ in range(layer.cell.num_states))
    lengths = torch.tensor([9, 3, 9, 1, 7, 9, 2, 9, 8, 5, 9, 4, 6])
    tolerance = {"atol": 1e-10, "rtol": 0} if dtype == torch.float64 else {"atol": 1e-4, "rtol": 1e-4}
    for p, q in zip(*_both(layer, x, hx, lengths)):
        torch.testing.assert_close(p, q, **tolerance)
    layer.eval()
    outs = []
    for enabled in (True, False):
        fused.set_enabled(enabled)
        try:
            with torch.no_grad():
                outs.append(layer(x, hx if len(hx) > 1 else hx[0], lengths=lengths)[0])
        finally:
            fused.set_enabled(True)
    torch.testing.assert_close(*outs, **tolerance)


@needs_fused
def test_inference_through_fused_loop_equals_python_driver(python_driver):
    layer = snn.GRU(3, 4, num_layers=2, **F64).eval()
    x = torch.randn(9, 2, 3, **F64)
    with torch.no_grad():
        slow = layer(x)
        fused.set_enabled(True)
        fast = layer(x)
    torch.testing.assert_close(fast, slow, atol=1e-12, rtol=0)


@needs_fused
@pytest.mark.parametrize("name", list(LAYERS))
def test_inference_of_every_cell_equals_python_driver(name):
    # inference has its own loop (recurrence.cpp's infer: the input projection a chunk of 512 // B steps at a time,
    # c and the cell's cache rolling): T = 41 at B = 30 is chunks of 17, 17 and 7; lengths mask rows; in train
    # mode under no_grad the dropout masks (variational too) are drawn alike from the seed
    torch.manual_seed(4)
    layer = LAYERS[name](num_layers=2, bidirectional=True, dropout=0.3, variational_dropout=0.25, backend="bptt", **F64)
    x = torch.randn(41, 30, 3, **F64)
    hx = tuple(torch.randn(4, 30, 4, **F64) for _ in range(layer.cell.num_states))
    lengths = torch.randint(1, 42, (30,))
    for training in (False, True):
        layer.train(training)
        outs = []
        for enabled in (True, False):
            fused.set_enabled(enabled)
            torch.manual_seed(5)
            try:
                with torch.no_grad():
                    out, state = layer(x, hx if len(hx) > 1 else hx[0], lengths=lengths)
            finally:
                fused.set_enabled(True)
            outs.append([out, *(state if isinstance(state, tuple) else (state,))])
        for p, q in zip(*outs):
            torch.testing.assert_close(p, q, atol=1e-10, rtol=0)


@needs_fused
def test_user_subclass_of_a_cell_is_not_fused():
    class Mine(snn.LSTMCell):  # may change the step: only the exact classes have a C++ twin
        pass

    assert fused.kind(snn.LSTMCell()) is not None
    assert fused.kind(Mine()) is None


def test_fallback_when_no_compiler_warns_once_and_runs_python(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(fused._state, "loaded", None)
    layer = snn.LSTM(3, 4, backend="bptt", **F64)
    x = torch.randn(5, 2, 3, **F64)
    with pytest.warns(RuntimeWarning, match="fused recurrence is unavailable.*no-such-compiler"):
        out, _ = layer(x)
    out.sum().backward()
    assert fused._state["loaded"] is False
    fused.set_enabled(False)
    try:
        expected, _ = layer(x)
    finally:
        fused.set_enabled(True)
    torch.testing.assert_close(out, expected, atol=0, rtol=0)


def test_build_entry_point_exits_zero_without_a_compiler(monkeypatch, tmp_path, capsys):
    from seqlab.nn import build

    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    assert build.main([]) == 0
    assert "not built" in capsys.readouterr().err


def _saved_bytes(fn) -> int:
    """Bytes of the tensors the autograd graph saves for the backward while ``fn`` runs."""
    total = []

    def pack(t):
        total.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return sum(total), result


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn_tanh", "peephole"])
def test_checkpoint_every_k_steps_same_numbers_less_memory(name):
    torch.manual_seed(4)
    layer = LAYERS[name](num_layers=2, bidirectional=True, variational_dropout=0.2, backend="bptt", **F64)
    x = torch.randn(40, 3, 3, **F64)
    hx = tuple(torch.randn(4, 3, 4, **F64) for _ in range(layer.cell.num_states))
    lengths = torch.tensor([40, 17, 33])
    full = _run(layer, x, hx, lengths)
    layer.checkpoint = 8
    for p, q in zip(full, _run(layer, x, hx, lengths)):
        torch.testing.assert_close(p, q, atol=1e-10, rtol=0)
    if not fused.load():  # the Python driver keeps its caches outside autograd's saved tensors
        return
    single = LAYERS[name](backend="bptt", **F64)  # one direction: no reversal index (T x B x F) in the count
    hx = tuple(h[:1] for h in hx)
    full_bytes, _ = _saved_bytes(lambda: _run(single, x, hx, None))
    single.checkpoint = 8
    part_bytes, _ = _saved_bytes(lambda: _run(single, x, hx, None))
    assert part_bytes < 0.75 * full_bytes, (part_bytes, full_bytes)


def test_checkpoint_argument_is_checked():
    with pytest.raises(ValueError, match="checkpoint must be an int >= 0.*-1"):
        snn.LSTM(3, 4, checkpoint=-1)
    with pytest.raises(ValueError, match="backend='native' is not available.*checkpoint=4"):
        snn.GRU(3, 4, backend="native", checkpoint=4)
