"""seqlab serve without a browser: its one-line errors, and the gradient-flow probe its panels use."""
import pytest
import torch

import seqlab.nn as snn
from seqlab.cli import main


def test_serve_refuses_a_missing_run_in_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqlab: error:") and len(err.strip().splitlines()) == 1


def test_gradient_flow_probe_first_only_matches_a_one_layer_copy():
    """first_only=True on a 2-layer bidirectional LSTM = the probe of a one-layer LSTM holding layer 0's forward weights."""
    torch.manual_seed(0)
    deep = snn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    one = snn.LSTM(3, 5, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(one, name).copy_(getattr(deep, name))
    x = torch.randn(2, 7, 3)
    loss = lambda out: out[:, -1].pow(2).sum()
    want = snn.gradient_flow(one, x, loss)
    torch.testing.assert_close(snn.gradient_flow(deep, x, loss, first_only=True), want)
    with pytest.raises(ValueError, match="one-layer"):
        snn.gradient_flow(deep, x, loss)
