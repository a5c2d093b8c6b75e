"""Scores: classification (scikit-learn), entity chunks (seqeval), word segmentation (SIGHAN 2005)."""
