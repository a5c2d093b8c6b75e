"""Export a trained run to ONNX: ``seqlab export RUN_DIR [--format onnx] [--out DIR]``.

For the recurrent models of the LM, classification and tagging tasks (each task says what its
graph takes and gives: ``Task.export``).  DIR (default ``RUN_DIR/export``) receives

    model.onnx     the graph, with dynamic batch and sequence length
    config.json    the run's config, and its vocabulary files (vocab.json), copied beside it
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


def native_layers(module: nn.Module, what: str) -> None:
    """Switch every seqlab recurrent layer of ``module`` to torch's kernels; refuse what has none."""
    from seqlab.nn.minrnn import _MinRNN
    from seqlab.nn.recurrent import _RecurrentLayer

    for name, m in module.named_modules():
        if isinstance(m, _MinRNN):
            raise UserError(f"{what}: minGRU/minLSTM layers ({name}) have no ONNX operator; export supports "
                            "model.cell=lstm (standard), gru (reset after), rnn_tanh, rnn_relu")
        if isinstance(m, _RecurrentLayer):
            if m._native_fn is None:
                raise UserError(f"{what}: the layer {name} ({m.cell!r}) has no torch kernel and so no ONNX "
                                "operator; export supports model.variant=standard (lstm) or after (gru)")
            m.backend = "native"


def _outputs(module: nn.Module, inputs: dict[str, Tensor]) -> list[Tensor]:
    with torch.no_grad():
        out = module(*inputs.values())
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _dims(t: Tensor, axes: dict[int, str]) -> list:
    return [axes.get(i, n) for i, n in enumerate(t.shape)]


def export_run(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None) -> dict:
    """Write the run's model as ``fmt`` into ``out`` (default RUN_DIR/export); returns export.json's content."""
    from seqlab.tasks import registry

    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {list(FORMATS)}, got {fmt!r}")
    try:
        import onnx  # noqa: F401  (torch's exporter writes the file with it)
    except ImportError:
        raise UserError("seqlab export needs the onnx package: pip install onnx onnxruntime "
                        "(or pip install 'seqlab[export]')") from None
    run_dir = Path(run_dir)
    task = registry.of_run(run_dir)
    if task.export is None:
        exportable = sorted(t.name for t in registry.tasks().values() if t.export is not None)
        raise UserError(f"{run_dir} is a {task.name} run; export covers {', '.join(exportable)} runs")
    spec = task.export(task.load(run_dir, "cpu"))
    spec.module.eval()
    reference = _outputs(spec.module, spec.check)  # the model as seqlab runs it (its own backend)
    native_layers(spec.module, f"seqlab export {run_dir}")
    out_dir = Path(out) if out else run_dir / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(spec.inputs)
    with warnings.catch_warnings(), _quiet_stderr():  # the exporter's deprecation notice, tracer and shape hints
        warnings.simplefilter("ignore")
        torch.onnx.export(spec.module, tuple(spec.inputs.values()), str(out_dir / "model.onnx"), dynamo=False,
                          input_names=names, output_names=spec.outputs, dynamic_axes=spec.dynamic,
                          opset_version=OPSET)
    for name in ("config.json", "vocab.json"):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out_dir / name)
    traced = _outputs(spec.module, spec.inputs)
    info = {
        "task": task.name, "format": fmt, "file": "model.onnx", "opset": OPSET, "torch": torch.__version__,
        "inputs": {k: {"dtype": str(v.dtype).replace("torch.", ""), "dims": _dims(v, spec.dynamic.get(k, {}))}
                   for k, v in spec.inputs.items()},
        "outputs": {k: {"dtype": str(v.dtype).replace("torch.", ""), "dims": _dims(v, spec.dynamic.get(k, {}))}
                    for k, v in zip(spec.outputs, traced)},
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
