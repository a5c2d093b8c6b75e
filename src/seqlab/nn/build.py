"""``python -m seqlab.nn.build [-v]``: compile the fused recurrence now (``make install`` runs it).

Exits 0 either way: without a C++ compiler seqlab runs the Python driver (see :mod:`seqlab.nn.fused`).
"""
from __future__ import annotations

import sys

import torch

from seqlab.nn import fused


def main(argv: list[str] | None = None) -> int:
    try:
        path = fused.build(verbose="-v" in (sys.argv[1:] if argv is None else argv))
        torch.ops.load_library(str(path))
        print(f"seqlab: fused recurrence built: {path}")
    except (RuntimeError, OSError) as err:
        print(f"seqlab: fused recurrence not built ({err}); the Python driver will be used", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
