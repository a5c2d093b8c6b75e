"""SST-2 sentence-level sentiment (many -> one): train on stsa.binary.train, select and report on stsa.binary.dev.

No pretrained vectors and no phrase-level labels.  Rows: a BiLSTM with max pooling, a
BiLSTM with additive-attention pooling, and a Transformer encoder with mean pooling,
each within 20 minutes of training on the 2-core CPU.  Goal: dev accuracy >= 86%.
Anchors (test accuracy, trained with phrase labels): Kim 2014 CNN-rand 82.7; Tai et al.
2015 LSTM 84.9, 2-layer LSTM 86.3.

    python benchmarks/sst2.py [--data.path TRAIN] [--data.valid DEV] [--test stsa.binary.test] [--presets a,b]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "sst2"

if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "sst2", "classify", ["sst2-bilstm-max", "sst2-bilstm-attention", "sst2-transformer"],
        __doc__.splitlines()[0], "dev accuracy >= 86% without pretrained vectors, <= 20 min CPU training each",
        {"data.path": DATA / "stsa.binary.train", "data.valid": DATA / "stsa.binary.dev"}))
