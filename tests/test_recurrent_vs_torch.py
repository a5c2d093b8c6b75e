"""seqlab.nn.RNN/LSTM/GRU on the hand-BPTT backend against torch.nn with copied weights.

Every configuration torch supports: cell (RNN tanh/relu, LSTM, GRU), 1-3 layers,
uni/bidirectional, batch_first both ways, dense / packed / padded-with-lengths input,
float64 and float32.  Outputs, final states and every input and parameter gradient
must agree.
"""
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import seqlab.nn as snn

T, B, I, H = 6, 4, 5, 3
LENGTHS = torch.tensor([6, 2, 5, 1])
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
KINDS = {
    "rnn_tanh": (nn.RNN, snn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, snn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, snn.LSTM, {}),
    "gru": (nn.GRU, snn.GRU, {}),
}


def make_pair(kind, num_layers, bidirectional, batch_first, dtype, bias=True):
    torch_cls, ours_cls, extra = KINDS[kind]
    args = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias, **extra)
    torch.manual_seed(0)
    ref = torch_cls(I, H, **args).to(dtype)
    ours = ours_cls(I, H, backend="bptt", **args).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def make_inputs(kind, num_layers, bidirectional, batch_first, dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, I) if batch_first else (T, B, I), generator=g, dtype=dtype, requires_grad=True)
    shape = (num_layers * (2 if bidirectional else 1), B, H)
    hx = tuple(torch.randn(shape, generator=g, dtype=dtype, requires_grad=True) for _ in range(2 if kind == "lstm" else 1))
    return x, hx


def run(module, x, hx, mode, batch_first, kind):
    """Forward, then a loss touching every output; returns (output, finals) as padded tensors."""
    state = hx if kind == "lstm" else hx[0]
    if mode == "dense":
        out, final = module(x, state)
    elif mode == "packed":
        packed = pack_padded_sequence(x, LENGTHS, batch_first=batch_first, enforce_sorted=False)
        out, final = module(packed, state)
        assert isinstance(out, PackedSequence)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    elif isinstance(module, snn.LSTM | snn.GRU | snn.RNN):  # padded with lengths=
        out, final = module(x, state, lengths=LENGTHS)
    else:  # torch's way to do the same: pack, run, pad
        packed = pack_padded_sequence(x, LENGTHS, batch_first=batch_first, enforce_sorted=False)
        out, final = module(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    finals = final if kind == "lstm" else (final,)
    g = torch.Generator().manual_seed(2)
    loss = (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum()
    loss = loss + sum((f * torch.randn(f.shape, generator=g, dtype=f.dtype)).sum() for f in finals)
    loss.backward()
    return out, finals


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode", ["dense", "packed", "padded"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["tmajor", "bfirst"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_torch(kind, num_layers, bidirectional, batch_first, mode, dtype):
    ref, ours = make_pair(kind, num_layers, bidirectional, batch_first, dtype)
    x_ref, hx_ref = make_inputs(kind, num_layers, bidirectional, batch_first, dtype)
    x, hx = make_inputs(kind, num_layers, bidirectional, batch_first, dtype)
    out_ref, fin_ref = run(ref, x_ref, hx_ref, mode, batch_first, kind)
    out, fin = run(ours, x, hx, mode, batch_first, kind)
    tol = {"atol": TOL[dtype], "rtol": 0}
    torch.testing.assert_close(out, out_ref, **tol)
    for a, b in zip(fin, fin_ref):
        torch.testing.assert_close(a, b, **tol)
    torch.testing.assert_close(x.grad, x_ref.grad, **tol)
    for a, b in zip(hx, hx_ref):
        torch.testing.assert_close(a.grad, b.grad, **tol)
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, ref_params[name].grad, **tol, msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_bias_and_default_state(kind):
    ref, ours = make_pair(kind, 2, True, False, torch.float64, bias=False)
    assert set(dict(ours.named_parameters())) == set(dict(ref.named_parameters()))
    x = torch.randn(T, B, I, dtype=torch.float64)
    out_ref, fin_ref = ref(x)
    out, fin = ours(x)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=0)
    for a, b in zip(fin if kind == "lstm" else (fin,), fin_ref if kind == "lstm" else (fin_ref,)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input(kind):
    ref, ours = make_pair(kind, 2, True, False, torch.float64)
    x = torch.randn(T, I, dtype=torch.float64)
    out_ref, fin_ref = ref(x)
    out, fin = ours(x)
    assert out.shape == out_ref.shape == (T, 2 * H)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(fin[0] if kind == "lstm" else fin, fin_ref[0] if kind == "lstm" else fin_ref)


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_and_parameter_order_match_torch(kind):
    ref, ours = make_pair(kind, 3, True, False, torch.float32)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for (n, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        assert p.shape == q.shape, n
    torch_back = KINDS[kind][0](I, H, num_layers=3, bidirectional=True, **KINDS[kind][2])
    torch_back.load_state_dict(ours.state_dict())  # and back again


@pytest.mark.parametrize("kind", list(KINDS))
def test_auto_backend_is_native_and_agrees(kind):
    ref, ours = make_pair(kind, 2, True, True, torch.float64)
    auto = KINDS[kind][1](I, H, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64,
                          **KINDS[kind][2])
    auto.load_state_dict(ref.state_dict())
    assert auto.uses_native() and not ours.uses_native()
    x = torch.randn(B, T, I, dtype=torch.float64)
    torch.testing.assert_close(auto(x, lengths=LENGTHS)[0], ours(x, lengths=LENGTHS)[0], atol=1e-10, rtol=0)
