"""Drop-in replacements for ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

The layers take torch's constructor arguments, forward signature, shapes and
parameter names, so ``load_state_dict(torch_module.state_dict())`` just works for
every configuration torch supports.  They add:

* ``variant=`` (LSTM: standard, peephole, coupled, no_forget) and ``reset=`` (GRU:
  after, before) -- the cells of the notes that torch lacks;
* ``variational_dropout=p`` -- one Bernoulli mask per sequence, shared by every time
  step, on each layer's input and on the recurrent h (Gal & Ghahramani 2016; the
  notes' "变分Dropout"); off in eval mode;
* ``backend=`` -- ``"bptt"`` runs the hand-derived BPTT driver (:mod:`seqlab.nn.scan`),
  ``"native"`` torch's own kernel, ``"auto"`` the native one whenever the
  configuration is one torch supports and no extra is used;
* ``lengths=`` in ``forward`` for padded batches of variable length, besides
  ``PackedSequence``;
* ``checkpoint=k`` -- keep for the backward only the state every k steps and recompute each
  stretch of k steps during the backward (``torch.utils.checkpoint``): the memory the driver
  keeps goes from ~T to ~T/k + k steps' worth, for one more forward pass in time.

Inputs: ``input`` (L, N, H_in), or (N, L, H_in) with ``batch_first``, or (L, H_in)
unbatched, or a PackedSequence; ``hx`` (D*num_layers, N, H) -- for LSTMs a tuple
``(h_0, c_0)``.  Outputs: ``output`` (L, N, D*H) (zero past each sequence's end)
and the final state in the form of ``hx``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqlab.nn.cell import Cell, State
from seqlab.nn.elman import ElmanCell
from seqlab.nn.gru import GRUCell, GRUResetBeforeCell
from seqlab.nn.lstm import CoupledLSTMCell, LSTMCell, NoForgetLSTMCell, PeepholeLSTMCell
from seqlab.nn.scan import scan

LSTM_VARIANTS = {
    "standard": LSTMCell,
    "peephole": PeepholeLSTMCell,
    "coupled": CoupledLSTMCell,
    "no_forget": NoForgetLSTMCell,
}
GRU_RESETS = {"after": GRUCell, "before": GRUResetBeforeCell}
BACKENDS = ("auto", "bptt", "native")


@dataclass
class _Batch:
    """An input brought to one form: x (T, B, I) time-major, in the caller's batch order."""

    x: Tensor
    lengths: Tensor | None  # (B,) int64 on x's device, or None when all are full length
    packed: PackedSequence | None  # the caller's PackedSequence, to re-pack the output
    unbatched: bool


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def _reverse_index(lengths: Tensor, steps: int) -> Tensor:
    """(T, B) index that reverses each sequence within its length and leaves the padding."""
    t = torch.arange(steps, device=lengths.device)[:, None]  # (T, 1)
    return torch.where(t < lengths, lengths - 1 - t, t)


def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
    if lengths is None:
        return x.flip(0)
    index = _reverse_index(lengths, x.shape[0])[..., None].expand_as(x)  # (T, B, F)
    return x.gather(0, index)


