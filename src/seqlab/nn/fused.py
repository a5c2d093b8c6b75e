"""The fused driver: :func:`seqlab.nn.scan.scan`'s loop in C++ (``csrc/recurrence.cpp``), for speed.

The Python driver issues every cell's per-step elementwise work as a dozen small torch
calls; at small batch and hidden sizes their dispatch costs more than the matrix
products.  ``csrc/`` holds the same cells (``elman.h``, ``lstm.h``, ``gru.h``) -- each a forward
step and its hand-derived backward step side by side, the formulas of the Python cell of the
same name -- and one generic loop (``recurrence.cpp``).  A step is one product with W_hh (``gemm.h``: on W_hh packed
once per call, by a register-blocked kernel of seqlab's own in the vector builds; the BLAS
``sgemm_``/``dgemm_`` that torch's CPU matmul reaches in the generic build and for loops of
fewer than 8 steps) and one pass over the batch rows that does all of the
cell's elementwise work, sigmoid and tanh included (SLEEF's vector functions, from inside
libtorch_cpu; tanh with SLEEF's 3.5-ulp version where ATen uses the 1-ulp one); the
backward step needs no transcendental at all.  It computes the same numbers as the Python
driver up to float rounding (tested to 1e-10 in float64).

It is a shared library compiled with the system's C++ compiler against the installed
torch, once per instruction set (:data:`ISAS`: the generic build, AVX2+FMA and AVX-512, the vector
widths of its sigmoid and tanh): ``python -m seqlab.nn.build`` (run by ``make install``) builds every one
the compiler can, a process that needs one builds it on first use; into ``$SEQLAB_CACHE`` (default
``~/.cache/seqlab``), keyed by the source, the torch and Python versions and the instruction set.
At run time :func:`isa` picks the build: torch's CPU capability (``ATEN_CPU_CAPABILITY=avx2`` or
``default`` lowers it, as it does ATen's own kernels), capped at what the CPU reports having -- so one
cache shared by machines with different CPUs serves each its own.  An x86 CPU without AVX2 and every
other CPU (ARM) get the generic build: sigmoid and tanh as polynomials in plain C++ that the compiler
vectorises for the target's baseline (SSE2, NEON).  Where it cannot be built or loaded (no compiler),
and for what it does not cover -- a GPU tensor, a dtype other than float32/float64, a cell of the user's
own -- :func:`seqlab.nn.scan.scan` runs the Python driver (after one warning when the build failed).
``SEQLAB_FUSED=0`` (or :func:`set_enabled`) switches it off.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from seqlab.nn.cell import Cell, State, input_grads, input_projection
from seqlab.nn.elman import ElmanCell
from seqlab.nn.gru import GRUCell, GRUResetBeforeCell
from seqlab.nn.lstm import CoupledLSTMCell, LSTMCell, NoForgetLSTMCell, PeepholeLSTMCell

SOURCE = Path(__file__).parent / "csrc" / "recurrence.cpp"
# The cell kinds of recurrence.cpp, by exact class: a subclass may change the step, so it is not fused.
KINDS = {LSTMCell: 2, PeepholeLSTMCell: 3, CoupledLSTMCell: 4, NoForgetLSTMCell: 5, GRUCell: 6, GRUResetBeforeCell: 7}
ELMAN_KINDS = {"tanh": 0, "relu": 1}
GRU_KINDS = (KINDS[GRUCell], KINDS[GRUResetBeforeCell])
DTYPES = (torch.float32, torch.float64)

_state = {"enabled": os.environ.get("SEQLAB_FUSED", "1") != "0", "loaded": None}


def set_enabled(flag: bool) -> None:
    """Use the fused driver where it applies (True, the default) or always the Python one (False)."""
    _state["enabled"] = bool(flag)


def is_enabled() -> bool:
    return _state["enabled"]


def cache_dir() -> Path:
    root = os.environ.get("SEQLAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "seqlab"
    )
    return Path(root)


# The builds, by instruction set (lowest first), with their compiler flags and the CPU flags they need.
ISAS = {
    "DEFAULT": ([], set()),  # the target's baseline (SSE2 on x86-64, NEON on aarch64), vectorised by the compiler
    "AVX2": (["-mavx2", "-mfma"], {"avx2", "fma"}),
    "AVX512": (["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl"],
               {"avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"}),
}


def _capability() -> str:
    """torch's view of this CPU's vector instructions: "AVX512", "AVX2", "DEFAULT", ... (``ATEN_CPU_CAPABILITY``
    sets it: lower, or -- torch does not check -- higher than the CPU has)."""
    return torch.backends.cpu.get_cpu_capability()


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (x86 "flags", ARM "Features"; None where there is none to read:
    torch's capability is trusted)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), None)
    return set(line.split(":", 1)[1].split()) if line else None


def lacks(name: str) -> set[str]:
    """The CPU flags that build ``name`` of :data:`ISAS` needs and this CPU lacks (none where the flags are unknown)."""
    flags = cpu_flags()
    return set() if flags is None else ISAS[name][1] - flags


def usable() -> list[str]:
    """The builds of :data:`ISAS` that this process may run, highest first: up to torch's capability, and only
    those whose instructions the CPU has; off x86 the generic one alone."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ["DEFAULT"]
    names = list(ISAS)
    allowed = names[: names.index(_capability()) + 1] if _capability() in names else names[:1]
    return [name for name in reversed(allowed) if not lacks(name)]


