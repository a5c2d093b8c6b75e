"""Other CPUs, emulated: the precision and recurrent tests again in subprocesses with oneDNN limited to AVX2, with
ATen's vector kernels off, and with seqlab's C++ loop off -- so that every machine checks what a CPU without
AVX-512 (or without AVX2) would see.  ``ATEN_CPU_CAPABILITY=default`` also makes the C++ loop's build take its
path for a CPU without AVX2 (no -mavx2: the scalar build, which then stands aside for the Python driver)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMULATED = {"onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
            "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
            "no-cpp-loop": {"SEQLAB_FUSED": "0"}}


@pytest.mark.parametrize("name", list(EMULATED))
def test_precision_and_recurrent_tests_pass_on_an_emulated_cpu(name, tmp_path):
    env = {**os.environ, **EMULATED[name]}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x",
                           "tests/test_precision.py", "tests/test_recurrent_vs_torch.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_the_cpu_capability_seen_under_emulation():
    """The emulation is real: torch reports the capability it was limited to."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ATEN_CPU_CAPABILITY": "default"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "DEFAULT"


def test_the_cpp_loop_stands_aside_without_avx2():
    code = ("import warnings; warnings.simplefilter('ignore'); from seqlab.nn import fused; "
            "print(fused.load(), '-mavx2' in fused._compile_commands(fused.library_path())[0])")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ATEN_CPU_CAPABILITY": "default"},
                         capture_output=True, text=True, check=True, timeout=300).stdout.split()
    assert out == ["False", "False"]  # built (or not) without AVX2, and not used: the Python driver runs
