"""seqlab.nn.init: gates addressed by name, against the row layout torch.nn uses and the papers' formulas."""
import pytest
import torch

import seqlab.nn as snn
from seqlab.nn.crf import FORBIDDEN, LinearChainCRF


def test_gate_names_follow_torch_row_order():
    assert snn.LSTM(3, 4).gate_names == ("i", "f", "g", "o") and snn.GRU(3, 4).gate_names == ("r", "z", "n")
    assert snn.LSTM(3, 4, variant="coupled").gate_names == ("i", "g", "o") and snn.RNN(3, 4).gate_names == ("h",)
    assert snn.MinGRU(3, 4).gate_names == ("z", "h") and snn.MinLSTM(3, 4).gate_names == ("f", "i", "h")
    for layer in (snn.LSTM(3, 4), snn.GRU(3, 4), snn.RNN(3, 4)):
        assert layer.cell.num_gates == len(layer.gate_names)


def test_add_gate_bias_is_torch_forget_block_plus_one():
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    layer = snn.LSTM(3, 5, num_layers=2, bidirectional=True)
    layer.load_state_dict(ref.state_dict())
    snn.add_gate_bias(layer, "f", 1.0)
    for name, p in ref.named_parameters():
        expected = p.detach().clone()
        if name.startswith("bias_ih"):
            expected[5:10] += 1.0  # torch.nn.LSTM: (i, f, g, o), f is rows H..2H
        assert torch.equal(getattr(layer, name), expected), name
    with pytest.raises(ValueError, match=r"gate must be one of \['r', 'z', 'n'\] for GRU, got 'f'"):
        snn.add_gate_bias(snn.GRU(3, 5), "f", 1.0)


def test_identity_init_is_the_irnn():
    layer = snn.RNN(3, 6, num_layers=2, nonlinearity="relu")
    snn.identity_init(layer)
    for k in range(2):
        w_ih, w_hh, b_ih, b_hh = layer.all_weights[k]
        assert torch.equal(w_hh, torch.eye(6)) and not b_ih.any() and not b_hh.any() and w_ih.any()
    with pytest.raises(ValueError, match="Elman layers"):
        snn.identity_init(snn.LSTM(3, 6))


@pytest.mark.parametrize("layer, retain, write", [(snn.LSTM(3, 50), "f", "i"), (snn.MinLSTM(3, 50), "f", "i"),
                                                  (snn.MinGRU(3, 50), None, "z")])
def test_chrono_init_by_the_formula(layer, retain, write):
    torch.manual_seed(0)
    snn.chrono_init(layer, max_delay=40)
    for b, b_hh in layer.biases():
        rows = {g: b[snn.gate_rows(layer, g)] for g in layer.gate_names}
        log_tau = -rows[write]  # b_write = -log tau, tau ~ U(1, T - 1)
        assert (log_tau >= 0).all() and (log_tau <= torch.log(torch.tensor(39.0))).all() and log_tau.std() > 0.3
        if retain:
            assert torch.equal(rows[retain], log_tau)
        assert all(not rows[g].any() for g in layer.gate_names if g not in (retain, write))
        assert b_hh is None or not b_hh.any()
    with pytest.raises(ValueError, match="chrono_init needs"):
        snn.chrono_init(snn.GRU(3, 4), 40)


def test_has_native_kernel():
    assert snn.LSTM(3, 4).has_native_kernel and snn.GRU(3, 4).has_native_kernel and snn.RNN(3, 4).has_native_kernel
    assert not snn.LSTM(3, 4, variant="peephole").has_native_kernel and not snn.MinGRU(3, 4).has_native_kernel


def test_crf_transition_scores_set_the_forbidden_moves():
    allowed = torch.tensor([[True, False], [True, True]])
    crf = LinearChainCRF(2, allowed, torch.tensor([True, False]), None)
    a, start, end = crf.transition_scores()
    assert a[0, 1] == FORBIDDEN and a[1, 0] == crf.transitions[1, 0] and start[1] == FORBIDDEN
    assert torch.equal(end, crf.end_transitions) and crf.transition_scores(float("-inf"))[0][0, 1] == float("-inf")