class RecurrentLayer(nn.Module):
    """Stacked, optionally bidirectional recurrence of one cell type; see the module docstring."""

    def __init__(
        self,
        cell: Cell,
        native_fn,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        variational_dropout: float = 0.0,
        backend: str = "auto",
        checkpoint: int = 0,
    ) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size, num_layers, proj_size)
        for name, p in (("dropout", dropout), ("variational_dropout", variational_dropout)):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")
        _choice("backend", backend, BACKENDS)
        if isinstance(checkpoint, bool) or not isinstance(checkpoint, int) or checkpoint < 0:
            raise ValueError(f"checkpoint must be an int >= 0 (0: off; k: keep every k-th state), got {checkpoint!r}")
        if backend == "native" and (native_fn is None or variational_dropout or checkpoint):
            raise ValueError(
                f"backend='native' is not available for {cell!r} with variational_dropout={variational_dropout}, "
                f"checkpoint={checkpoint}; use backend='bptt' or 'auto'"
            )
        self.cell, self._native_fn = cell, native_fn
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout, self.variational_dropout, self.backend = float(dropout), float(variational_dropout), backend
        self.checkpoint = checkpoint
        self.proj_size = 0
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(self.num_directions):
                self._add_weights(layer, direction, {"device": device, "dtype": dtype})
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def has_native_kernel(self) -> bool:
        """Whether torch has a kernel for this cell (so ``backend="native"`` and ONNX export can be used)."""
        return self._native_fn is not None

    @property
    def gate_names(self) -> tuple[str, ...]:
        """The cell's gate blocks, in the order of their rows in the weights and biases."""
        return self.cell.gate_names

    def biases(self) -> list[tuple[Tensor, Tensor]]:
        """(b_ih, b_hh) of every layer-direction k = layer * D + direction (empty when bias=False)."""
        return [(p[2], p[3]) for p in self.all_weights] if self.bias else []

    def recurrent_weights(self) -> list[Tensor]:
        """W_hh of every layer-direction."""
        return [p[1] for p in self.all_weights]

    def _add_weights(self, layer: int, direction: int, factory: dict) -> None:
        gates = self.cell.num_gates * self.hidden_size
        layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
        shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, self.hidden_size)}
        if self.bias:
            shapes.update(bias_ih=(gates,), bias_hh=(gates,))
        shapes.update(self.cell.extra_params(self.hidden_size))
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name, shape in shapes.items():
            setattr(self, name + suffix, nn.Parameter(torch.empty(shape, **factory)))
        self._all_weights.append([name + suffix for name in shapes])

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch.nn.RNNBase."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def cell_weights(self, k: int) -> tuple[Tensor, Tensor, State]:
        """(w_ih, b_ih, (w_hh, b_hh, *extra)) of layer-direction k (k = layer * D + direction), the
        arguments of ``scan``/``autograd_scan`` -- for stepping ``self.cell`` by hand, as an attention
        decoder does.  Zero biases when bias=False."""
        p = self.all_weights[k]
        if self.bias:
            return p[0], p[2], (p[1], p[3], *p[4:])
        zeros = p[0].new_zeros(p[0].shape[0])
        return p[0], zeros, (p[1], zeros, *p[2:])

    def uses_native(self, padded: bool = False, device: str = "cpu") -> bool:
        """Whether forward runs torch's kernel (the resolved ``backend``) for an input with lengths (``padded``:
        packed, or padded with ``lengths=``) or without, on ``device``."""
        if self.backend != "auto":
            return self.backend == "native"
        if self._native_fn is None or self.variational_dropout or self.checkpoint:
            return False
        # torch's CPU kernels for packed GRU and Elman sequences are far slower than the hand-BPTT driver
        # (fwd+bwd at T=400, B=64, H=128 on a 2-core CPU: GRU 4,650 vs 209 ms, tanh RNN 412 vs 77 ms);
        # its packed LSTM is not (169 vs 223 ms)
        return not (padded and device == "cpu" and not isinstance(self.cell, LSTMCell))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, cell={self.cell!r}"
        for name in ("bias", "batch_first", "dropout", "bidirectional", "variational_dropout", "backend", "checkpoint"):
            s += f", {name}={getattr(self, name)!r}"
        return s

    # ----------------------------------------------------------------- forward
    def forward(self, input, hx=None, *, lengths=None):
        batch = self._read_input(input, lengths)
        state = self._read_state(hx, batch)
        if self.uses_native(batch.lengths is not None, batch.x.device.type):
            out, final = self._native_any_cpu(batch.x, state, batch.lengths)  # (T, B, D*H), tuple of (L*D, B, H)
        elif _autocast(batch.x):
            # Mixed precision: the hand-BPTT driver runs in the parameters' dtype (float32) inside autocast
            # regions -- its hand-written backward is not autocast-aware; the layers around it still gain.
            out, final = self._in_float32(self._forward_bptt, batch.x, state, batch.lengths)
        else:
            out, final = self._forward_bptt(batch.x, state, batch.lengths)
        return self._write_output(out, batch), self._write_state(final, batch.unbatched)

    def time_major(self, input, hx=None) -> tuple[Tensor, State]:
        """``input`` (batched, as forward takes it) as (T, B, I), and the initial state as forward reads ``hx``:
        each part (layers x directions, B, H).  For probes that run the cell themselves (seqlab.nn.probe)."""
        batch = self._read_input(input, None)
        return batch.x, self._read_state(hx, batch)

    def _read_input(self, input, lengths) -> _Batch:
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("lengths must be None for a PackedSequence input (it carries its own)")
            x, lens = pad_packed_sequence(input)  # (T, B, I), caller's order
            self._check_features(x)
            return _Batch(x, lens.to(x.device), input, False)
        if not isinstance(input, Tensor):
            # ValueError, not TypeError: the layers document one exception type for every bad argument
            raise ValueError(f"input must be a Tensor or PackedSequence, got {type(input).__name__}")  # noqa: TRY004
        if input.dim() not in (2, 3):
            raise ValueError(
                f"input must be 3-D (L, N, H_in) or 2-D (L, H_in), got {input.dim()}-D with shape {tuple(input.shape)}"
            )
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        self._check_features(x)
        return _Batch(x, self._read_lengths(lengths, x), None, unbatched)

    def _check_features(self, x: Tensor) -> None:
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input has feature size {x.shape[-1]}, expected input_size={self.input_size}")
        weight = self.weight_ih_l0
        if x.dtype != weight.dtype and not _autocast(x):
            raise ValueError(f"input dtype {x.dtype} does not match the parameters' dtype {weight.dtype}")

    @staticmethod
    def _read_lengths(lengths, x: Tensor) -> Tensor | None:
        if lengths is None:
            return None
        lens = torch.as_tensor(lengths).to(device=x.device, dtype=torch.int64)
        steps, batch = x.shape[:2]
        if lens.shape != (batch,):
            raise ValueError(f"lengths must have shape ({batch},), one per sequence, got {tuple(lens.shape)}")
        if lens.numel() and (lens.max() > steps or lens.min() < 1):
            raise ValueError(
                f"lengths must lie in [1, {steps}] (the sequence length), got min {int(lens.min())}, max {int(lens.max())}"
            )
        return lens

    def _read_state(self, hx, batch: _Batch) -> State:
        shape = (self.num_layers * self.num_directions, batch.x.shape[1], self.hidden_size)
        if hx is None:
            zeros = batch.x.new_zeros(shape)
            return (zeros,) * self.cell.num_states
        parts = tuple(hx) if self.cell.num_states > 1 else (hx,)
        if len(parts) != self.cell.num_states or not all(isinstance(p, Tensor) for p in parts):
            raise ValueError(f"hx must be {self._state_form()}, got {type(hx).__name__} of {len(parts)}")
        if batch.unbatched:
            parts = tuple(p.unsqueeze(1) if p.dim() == 2 else p for p in parts)
        for name, p in zip(("h_0", "c_0"), parts):
            if tuple(p.shape) != shape:
                want = shape if not batch.unbatched else (shape[0], shape[2])
                raise ValueError(f"hx: {name} must have shape {want}, got {tuple(p.shape)}")
        return parts

    def _state_form(self) -> str:
        return "a tuple (h_0, c_0)" if self.cell.num_states == 2 else "a Tensor h_0"

    def _write_output(self, out: Tensor, batch: _Batch):
        if batch.packed is not None:
            return _repack(out, batch.lengths, batch.packed)
        if batch.unbatched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out

    def _write_state(self, final: State, unbatched: bool):
        if unbatched:
            final = tuple(s.squeeze(1) for s in final)
        return final if self.cell.num_states > 1 else final[0]

    # ------------------------------------------------------------------ bptt
    def _forward_bptt(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        steps = x.shape[0]
        mask = None if lengths is None else (torch.arange(steps, device=x.device)[:, None] < lengths)[..., None]
        finals: list[State] = []
        layer_input = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout and self.training:
                layer_input = F.dropout(layer_input, self.dropout, True)
            outs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                out, final = self._run_direction(k, layer_input, tuple(s[k] for s in state), lengths, mask)
                outs.append(out)
                finals.append(final)
            layer_input = torch.cat(outs, 2) if len(outs) > 1 else outs[0]  # (T, B, D*H)
        return layer_input, tuple(torch.stack(f) for f in zip(*finals))

    def _run_direction(self, k: int, x: Tensor, state: State, lengths, mask) -> tuple[Tensor, State]:
        reverse = k % self.num_directions == 1
        if reverse:
            x = _reverse(x, lengths)
        u_mask = None
        if self.variational_dropout and self.training:
            x = x * self._dropout_mask(x[0])  # one mask (B, I) for all T steps
            u_mask = self._dropout_mask(state[0])  # (B, H)
        w_ih, b_ih, w = self.cell_weights(k)
        if self.checkpoint and self.training and torch.is_grad_enabled():
            out, final = _checkpointed_scan(self.cell, self.checkpoint, x, state, w_ih, b_ih, w, mask, u_mask)
        else:
            out, final = scan(self.cell, x, state, w_ih, b_ih, w, mask, u_mask)
        return (_reverse(out, lengths) if reverse else out), final

    def _dropout_mask(self, like: Tensor) -> Tensor:
        keep = 1.0 - self.variational_dropout
        return torch.bernoulli(torch.full_like(like, keep)) / keep

    def _in_float32(self, forward, x: Tensor, state: State, lengths):
        """``forward`` in the parameters' dtype with autocast switched off (inside an autocast region)."""
        with torch.autocast(x.device.type, enabled=False):
            dtype = self.weight_ih_l0.dtype
            return forward(x.to(dtype), tuple(s.to(dtype) for s in state), lengths)

    # ---------------------------------------------------------------- native
    def _native_any_cpu(self, x: Tensor, state: State, lengths) -> tuple[Tensor, State]:
        """torch's kernel; in a CPU autocast region on a CPU where oneDNN has no bf16 LSTM (no AVX-512: it
        answers "could not create a primitive descriptor"), the kernel runs in float32 instead, as the
        hand-BPTT driver always does, with one warning per process."""
        low_precision_cpu = x.device.type == "cpu" and _autocast(x)
        if low_precision_cpu and not _ONEDNN_LOW_PRECISION["works"]:
            return self._in_float32(self._forward_native, x, state, lengths)
        try:
            return self._forward_native(x, state, lengths)
        except RuntimeError as e:
            if not (low_precision_cpu and "primitive descriptor" in str(e)):
                raise
            _ONEDNN_LOW_PRECISION["works"] = False
            warnings.warn("this CPU's oneDNN has no low-precision kernel for the recurrent layer: torch's kernel "
                          "runs in float32 inside the autocast region (the layers around it keep bf16)",
                          RuntimeWarning, stacklevel=3)
            return self._in_float32(self._forward_native, x, state, lengths)

    def _forward_native(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        hx = state if self.cell.num_states > 1 else state[0]
        flags = (self.bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        weights = [w for ws in self.all_weights for w in ws]
        if lengths is None:
            out, *final = self._native_fn(x, hx, weights, *flags, False)
            return out, tuple(final)
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = tuple(s.index_select(1, order) for s in state)
        hx = hx if self.cell.num_states > 1 else hx[0]
        data, *final = self._native_fn(packed.data, packed.batch_sizes, hx, weights, *flags)
        out, _ = pad_packed_sequence(packed._replace(data=data), total_length=x.shape[0])
        return out, tuple(s.index_select(1, unorder) for s in final)


def _checkpointed_scan(cell: Cell, every: int, x: Tensor, state: State, w_ih, b_ih, w: State, mask, u_mask):
    """``scan`` in stretches of ``every`` steps, each under ``torch.utils.checkpoint``: the backward
    recomputes a stretch's forward from its first state instead of keeping its caches."""
    n = len(state)

    def stretch(x_k, mask_k, *tensors):
        out, final = scan(cell, x_k, tensors[:n], w_ih, b_ih, tensors[n:], mask_k, u_mask)
        return (out, *final)

    outs = []
    for start in range(0, x.shape[0], every):
        part = slice(start, start + every)
        out, *state = torch.utils.checkpoint.checkpoint(
            stretch, x[part], None if mask is None else mask[part], *state, *w, use_reentrant=False
        )
        outs.append(out)
    return torch.cat(outs), tuple(state)


_ONEDNN_LOW_PRECISION = {"works": True}  # False once oneDNN refused a bf16 recurrent kernel on this CPU


def _autocast(x: Tensor) -> bool:
    """Whether an autocast region (torch.autocast) is active for ``x``'s device."""
    return torch.is_autocast_enabled(x.device.type)


def _repack(out: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack ``out`` (T, B, F), in the caller's order, exactly as the input ``like`` was packed."""
    order = like.sorted_indices
    if order is not None:
        out, lengths = out.index_select(1, order), lengths[order]
    data = pack_padded_sequence(out, lengths.cpu(), enforce_sorted=True).data
    return like._replace(data=data)


def _check_sizes(input_size, hidden_size, num_layers, proj_size) -> None:
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if proj_size:
        raise ValueError(f"proj_size is not supported by seqlab (got proj_size={proj_size!r}); use torch.nn.LSTM")


class RNN(RecurrentLayer):
    """Elman RNN, h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), f = tanh or relu.

    Same arguments as ``torch.nn.RNN``; plus ``variational_dropout`` and ``backend``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, **extra):
        cell = ElmanCell(nonlinearity)
        native = _VF.rnn_tanh if nonlinearity == "tanh" else _VF.rnn_relu
        super().__init__(cell, native, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, **extra)
        self.nonlinearity = nonlinearity


class LSTM(RecurrentLayer):
    """LSTM with the notes' variants: ``variant`` in {"standard", "peephole", "coupled", "no_forget"}.

    Same arguments as ``torch.nn.LSTM`` (``proj_size`` must be 0); plus ``variant``,
    ``variational_dropout`` and ``backend``.  Only "standard" has a native kernel.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, *, variant="standard", **extra):
        _choice("variant", variant, LSTM_VARIANTS)
        native = _VF.lstm if variant == "standard" else None
        super().__init__(LSTM_VARIANTS[variant](), native, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size, device, dtype, **extra)
        self.variant = variant


class GRU(RecurrentLayer):
    """GRU, h_t = z * h_{t-1} + (1 - z) * n_t, with ``reset`` in {"after", "before"}.

    "after" is torch.nn.GRU (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), "before"
    the notes' form (n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)).  Same arguments
    as ``torch.nn.GRU``; plus ``reset``, ``variational_dropout`` and ``backend``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, reset="after", **extra):
        _choice("reset", reset, GRU_RESETS)
        native = _VF.gru if reset == "after" else None
        super().__init__(GRU_RESETS[reset](), native, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, device, dtype, **extra)
        self.reset = reset
