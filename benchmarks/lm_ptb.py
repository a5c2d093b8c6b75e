"""Word-level LM on Penn Treebank with the ptb-small preset (Zaremba et al. 2014, small, non-regularised).

Goal: valid perplexity <= 120.7, the paper's figure for this configuration (test 114.5).
The test split is withheld here; score it with --test ptb.test.txt.

    python benchmarks/lm_ptb.py [--data ../shared/data/word_lm] [--test FILE] [--key=value ...]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, lm_scores, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "word_lm"

if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "lm_ptb", "lm", ["ptb-small"], __doc__.splitlines()[0],
        "valid perplexity <= 120.7 (Zaremba et al. 2014 small: 120.7 / 114.5)", {"data.path": DATA}, score=lm_scores))
