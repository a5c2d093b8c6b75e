"""The cells torch lacks: gradcheck through the hand-BPTT driver, and forward/backward
against plain-autograd loops written directly from the notes' equations."""
import pytest
import torch

import seqlab.nn as snn

T, B, I, H = 5, 3, 4, 3
DT = torch.float64
sig, tanh = torch.sigmoid, torch.tanh


def _lstm_peephole(x, h, c, p):
    for x_t in x:
        a_i, a_f, a_g, a_o = (x_t @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h @ p["weight_hh_l0"].T + p["bias_hh_l0"]).chunk(4, 1)
        i = sig(a_i + p["weight_ci_l0"] * c)
        f = sig(a_f + p["weight_cf_l0"] * c)
        c = f * c + i * tanh(a_g)
        o = sig(a_o + p["weight_co_l0"] * c)
        h = o * tanh(c)
        yield h, c


def _lstm_coupled(x, h, c, p):
    for x_t in x:
        a_i, a_g, a_o = (x_t @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h @ p["weight_hh_l0"].T + p["bias_hh_l0"]).chunk(3, 1)
        i = sig(a_i)
        c = (1 - i) * c + i * tanh(a_g)
        h = sig(a_o) * tanh(c)
        yield h, c


def _lstm_no_forget(x, h, c, p):
    for x_t in x:
        a_i, a_g, a_o = (x_t @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h @ p["weight_hh_l0"].T + p["bias_hh_l0"]).chunk(3, 1)
        c = c + sig(a_i) * tanh(a_g)
        h = sig(a_o) * tanh(c)
        yield h, c


def _gru_before(x, h, c, p):
    w_r, w_z, w_n = p["weight_ih_l0"].chunk(3, 0)
    u_r, u_z, u_n = p["weight_hh_l0"].chunk(3, 0)
    b = (p["bias_ih_l0"] + p["bias_hh_l0"]).chunk(3)
    for x_t in x:
        r = sig(x_t @ w_r.T + h @ u_r.T + b[0])
        z = sig(x_t @ w_z.T + h @ u_z.T + b[1])
        h_tilde = tanh(x_t @ w_n.T + (r * h) @ u_n.T + b[2])  # the notes: tanh(W x + U (r * h) + b)
        h = z * h + (1 - z) * h_tilde
        yield h, None


VARIANTS = {
    "peephole": (lambda **k: snn.LSTM(I, H, variant="peephole", **k), _lstm_peephole),
    "coupled": (lambda **k: snn.LSTM(I, H, variant="coupled", **k), _lstm_coupled),
    "no_forget": (lambda **k: snn.LSTM(I, H, variant="no_forget", **k), _lstm_no_forget),
    "gru_before": (lambda **k: snn.GRU(I, H, reset="before", **k), _gru_before),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_forward_and_grads_equal_equation_loop(name):
    make, equations = VARIANTS[name]
    torch.manual_seed(0)
    layer = make(dtype=DT)
    assert not layer.uses_native()
    x = torch.randn(T, B, I, dtype=DT, requires_grad=True)
    h0, c0 = torch.randn(B, H, dtype=DT), torch.randn(B, H, dtype=DT)
    lstm = isinstance(layer, snn.LSTM)
    out, final = layer(x, (h0[None], c0[None]) if lstm else h0[None])
    params = dict(layer.named_parameters())
    steps = list(equations(x, h0, c0 if lstm else None, params))
    ref_out = torch.stack([h for h, _ in steps])
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(final[1][0] if lstm else final[0], steps[-1][1] if lstm else steps[-1][0])
    w = torch.randn_like(out)
    ours = torch.autograd.grad((out * w).sum(), [x, *params.values()])
    ref = torch.autograd.grad((ref_out * w).sum(), [x, *params.values()])
    for a, b, n in zip(ours, ref, ["x", *params]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0, msg=n)


def _gradcheck_layer(layer, lengths=None, seed=None):
    x = torch.randn(T, B, layer.input_size, dtype=DT, requires_grad=True)
    states = tuple(
        torch.randn(layer.num_layers * layer.num_directions, B, H, dtype=DT, requires_grad=True)
        for _ in range(layer.cell.num_states)
    )
    params = list(layer.parameters())

    def f(x, *args):
        if seed is not None:
            torch.manual_seed(seed)  # the same dropout masks on every call
        hx = args[: len(states)]
        out, final = torch.func.functional_call(
            layer, dict(zip([n for n, _ in layer.named_parameters()], args[len(states):])),
            (x, hx if len(hx) > 1 else hx[0]), {"lengths": lengths},
        )
        return (out,) + (tuple(final) if isinstance(final, tuple) else (final,))

    assert torch.autograd.gradcheck(f, (x, *states, *params))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_gradcheck_variant_two_layer_bidirectional_with_lengths(name):
    torch.manual_seed(0)
    layer = VARIANTS[name][0](num_layers=2, bidirectional=True, dtype=DT)
    _gradcheck_layer(layer, lengths=torch.tensor([5, 2, 4]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: snn.LSTM(I, H, num_layers=2, variational_dropout=0.3, dtype=DT),
        lambda: snn.GRU(I, H, reset="before", variational_dropout=0.3, bidirectional=True, dtype=DT),
        lambda: snn.RNN(I, H, variational_dropout=0.3, dtype=DT),
    ],
)
def test_gradcheck_with_variational_dropout(make):
    torch.manual_seed(0)
    layer = make().train()
    _gradcheck_layer(layer, seed=3)


def test_gradcheck_bias_free_peephole():
    torch.manual_seed(0)
    _gradcheck_layer(snn.LSTM(I, H, bias=False, variant="peephole", dtype=DT))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_state_dict_round_trip(name):
    a, b = VARIANTS[name][0](num_layers=2), VARIANTS[name][0](num_layers=2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(T, B, I)
    torch.testing.assert_close(a(x)[0], b(x)[0])
    if name == "peephole":
        assert a.weight_ci_l1.shape == (H,)
    if name in ("coupled", "no_forget"):
        assert a.weight_ih_l0.shape == (3 * H, I)
