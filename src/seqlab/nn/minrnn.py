"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates that read only x_t, so the whole
sequence is one linear recurrence h_t = a_t ⊙ h_{t-1} + b_t, computed in parallel by a scan.

minGRU (the paper's log-space variant, with g keeping the candidate positive)::

    z_t = σ(W_z x_t + b_z),   h̃_t = g(W_h x_t + b_h),   h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t
    g(v) = v + ½ if v ≥ 0 else σ(v)

minLSTM (forget and input gates normalised to sum to one)::

    f_t = σ(W_f x_t + b_f),  i_t = σ(W_i x_t + b_i),  f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
    h̃_t = g(W_h x_t + b_h),  h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ h̃_t

Three ways to run them give the same outputs (tested):

* ``parallel`` (the default): the chunked two-level scan of :mod:`seqlab.nn.linear_scan` with its
  hand-written backward -- about 2√T dependent steps over large tensors, in real space;
* ``log``: the recurrence over all T at once in log space (Heinsen 2023, "Efficient
  parallelization of a ubiquitous sequential computation"), as in the paper:
  log h_t = a*_t + logcumsumexp_{k≤t}(log b_k − a*_k), a*_t = Σ_{k≤t} log a_k -- two cumulative sums,
  left to autograd (on a 2-core CPU the layer runs 3.0-4.7x slower in this mode: benchmarks/long_range.py);
* ``sequential``: one step at a time with a carried state, for generation and streaming.

States are always positive (g > 0, convex combinations), so the log is defined; in ``log``
mode a given initial state must be positive too.  The layers follow the ``seqlab.nn`` conventions:
``(out, h_n)`` with ``h_n`` of shape (layers · directions, B, H), ``batch_first``, ``lengths``
for right-padded batches (outputs past each end are zero; the backward direction starts at
each sequence's own end), dropout between layers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.nn.linear_scan import linear_scan
from seqlab.nn.recurrent import _reverse as reverse_within_lengths

MODES = ("parallel", "log", "sequential")


def g(v: Tensor) -> Tensor:
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: Tensor) -> Tensor:
    return torch.where(v >= 0, (F.relu(v) + 0.5).log(), -F.softplus(-v))


def log_scan(log_a: Tensor, log_b: Tensor, log_h0: Tensor | None) -> Tensor:
    """h_t = a_t h_{t-1} + b_t for t = 1..T, all at once: log_a, log_b (B, T, H), log_h0 (B, H) or None (h_0 = 0)."""
    a_star = log_a.cumsum(1)  # (B, T, H): log Π_{k≤t} a_k
    terms = log_b - a_star
    if log_h0 is not None:
        terms = torch.cat([log_h0[:, None], terms], 1)  # (B, 1 + T, H)
        return (a_star + terms.logcumsumexp(1)[:, 1:]).exp()
    return (a_star + terms.logcumsumexp(1)).exp()


class _MinCell(nn.Module):
    def step(self, x_t: Tensor, h_prev: Tensor) -> Tensor:
        """One step with a carried state: h_t = a_t ⊙ h_{t−1} + b_t from the cell's ``gates``."""
        a, b = self.gates(x_t)
        return a * h_prev + b


class MinGRUCell(_MinCell):
    """One direction of one minGRU layer: the gate and candidate projections (weight: (2H, I), rows z then h)."""

    gate_names = ("z", "h")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_size, 2 * hidden_size)

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """log a_t = log(1 − z_t), log b_t = log z_t + log h̃_t, each (B, T, H)."""
        k, v = self.proj(x).chunk(2, -1)
        return -F.softplus(k), -F.softplus(-k) + log_g(v)

    def gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """a_t = 1 − z_t, b_t = z_t ⊙ h̃_t (any leading shape)."""
        k, v = self.proj(x).chunk(2, -1)
        return torch.sigmoid(-k), torch.sigmoid(k) * g(v)


class MinLSTMCell(_MinCell):
    """One direction of one minLSTM layer (weight: (3H, I), rows f, i, h)."""

    gate_names = ("f", "i", "h")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_size, 3 * hidden_size)

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """log f'_t = −softplus(d), log i'_t = −softplus(−d), d = log i_t − log f_t; log b_t = log i'_t + log h̃_t."""
        kf, ki, v = self.proj(x).chunk(3, -1)
        d = F.softplus(-kf) - F.softplus(-ki)
        return -F.softplus(d), -F.softplus(-d) + log_g(v)

    def gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """a_t = f'_t = σ(−d), b_t = i'_t ⊙ h̃_t = σ(d) ⊙ h̃_t with d = log i_t − log f_t."""
        kf, ki, v = self.proj(x).chunk(3, -1)
        d = F.softplus(-kf) - F.softplus(-ki)
        return torch.sigmoid(-d), torch.sigmoid(d) * g(v)


