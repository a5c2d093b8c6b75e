"""``python -m seqlab.nn.build [-v]``: compile the fused recurrence now (``make install`` runs it).

On x86 it builds the library of every instruction set of :data:`seqlab.nn.fused.ISAS` that the compiler
knows (the generic one, AVX2, AVX-512), so that a cache shared by machines with different CPUs holds what
each needs, and loads the one for this CPU; elsewhere the generic one.  Exits 0 either way: without a C++
compiler seqlab runs the Python driver (see :mod:`seqlab.nn.fused`).
"""
from __future__ import annotations

import platform
import sys

import torch

from seqlab.nn import fused


def main(argv: list[str] | None = None) -> int:
    verbose = "-v" in (sys.argv[1:] if argv is None else argv)
    here = fused.isa()
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    for name in fused.ISAS if x86 else [here]:
        try:
            path = fused.build(verbose, name)
            if name == here:
                torch.ops.load_library(str(path))
            print(f"seqlab: fused recurrence built for {name}{' (this CPU)' if name == here else ''}: {path}")
        except (RuntimeError, OSError) as err:
            print(f"seqlab: fused recurrence for {name} not built ({err})"
                  f"{'; the Python driver will be used' if name == here else ''}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
