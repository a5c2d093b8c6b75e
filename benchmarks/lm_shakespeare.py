"""Character-level LM on tiny shakespeare (nanoGPT's 90/10 split): validation loss against wall time.

Goal on the 2-core CPU: val loss <= 1.50 nats/char within 30 minutes.  For scale
(SOURCES.md): nanoGPT's CPU recipe reaches about 1.88, its GPU recipe 1.4697.
Trains the LSTM (shakespeare-char), the decoder-only Transformer (shakespeare-transformer) and a
minGRU stack (shakespeare-mingru, a parallel scan in training) on the same data with the same time
budget, and records all three; ``--presets`` runs some of them and keeps the other rows.

    python benchmarks/lm_shakespeare.py [--data ../shared/data/char_lm/input.txt] [--presets a,b] [--minutes 30]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, lm_scores, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "char_lm" / "input.txt"

if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "lm_shakespeare", "lm", ["shakespeare-char", "shakespeare-transformer", "shakespeare-mingru"],
        __doc__.splitlines()[0], "valid loss <= 1.50 nats/char within 30 min on a 2-core CPU", {"data.path": DATA},
        score=lm_scores))
