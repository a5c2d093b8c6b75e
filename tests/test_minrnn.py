"""minGRU / minLSTM: the chunked and log-space scans equal the sequential steps and the paper's equations."""
import pytest
import torch

from seqlab.nn.linear_scan import linear_scan
from seqlab.nn.minrnn import MinGRU, MinLSTM, g, log_scan


@pytest.fixture(autouse=True)
def _float64():
    """Comparisons to 1e-10: every tensor of these tests in float64."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_log_scan_equals_the_recurrence():
    torch.manual_seed(0)
    a, b, h0 = torch.rand(3, 50, 4), torch.rand(3, 50, 4), torch.rand(3, 4)
    h, expected = h0, []
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    assert torch.allclose(log_scan(a.log(), b.log(), h0.log()), torch.stack(expected, 1), atol=1e-10)
    h, expected = torch.zeros(3, 4), []
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    assert torch.allclose(log_scan(a.log(), b.log(), None), torch.stack(expected, 1), atol=1e-10)


def recurrence(a, b, h0):
    h, out = h0, []
    for t in range(len(a)):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out)


@pytest.mark.parametrize("steps", [1, 2, 7, 16, 17, 50])  # chunk sizes with and without padding
def test_chunked_scan_equals_the_recurrence(steps):
    torch.manual_seed(steps)
    a, b, h0 = torch.rand(steps, 3, 4), torch.randn(steps, 3, 4), torch.randn(3, 4)
    assert torch.allclose(linear_scan(a, b, h0), recurrence(a, b, h0), atol=1e-10)
    assert torch.allclose(linear_scan(a, b), recurrence(a, b, torch.zeros(3, 4)), atol=1e-10)


@pytest.mark.parametrize("steps", [1, 5, 10])
def test_chunked_scan_gradcheck(steps):
    torch.manual_seed(10 + steps)
    a = torch.rand(steps, 2, 3).requires_grad_()
    b, h0 = torch.randn(steps, 2, 3).requires_grad_(), torch.randn(2, 3).requires_grad_()
    assert torch.autograd.gradcheck(linear_scan, (a, b, h0))
    assert torch.autograd.gradcheck(linear_scan, (a, b))


def test_chunked_scan_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="a and b"):
        linear_scan(torch.rand(5, 2, 3), torch.rand(5, 2, 4))
    with pytest.raises(ValueError, match="h0"):
        linear_scan(torch.rand(5, 2, 3), torch.rand(5, 2, 3), torch.rand(3, 3))


def test_log_scan_gradcheck():
    torch.manual_seed(1)
    la = torch.rand(2, 6, 3).log().requires_grad_()
    lb = torch.randn(2, 6, 3).requires_grad_()
    lh = torch.randn(2, 3).requires_grad_()
    assert torch.autograd.gradcheck(log_scan, (la, lb, lh))


def equations(layer, x, h0):
    """The paper's equations, one step at a time, from the layer's weights (one layer, one direction)."""
    w, b = layer.cells[0].proj.weight, layer.cells[0].proj.bias
    H = layer.hidden_size
    h, out = h0, []
    for t in range(x.shape[1]):
        p = x[:, t] @ w.T + b
        if isinstance(layer, MinGRU):
            z, cand = torch.sigmoid(p[:, :H]), g(p[:, H:])
            h = (1 - z) * h + z * cand
        else:
            f, i, cand = torch.sigmoid(p[:, :H]), torch.sigmoid(p[:, H : 2 * H]), g(p[:, 2 * H :])
            h = f / (f + i) * h + i / (f + i) * cand
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_parallel_equals_sequential_equals_the_equations(cls):
    torch.manual_seed(2)
    x, h0 = torch.randn(4, 30, 5), torch.rand(1, 4, 8)
    layer = cls(5, 8, batch_first=True)
    par, h_par = layer(x, h0)
    for mode in ("log", "sequential"):
        layer.mode = mode
        other, h_other = layer(x, h0)
        assert torch.allclose(par, other, atol=1e-10) and torch.allclose(h_par, h_other, atol=1e-10)
    assert torch.allclose(par, equations(layer, x, h0[0]), atol=1e-10)
    assert torch.allclose(layer(x)[0], equations(layer, x, torch.zeros(4, 8)), atol=1e-10)  # no hx: h_0 = 0


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_layers_directions_lengths_and_streaming(cls):
    torch.manual_seed(3)
    layer = cls(3, 6, num_layers=2, bidirectional=True)
    x, lengths = torch.randn(9, 4, 3), torch.tensor([9, 5, 1, 7])
    out, h_n = layer(x, lengths=lengths)
    assert out.shape == (9, 4, 12) and h_n.shape == (4, 4, 6)
    for mode in ("log", "sequential"):
        layer.mode = mode
        out_other, h_other = layer(x, lengths=lengths)
        assert torch.allclose(out, out_other, atol=1e-10) and torch.allclose(h_n, h_other, atol=1e-10)
    layer.mode = "parallel"
    for b, n in enumerate(lengths.tolist()):  # each sequence alone gives the same states; zeros past its end
        alone, h_alone = layer(x[:n, b : b + 1])
        assert torch.allclose(out[:n, b], alone[:, 0], atol=1e-10)
        assert torch.allclose(h_n[:, b], h_alone[:, 0], atol=1e-10)
        assert torch.all(out[n:, b] == 0)
    uni = cls(3, 6, num_layers=2, batch_first=True)
    x = torch.randn(2, 20, 3)
    whole, h_whole = uni(x)
    first, h1 = uni(x[:, :12])
    second, h2 = uni(x[:, 12:], h1)  # streaming: the carried state continues the sequence
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-10) and torch.allclose(h2, h_whole)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_gradients_of_all_modes_agree(cls):
    torch.manual_seed(4)
    x, h0 = torch.randn(3, 15, 4).requires_grad_(), torch.rand(2, 3, 7).requires_grad_()
    grads = []
    for mode in ("parallel", "log", "sequential"):
        torch.manual_seed(5)
        layer = cls(4, 7, num_layers=2, batch_first=True, mode=mode)
        out, h_n = layer(x, h0)
        (out.pow(2).sum() + h_n.sum()).backward()
        grads.append([p.grad.clone() for p in layer.parameters()] + [x.grad.clone(), h0.grad.clone()])
        x.grad = h0.grad = None
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("cell", ["min_gru", "min_lstm"])
def test_min_cells_plug_into_the_lm_and_classification_tasks(cell, tmp_path, labelled_files):
    torch.set_default_dtype(torch.float32)
    from seqlab.generate import SampleConfig
    from seqlab.tasks import classify, lm

    text = tmp_path / "text.txt"
    text.write_text("to be or not to be, that is the question.\n" * 40)
    cfg = lm.LMConfig()
    cfg.data.path, cfg.model.cell, cfg.model.hidden_size, cfg.model.embed_size = str(text), cell, 32, 16
    cfg.optim.lr, cfg.optim.warmup_steps = 1e-2, 0
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps, cfg.train.progress = 4, 16, 120, False
    assert lm.TASK.train(cfg, tmp_path / "lm")["loss"] < 1.5  # from ln(18) = 2.9 nats/char
    pieces = []
    lm.sample(tmp_path / "lm", "to be", 30, SampleConfig(0.8, 0, 1.0, 1), on_text=pieces.append)
    assert "".join(pieces).startswith("to be") and len("".join(pieces)) == len("to be") + 30

    train, dev = labelled_files
    c = classify.ClassifyConfig()
    c.data.path, c.data.valid = str(train), str(dev)
    c.model.cell, c.model.hidden_size, c.model.embed_size, c.model.pooling = cell, 32, 32, "max"
    c.train.epochs, c.train.progress, c.optim.lr = 6, False, 5e-3
    assert classify.TASK.train(c, tmp_path / "cls")["best"]["value"] > 0.8
