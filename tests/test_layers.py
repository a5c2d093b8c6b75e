"""Layer behaviour beyond torch equivalence: variable lengths, variational dropout,
truncated BPTT, clipping, the gradient-flow probe, and errors on bad input."""
import pytest
import torch

import seqlab.nn as snn

T, B, I, H = 7, 4, 3, 5
LENGTHS = [7, 3, 5, 1]

ALL_LAYERS = {
    "rnn_tanh": lambda **k: snn.RNN(I, H, **k),
    "rnn_relu": lambda **k: snn.RNN(I, H, nonlinearity="relu", **k),
    "lstm": lambda **k: snn.LSTM(I, H, **k),
    "peephole": lambda **k: snn.LSTM(I, H, variant="peephole", **k),
    "coupled": lambda **k: snn.LSTM(I, H, variant="coupled", **k),
    "no_forget": lambda **k: snn.LSTM(I, H, variant="no_forget", **k),
    "gru": lambda **k: snn.GRU(I, H, **k),
    "gru_before": lambda **k: snn.GRU(I, H, reset="before", **k),
}


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("backend", ["bptt", "auto"])
@pytest.mark.parametrize("name", list(ALL_LAYERS))
def test_variable_lengths_equal_each_sequence_alone(name, backend):
    torch.manual_seed(0)
    layer = ALL_LAYERS[name](num_layers=2, bidirectional=True, batch_first=True, backend=backend)
    x = torch.randn(B, T, I)
    out, final = layer(x, lengths=LENGTHS)
    for b, n in enumerate(LENGTHS):
        alone_out, alone_final = layer(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone_out[0], atol=1e-5, rtol=0)
        assert torch.all(out[b, n:] == 0)
        for s, s_alone in zip(_as_tuple(final), _as_tuple(alone_final)):
            torch.testing.assert_close(s[:, b], s_alone[:, 0], atol=1e-5, rtol=0)


def _probe_rnn(**kw):
    """relu RNN that exposes its dropout masks: I = H, W_ih = I or 0, W_hh = I or 0, no bias."""
    layer = snn.RNN(H, H, nonlinearity="relu", bias=False, variational_dropout=0.5, **kw)
    return layer


def test_variational_dropout_input_mask_is_shared_over_time():
    torch.manual_seed(0)
    layer = _probe_rnn()
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.eye(H))
        layer.weight_hh_l0.zero_()
    out, _ = layer(torch.ones(T, 8, H))  # h_t = relu(m * 1 / keep) = the input mask
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(out, out[:1].expand_as(out))  # one mask for every t
    assert not torch.equal(out[0, 0], out[0, 1]) or not torch.equal(out[0, 1], out[0, 2])  # per sequence


def test_variational_dropout_recurrent_mask_is_shared_over_time():
    torch.manual_seed(0)
    layer = _probe_rnn()
    with torch.no_grad():
        layer.weight_ih_l0.zero_()
        layer.weight_hh_l0.copy_(torch.eye(H))
    out, _ = layer(torch.zeros(T, 8, H), torch.ones(1, 8, H))  # h_t = (m / keep)^t: zeros stay put
    mask = out[0] != 0
    for t in range(T):
        torch.testing.assert_close(out[t], mask * 2.0 ** (t + 1))


def test_variational_dropout_off_in_eval_mode():
    torch.manual_seed(0)
    layer = snn.LSTM(I, H, num_layers=2, variational_dropout=0.5)
    plain = snn.LSTM(I, H, num_layers=2, backend="bptt")
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(T, B, I)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], plain(x)[0])
    layer.train()
    assert not torch.allclose(layer(x)[0], plain(x)[0])


def test_truncated_bptt_carries_state_and_cuts_graph():
    torch.manual_seed(0)
    layer = snn.LSTM(I, H, backend="bptt")
    x = torch.randn(2 * T, B, I)
    full, _ = layer(x)
    first, state = layer(x[:T])
    state = snn.detach_state(state)
    assert all(not s.requires_grad for s in state)
    second, _ = layer(x[T:], state)
    torch.testing.assert_close(torch.cat([first, second]), full)
    second.sum().backward()  # reaches the weights, not the first window
    assert layer.weight_hh_l0.grad is not None