def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T, F): each sequence reversed within its length (the layers' own helper works time-major)."""
    return reverse_within_lengths(x.transpose(0, 1), lengths).transpose(0, 1)


class _MinRNN(nn.Module):
    cell_class: type = MinGRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = False,
                 bidirectional: bool = False, dropout: float = 0.0, mode: str = "parallel") -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"input_size, hidden_size and num_layers must be positive, got {input_size}, "
                             f"{hidden_size}, {num_layers}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.hidden_size, self.num_layers, self.batch_first, self.mode = hidden_size, num_layers, batch_first, mode
        self.directions = 2 if bidirectional else 1
        self.cells = nn.ModuleList(
            self.cell_class(input_size if layer == 0 else hidden_size * self.directions, hidden_size)
            for layer in range(num_layers) for _ in range(self.directions))
        self.drop = nn.Dropout(dropout)

    has_native_kernel = False  # torch has no minGRU/minLSTM kernel (and ONNX no operator)

    @property
    def gate_names(self) -> tuple[str, ...]:
        """The cell's projection blocks, in the order of their rows."""
        return self.cell_class.gate_names

    def biases(self) -> list[tuple[Tensor, None]]:
        """(b, None) of every layer-direction: one bias per projection, no recurrent one."""
        return [(cell.proj.bias, None) for cell in self.cells]

    def recurrent_weights(self) -> list[Tensor]:
        return []  # no recurrent matrix: the gates read x_t alone

    def _run(self, cell, x: Tensor, h0: Tensor | None) -> Tensor:
        """One direction over x (B, T, I) -> states (B, T, H)."""
        if self.mode == "parallel":
            a, b = cell.gates(x.transpose(0, 1))  # (T, B, H): the scan runs time-major
            return linear_scan(a, b, h0).transpose(0, 1)
        if self.mode == "log":
            log_a, log_b = cell.coefficients(x)
            return log_scan(log_a, log_b, h0.log() if h0 is not None else None)
        h = h0 if h0 is not None else x.new_zeros(x.shape[0], self.hidden_size)
        out = []
        for t in range(x.shape[1]):
            h = cell.step(x[:, t], h)
            out.append(h)
        return torch.stack(out, 1)

    def forward(self, input: Tensor, hx: Tensor | None = None, *, lengths: Tensor | None = None):
        """input (T, B, I) or (B, T, I) with batch_first; hx (layers·directions, B, H) (positive in log mode) -> (out, h_n)."""
        x = input.transpose(0, 1) if not self.batch_first else input  # (B, T, I)
        B, T = x.shape[:2]
        mask = None
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device)
            mask = (torch.arange(T, device=x.device)[None] < lengths[:, None])[..., None]  # (B, T, 1)
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                k = layer * self.directions + d
                seq = x if d == 0 else _reverse(x, lengths)
                h = self._run(self.cells[k], seq, hx[k] if hx is not None else None)  # (B, T, H)
                if d == 1:
                    h = _reverse(h, lengths)
                outs.append(h)
                last = (lengths - 1 if lengths is not None else torch.full((B,), T - 1, device=x.device))
                finals.append(h[torch.arange(B), last] if d == 0 else h[:, 0])
            x = torch.cat(outs, -1)  # (B, T, D·H)
            if mask is not None:
                x = x * mask
            if layer + 1 < self.num_layers:
                x = self.drop(x)
        out = x if self.batch_first else x.transpose(0, 1)
        return out, torch.stack(finals)


class MinGRU(_MinRNN):
    """A stack of minGRU layers (see the module docstring); ``mode`` = parallel | log | sequential."""

    cell_class = MinGRUCell


class MinLSTM(_MinRNN):
    """A stack of minLSTM layers (see the module docstring); ``mode`` = parallel | log | sequential."""

    cell_class = MinLSTMCell
