"""Other CPUs, emulated: the precision and recurrent tests again in subprocesses with oneDNN limited to AVX2, with
ATen's vector kernels off, and with seqlab's C++ loop off -- so that every machine checks what a CPU without
AVX-512 (or without AVX2) would see.  ``ATEN_CPU_CAPABILITY`` also picks the C++ loop's build: ``default`` the
generic one (as on a CPU without AVX2, or ARM), ``avx2`` and ``avx512`` theirs (where the CPU has it)."""
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.nn import fused

ROOT = Path(__file__).resolve().parents[1]
# Where this process found the C++ loop's builds (read at collection, before conftest points SEQLAB_CACHE at a
# session directory for token files): the subprocesses load them from there instead of compiling their own.
BUILDS = str(fused.cache_dir())
EMULATED = {"onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
            "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
            "no-cpp-loop": {"SEQLAB_FUSED": "0"}}


@pytest.mark.parametrize("name", list(EMULATED))
def test_precision_and_recurrent_tests_pass_on_an_emulated_cpu(name, tmp_path):
    """With ATEN_CPU_CAPABILITY=default the C++ loop's generic build runs them, and its own tests (against the
    Python driver) as well."""
    env = {**os.environ, "SEQLAB_CACHE": BUILDS, **EMULATED[name]}
    own = ["tests/test_fused.py"] if name == "aten-default" else []
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x",
                           "tests/test_precision.py", "tests/test_recurrent_vs_torch.py", *own],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_the_cpu_capability_seen_under_emulation():
    """The emulation is real: torch reports the capability it was limited to."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ATEN_CPU_CAPABILITY": "default"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "DEFAULT"


def test_without_avx2_the_generic_build_runs():
    code = ("import warnings; warnings.simplefilter('error'); from seqlab.nn import fused; import torch; "
            "print(fused.load(), fused.isa(), torch.ops.seqlab.isa())")
    env = {**os.environ, "SEQLAB_CACHE": BUILDS, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         timeout=300).stdout.split()
    assert out == ["True", "DEFAULT", "DEFAULT"]  # no warning: the build without vector instructions runs


@pytest.mark.parametrize("capability", ["avx2", "avx512"])
def test_each_build_of_the_cpp_loop_equals_the_python_driver(capability):
    """The fused-loop tests (outputs and every gradient against the Python driver, float64 and float32, gradcheck)
    in a subprocess that loads the build of one instruction set, forced with ATEN_CPU_CAPABILITY (the generic
    build's: the aten-default emulation above)."""
    name = capability.upper()
    if fused.lacks(name) or platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"this CPU lacks {sorted(fused.lacks(name)) or 'x86'}: its {name} build cannot run here")
    if fused.isa() == name and "ATEN_CPU_CAPABILITY" not in os.environ:
        pytest.skip(f"the {name} build is this CPU's own: the suite itself runs its tests")
    env = {**os.environ, "SEQLAB_CACHE": BUILDS, "ATEN_CPU_CAPABILITY": capability}
    code = "from seqlab.nn import fused; import torch; print(fused.load(), torch.ops.seqlab.isa())"
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                            timeout=300).stdout.split()
    assert loaded == ["True", name]
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "tests/test_fused.py",
                           "tests/test_recurrent_vs_torch.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]


FULL = {"avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"}


@pytest.mark.parametrize("capability, flags, machine, expected", [
    ("AVX512", FULL, "x86_64", "AVX512"),
    ("AVX512", {"avx2", "fma"}, "x86_64", "AVX2"),  # ATEN_CPU_CAPABILITY=avx512 on a CPU without it: capped
    ("AVX2", FULL, "x86_64", "AVX2"),  # lowered by ATEN_CPU_CAPABILITY=avx2
    ("DEFAULT", FULL, "x86_64", "DEFAULT"),  # ATEN_CPU_CAPABILITY=default: the generic build
    ("AVX2", {"avx2"}, "x86_64", "DEFAULT"),  # no FMA
    ("AVX512", {"sse2", "sse4_2"}, "x86_64", "DEFAULT"),  # an old x86: above its flags, capped down to the generic
    ("AVX512", FULL - {"avx512bw"}, "x86_64", "AVX2"),
    ("DEFAULT", set(), "aarch64", "DEFAULT"),
    ("SVE256", {"asimd", "sve"}, "aarch64", "DEFAULT"),  # ARM: the generic build, whatever torch calls the CPU
])
def test_the_build_is_torchs_capability_capped_at_the_cpus_flags(monkeypatch, capability, flags, machine, expected):
    monkeypatch.setattr(fused, "_capability", lambda: capability)
    monkeypatch.setattr(fused, "cpu_flags", lambda: flags)
    monkeypatch.setattr(fused.platform, "machine", lambda: machine)
    assert fused.isa() == expected


def test_one_cache_holds_a_library_per_instruction_set_whatever_the_capability(monkeypatch):
    """A home directory shared by machines with different CPUs: each build has its own file, named the same
    whatever capability the process that names it runs with."""
    paths = {name: fused.library_path(name) for name in fused.ISAS}
    assert len(set(paths.values())) == len(paths)
    monkeypatch.setattr(fused, "_capability", lambda: "DEFAULT")
    assert {name: fused.library_path(name) for name in fused.ISAS} == paths


def test_the_avx512_build_compiles_on_any_x86_machine_with_a_compiler(monkeypatch):
    """Built (not run) here even without AVX-512 -- by `make install`, else now: its vector code is checked by the
    compiler on every machine."""
    import shutil

    if platform.machine().lower() not in ("x86_64", "amd64") or not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("needs an x86 machine with a C++ compiler")
    monkeypatch.setenv("SEQLAB_CACHE", BUILDS)
    path = fused.build(name="AVX512")
    assert path.is_file() and path.name.startswith("recurrence-avx512-")


def test_a_compiler_too_old_for_avx512_still_gives_the_avx2_build(monkeypatch):
    import warnings

    if not fused.load() or fused.isa() != "AVX2":
        pytest.skip("needs this process to run the AVX2 build (its library answers for the one 'loaded' here)")

    real = fused.build

    def build(verbose=False, name=None):
        if name == "AVX512":
            raise RuntimeError("compiling recurrence.cpp failed: unrecognized command-line option '-mavx512f'")
        return real(verbose, name)

    loaded = []
    monkeypatch.setenv("SEQLAB_CACHE", BUILDS)
    monkeypatch.setattr(fused, "build", build)
    monkeypatch.setattr(fused, "_capability", lambda: "AVX512")
    monkeypatch.setattr(fused, "cpu_flags", lambda: FULL)
    monkeypatch.setattr(fused.torch.ops, "load_library", loaded.append)  # this process has its AVX2 build loaded already
    monkeypatch.setitem(fused._state, "loaded", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: it fell back quietly to the next build
        assert fused.load() is True
    assert [Path(p).name.split("-")[1] for p in loaded] == ["avx2"]


def test_a_capability_above_the_cpus_is_one_line_not_an_illegal_instruction(monkeypatch, capsys):
    from seqlab.cli import main

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    monkeypatch.setattr(fused, "cpu_flags", lambda: {"avx", "avx2", "fma"})
    assert main(["train", "lm", "--data", "corpus.txt"]) == 2  # refused before anything runs
    err = capsys.readouterr().err.strip()
    assert "ATEN_CPU_CAPABILITY=avx512, but this CPU lacks avx512bw, avx512dq, avx512f, avx512vl" in err
    assert "\n" not in err
