"""A browser demo of trained runs: ``seqlab serve RUN_DIR [RUN_DIR ...]`` (see :mod:`seqlab.serve.app`)."""
