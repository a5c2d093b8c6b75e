"""seqlab.nn: recurrent layers with hand-derived BPTT, drop-in for torch.nn.RNN/LSTM/GRU."""
from seqlab.nn.cell import Cell
from seqlab.nn.elman import ElmanCell
from seqlab.nn.gru import GRUCell, GRUResetBeforeCell
from seqlab.nn.init import add_gate_bias, chrono_gates, chrono_init, gate_rows, identity_init
from seqlab.nn.lstm import CoupledLSTMCell, LSTMCell, NoForgetLSTMCell, PeepholeLSTMCell
from seqlab.nn.minrnn import MinGRU, MinLSTM
from seqlab.nn.probe import gradient_flow
from seqlab.nn.recurrent import GRU, LSTM, RNN
from seqlab.nn.scan import autograd_scan, scan
from seqlab.nn.tbptt import clip_grad_norm_, detach_state

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Cell",
    "CoupledLSTMCell",
    "ElmanCell",
    "GRUCell",
    "GRUResetBeforeCell",
    "LSTMCell",
    "MinGRU",
    "MinLSTM",
    "NoForgetLSTMCell",
    "PeepholeLSTMCell",
    "add_gate_bias",
    "autograd_scan",
    "chrono_gates",
    "chrono_init",
    "clip_grad_norm_",
    "detach_state",
    "gate_rows",
    "gradient_flow",
    "identity_init",
    "scan",
]