def isa() -> str:
    """The build this process runs: the first of :func:`usable`."""
    return usable()[0]


def library_path(name: str | None = None) -> Path:
    """Where the compiled library of instruction set ``name`` (default :func:`isa`) for these sources, torch and
    Python lives."""
    name = name or isa()
    key = hashlib.sha256()
    for source in sorted(SOURCE.parent.iterdir()):  # recurrence.cpp and the headers it includes
        key.update(source.name.encode() + source.read_bytes())
    for part in (torch.__version__, sys.version, platform.machine(), str(torch._C._GLIBCXX_USE_CXX11_ABI)):
        key.update(part.encode())
    return cache_dir() / f"recurrence-{name.lower()}-{key.hexdigest()[:16]}.so"


def _compile_commands(out: Path, name: str) -> list[list[str]]:
    from torch.utils.cpp_extension import include_paths, library_paths

    named = os.environ.get("CXX")
    cxx = shutil.which(named) if named else shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        raise RuntimeError(f"C++ compiler CXX={named!r} not found" if named else
                           "no C++ compiler found (install g++ or clang++, or set CXX)")
    base = [cxx, str(SOURCE), "-o", str(out), "-O3", "-std=c++20", "-shared", "-fPIC",
            f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"]
    base += [f"-I{p}" for p in include_paths()]
    for lib in library_paths():
        base += [f"-L{lib}", f"-Wl,-rpath,{lib}"]
    base += ["-lc10", "-ltorch_cpu", "-ltorch"]
    base += ISAS[name][0]  # AVX2, AVX-512: sigmoid/tanh through SLEEF's vector functions, as ATen's kernels
    if sys.platform == "darwin":
        base += ["-undefined", "dynamic_lookup"]
    return [base + ["-fopenmp"], base]  # with OpenMP (torch's own runtime) for the row loops, else serial


def build(verbose: bool = False, name: str | None = None) -> Path:
    """Compile ``csrc/recurrence.cpp`` for instruction set ``name`` (default :func:`isa`) into :func:`library_path`
    (atomically); returns the path."""
    name = name or isa()
    path = library_path(name)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        out, errors = Path(tmp) / path.name, []
        for cmd in _compile_commands(out, name):
            if verbose:
                print(" ".join(cmd), file=sys.stderr)
            done = subprocess.run(cmd, check=False, capture_output=True, text=True)
            if done.returncode == 0:
                os.replace(out, path)
                return path
            lines = done.stderr.splitlines()
            errors.append(next((ln.strip() for ln in lines if "error" in ln), lines[-1] if lines else "no message"))
        raise RuntimeError(f"compiling {SOURCE.name} failed: {errors[-1]}")


_LOCK = threading.Lock()  # one build at a time (a server's requests may arrive together)


def load() -> bool:
    """Load the library (building it first if need be); False, after one warning, where that fails."""
    if _state["loaded"] is not None:
        return _state["loaded"]
    with _LOCK:
        return _load()


def _load() -> bool:
    if _state["loaded"] is None:
        names = usable()
        for name in names:  # a compiler too old for AVX-512 still gives the AVX2 build
            try:
                if not library_path(name).exists():
                    print(f"seqlab: compiling the fused recurrence for {name} (once, about 20 s)...", file=sys.stderr,
                          flush=True)
                torch.ops.load_library(str(build(name=name)))
                _state["loaded"] = True
                break
            except (RuntimeError, OSError) as err:
                failed = err
        else:
            _state["loaded"] = False
            warnings.warn(f"seqlab: the fused recurrence is unavailable ({failed}); using the Python driver",
                          RuntimeWarning, stacklevel=4)
    return _state["loaded"]


def kind(cell: Cell) -> int | None:
    """The kernel of ``cell`` in recurrence.cpp, or None."""
    if type(cell) is ElmanCell:
        return ELMAN_KINDS.get(cell.nonlinearity)
    return KINDS.get(type(cell))


def applies(cell: Cell, x: Tensor, tensors, mask: Tensor | None = None) -> bool:
    """Whether the fused driver runs this recurrence: a known cell, CPU, float32/64 ``tensors`` of
    ``x``'s dtype, a bool ``mask``, the library loaded."""
    return (
        _state["enabled"]
        and kind(cell) is not None
        and x.device.type == "cpu"
        and x.dtype in DTYPES
        and all(t is None or (t.dtype == x.dtype and t.device == x.device) for t in tensors)
        and (mask is None or (mask.dtype == torch.bool and mask.device == x.device))
        and load()
    )


def _contiguous(state, w, mask, u_mask):
    """The recurrence's arguments as the C++ loop takes them: contiguous, lists, None kept."""
    return ([s.contiguous() for s in state], [p.contiguous() for p in w], None if mask is None else mask.contiguous(),
            None if u_mask is None else u_mask.contiguous())


def _forward(cell, x, mask, u_mask, w_ih, b_ih, state, w):
    xp = input_projection(cell, x, w_ih, b_ih, w)  # (T, B, G*H)
    state, w, m, um = _contiguous(state, w, mask, u_mask)
    out, hs, cs, k = torch.ops.seqlab.recurrence_forward(kind(cell), xp, state, w, m, um)
    final = (hs[-1].clone(),) + ((cs[-1].clone(),) if cs is not None else ())
    return out, final, (xp, hs, cs, k, m, um)


def _infer(cell, x, mask, u_mask, w_ih, b_ih, state, w):
    """The forward alone (recurrence.cpp's infer: the input projection a chunk of steps at a time, nothing kept)."""
    bias = cell.input_bias(b_ih, w).contiguous()
    state, w, m, um = _contiguous(state, w, mask, u_mask)
    out, *final = torch.ops.seqlab.recurrence_infer(kind(cell), x.contiguous(), w_ih.contiguous(), bias, state, w, m, um)
    return out, tuple(final)


def _graph_kept() -> bool:
    """Whether this backward keeps the graph for another one (retain_graph=True); True if torch cannot say."""
    keep = getattr(torch._C._autograd, "_get_current_graph_task_keep_graph", None)
    return True if keep is None else keep()


class _FusedRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, n_states, x, mask, u_mask, w_ih, b_ih, *tensors):
        state, w = tensors[:n_states], tensors[n_states:]
        out, final, (a, hs, cs, k, m, um) = _forward(cell, x, mask, u_mask, w_ih, b_ih, state, w)
        ctx.kind = kind(cell)
        if ctx.kind in ELMAN_KINDS.values():
            a = None  # its backward reads h'_t from hs (see recurrence.cpp): xp's buffer is freed
        ctx.save_for_backward(x, w_ih, a, hs, cs, k, m, um, *w)
        return (out,) + final

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, *d_state):
        x, w_ih, a, hs, cs, k, m, um, *w = ctx.saved_tensors
        w = [p.contiguous() for p in w]
        grads = torch.ops.seqlab.recurrence_backward(ctx.kind, a, hs, cs, k, w, d_out, list(d_state), m, um,
                                                     not _graph_kept())
        d_xp, n = grads[0], len(d_state)
        # b_ih and b_hh enter every pre-activation alike except in the GRUs (b_hn sits inside r * (...))
        d_b_ih = None if ctx.kind in GRU_KINDS else grads[2 + n].clone()
        d_x, d_w_ih, d_b_ih = input_grads(x, w_ih, d_xp, ctx.needs_input_grad[2], d_b_ih)
        return (None, None, d_x, None, None, d_w_ih, d_b_ih) + tuple(grads[1 : 1 + n]) + tuple(grads[1 + n :])


def scan(cell: Cell, x: Tensor, state: State, w_ih: Tensor, b_ih: Tensor, w: State, mask, u_mask, training: bool):
    """:func:`seqlab.nn.scan.scan` through the C++ loop; call only where :func:`applies`. ``training``: some
    input needs a gradient (else nothing is kept for a backward)."""
    if not training:
        with torch.no_grad():
            return _infer(cell, x, mask, u_mask, w_ih, b_ih, state, w)
    out, *final = _FusedRecurrence.apply(cell, len(state), x, mask, u_mask, w_ih, b_ih, *state, *w)
    return out, tuple(final)