def test_clip_grad_norm_is_the_notes_formula():
    w = torch.nn.Parameter(torch.zeros(4))
    w.grad = torch.tensor([3.0, 4.0, 0.0, 0.0])  # ||g|| = 5
    norm = snn.clip_grad_norm_([w], 2.0)
    assert norm == 5.0
    torch.testing.assert_close(w.grad, torch.tensor([3.0, 4.0, 0, 0]) * min(1.0, 2.0 / 5.0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["rnn_tanh", "lstm", "gru", "peephole"])
def test_gradient_flow_probe_equals_restarted_suffix(name):
    """dL/dh_k (total) equals the gradient w.r.t. h_0 of the same layer run on x[k+1:] from h_k."""
    torch.manual_seed(0)
    layer = ALL_LAYERS[name](dtype=torch.float64, backend="bptt")
    x = torch.randn(T, B, I, dtype=torch.float64)
    norms = snn.gradient_flow(layer, x, lambda out: out[-1].pow(2).sum())
    assert norms.shape == (T,)
    for k in range(T - 1):
        _, state = layer(x[: k + 1])
        state = tuple(s.detach().requires_grad_() for s in _as_tuple(state))
        out, _ = layer(x[k + 1 :], state if len(state) > 1 else state[0])
        out[-1].pow(2).sum().backward()
        torch.testing.assert_close(norms[k], state[0].grad.norm(), atol=1e-10, rtol=0)
    torch.testing.assert_close(norms[-1], 2 * layer(x)[0][-1].norm())


def test_gradient_flow_vanishes_for_rnn_but_not_lstm():
    torch.manual_seed(0)
    x = torch.randn(60, 8, I)
    rnn, lstm = snn.RNN(I, H), snn.LSTM(I, H)
    with torch.no_grad():
        lstm.bias_ih_l0[H : 2 * H].fill_(3.0)  # forget gate open, the usual LSTM initialisation trick
    loss = lambda out: out[-1].sum()
    r, l = snn.gradient_flow(rnn, x, loss), snn.gradient_flow(lstm, x, loss)
    assert r[0] / r[-1] < 1e-6  # geometric decay through diag(f') W_hh^T
    assert l[0] / l[-1] > 1e-3


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: snn.LSTM(I, H)(torch.randn(2, 3, 4, I)), r"input must be 3-D .* got 4-D"),
        (lambda: snn.LSTM(I, H)(torch.randn(T, B, I + 1)), r"feature size 4, expected input_size=3"),
        (lambda: snn.GRU(I, H)(torch.randn(T, B, I), torch.zeros(2, B, H)), r"h_0 must have shape \(1, 4, 5\), got \(2, 4, 5\)"),
        (lambda: snn.LSTM(I, H)(torch.randn(T, B, I), torch.zeros(1, B, H)), r"hx must be a tuple \(h_0, c_0\)"),
        (lambda: snn.LSTM(I, H, variant="mystery"), r"variant must be one of .* got 'mystery'"),
        (lambda: snn.GRU(I, H, reset="sideways"), r"reset must be one of .* got 'sideways'"),
        (lambda: snn.RNN(I, H, nonlinearity="sigmoid"), r"nonlinearity must be one of .* got 'sigmoid'"),
        (lambda: snn.LSTM(I, H, backend="cuda"), r"backend must be one of .* got 'cuda'"),
        (lambda: snn.LSTM(I, H, variant="peephole", backend="native"), r"backend='native' is not available"),
        (lambda: snn.LSTM(I, H, variational_dropout=0.2, backend="native"), r"backend='native' is not available"),
        (lambda: snn.LSTM(I, H, proj_size=2), r"proj_size is not supported .*got proj_size=2"),
        (lambda: snn.LSTM(I, 0), r"hidden_size must be a positive int, got 0"),
        (lambda: snn.LSTM(I, H, dropout=1.5), r"dropout must be a number in \[0, 1\), got 1.5"),
        (lambda: snn.LSTM(I, H)(torch.randn(T, B, I), lengths=[T + 2, 1, 1, 1]), r"lengths must lie in \[1, 7\] .* max 9"),
        (lambda: snn.LSTM(I, H)(torch.randn(T, B, I), lengths=[0, 1, 1, 1]), r"lengths must lie in \[1, 7\] .* min 0"),
        (lambda: snn.LSTM(I, H)(torch.randn(T, B, I), lengths=[1, 1]), r"lengths must have shape \(4,\)"),
        (lambda: snn.LSTM(I, H)(torch.randn(T, B, I, dtype=torch.float64)), r"input dtype torch.float64"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_gradient_flow_refuses_stacks():
    with pytest.raises(ValueError, match="num_layers=2"):
        snn.gradient_flow(snn.LSTM(I, H, num_layers=2), torch.randn(T, B, I), lambda o: o.sum())


@pytest.mark.parametrize("name", ["lstm", "peephole", "gru_before"])
def test_inference_path_equals_training_path(name):
    torch.manual_seed(0)
    layer = ALL_LAYERS[name](num_layers=2, bidirectional=True, backend="bptt")
    x = torch.randn(T, B, I)
    with_grad, _ = layer(x, lengths=LENGTHS)
    with torch.no_grad():
        without, _ = layer(x, lengths=LENGTHS)
    assert with_grad.requires_grad and not without.requires_grad
    torch.testing.assert_close(without, with_grad.detach(), atol=0, rtol=0)
