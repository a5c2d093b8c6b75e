"""``python -m seqlab`` (and ``torchrun -m seqlab``): the command line."""
import sys

from seqlab.cli import main

sys.exit(main())
