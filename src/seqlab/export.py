"""Export a model to ONNX: :func:`export_onnx` of an :class:`Exportable` (any module built in Python).

``seqlab export RUN_DIR [--format onnx] [--out DIR]`` exports a trained run: its task says what
its graph takes and gives and which of its files travel with it (``Task.export``: the LM,
classification and tagging tasks).  This module knows layers and ONNX only.  DIR receives

    model.onnx     the graph, with dynamic batch and sequence length
    config.json    the files that go with it (a run's config, vocabulary, word list), copied beside it
    export.json    the graph's inputs and outputs (names, dtypes, dimensions), what to do with the
                   outputs (e.g. the CRF's transitions for Viterbi decoding), the opset, the torch
                   version, and the largest difference between onnxruntime's outputs and PyTorch's
                   on a check batch of other sizes than the traced one (when onnxruntime is installed)

It needs the ``onnx`` package (``pip install 'seqlab[export]'`` brings onnx and onnxruntime).

How: torch.onnx's TorchScript exporter (``dynamo=False``).  The recurrent layers are switched to
torch's kernels (``backend="native"``: the same weights and function as the hand-BPTT driver, to
1e-10 in the tests), which it writes as the ONNX LSTM / GRU / RNN operators; a padded batch goes in
with its lengths (ONNX's ``sequence_lens``).  torch.export's exporter (``dynamo=True``) cannot
trace the layers' data-dependent checks of ``lengths`` and is not used.  TorchScript files are not
offered: torch.jit is deprecated upstream, and ONNX serves the same purpose.  Layers without a
torch kernel (LSTM variants other than standard, GRU with reset before, minGRU/minLSTM) and the
Transformer models are refused with a message.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from seqlab.errors import UserError

FORMATS = ("onnx",)
OPSET = 17


@dataclass
class Exportable:
    """What a task exports: ``module(*inputs.values())`` gives the outputs, all tensors."""

    module: nn.Module
    inputs: dict[str, Tensor]  # name -> the example traced (its sizes are not baked in: see dynamic)
    outputs: list[str]
    dynamic: dict[str, dict[int, str]]  # input or output name -> {axis: "batch" | "time" | ...}
    check: dict[str, Tensor]  # a batch of other sizes: onnxruntime's outputs on it are compared with PyTorch's
    notes: dict = field(default_factory=dict)  # the task's words for export.json (how to read the outputs)
    files: list[Path] = field(default_factory=list)  # files the inputs depend on (vocabulary, word list), copied


def native_layers(module: nn.Module, what: str) -> None:
    """Switch every seqlab recurrent layer of ``module`` to torch's kernels; refuse what has none."""
    for name, m in module.named_modules():
        if not hasattr(m, "has_native_kernel"):
            continue
        if not m.has_native_kernel:
            raise UserError(f"{what}: the layer {name} ({type(m).__name__}, gates {', '.join(m.gate_names)}) has no torch "
                            "kernel and so no ONNX operator; export supports model.cell=lstm (variant standard), "
                            "gru (reset after), rnn_tanh, rnn_relu")
        m.backend = "native"


def _outputs(module: nn.Module, inputs: dict[str, Tensor]) -> list[Tensor]:
    with torch.no_grad():
        out = module(*inputs.values())
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _dims(t: Tensor, axes: dict[int, str]) -> list:
    return [axes.get(i, n) for i, n in enumerate(t.shape)]


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {list(FORMATS)}, got {fmt!r}")
    try:
        import onnx  # noqa: F401  (torch's exporter writes the file with it)
    except ImportError:
        raise UserError("seqlab export needs the onnx package: pip install onnx onnxruntime "
                        "(or pip install 'seqlab[export]')") from None


def export_onnx(spec: Exportable, out_dir: str | Path, what: str = "export", notes: dict | None = None) -> dict:
    """Write ``spec`` as ``out_dir/model.onnx`` with its files and export.json; returns export.json's content."""
    check_format("onnx")
    spec.module.eval()
    reference = _outputs(spec.module, spec.check)  # the model as seqlab runs it (its own backend)
    native_layers(spec.module, what)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), _quiet_stderr():  # the exporter's deprecation notice, tracer and shape hints
        warnings.simplefilter("ignore")
        torch.onnx.export(spec.module, tuple(spec.inputs.values()), str(out_dir / "model.onnx"), dynamo=False,
                          input_names=list(spec.inputs), output_names=spec.outputs, dynamic_axes=spec.dynamic,
                          opset_version=OPSET)
    for path in spec.files:
        shutil.copyfile(path, out_dir / Path(path).name)
    traced = _outputs(spec.module, spec.inputs)
    info = {
        **(notes or {}), "format": "onnx", "file": "model.onnx", "opset": OPSET, "torch": torch.__version__,
        "inputs": {k: {"dtype": str(v.dtype).replace("torch.", ""), "dims": _dims(v, spec.dynamic.get(k, {}))}
                   for k, v in spec.inputs.items()},
        "outputs": {k: {"dtype": str(v.dtype).replace("torch.", ""), "dims": _dims(v, spec.dynamic.get(k, {}))}
                    for k, v in zip(spec.outputs, traced)},
        "files": [Path(p).name for p in spec.files],
        **spec.notes,
        "max_abs_difference": check_onnx(out_dir / "model.onnx", spec.check, reference),
    }
    (out_dir / "export.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    info["dir"] = str(out_dir)
    return info


@contextlib.contextmanager
def _quiet_stderr():
    """Hold back what torch's C++ side writes to stderr (shape-inference notes on PackPadded); errors still raise."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def check_onnx(path: Path, inputs: dict[str, Tensor], reference: list[Tensor]) -> float | None:
    """The largest |onnxruntime − PyTorch| over all outputs on ``inputs`` (None: onnxruntime not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    return max(float((torch.from_numpy(g) - r).abs().max()) for g, r in zip(got, reference))
