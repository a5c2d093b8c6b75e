"""SST-2 with phrase-level training labels (many -> one): train on GLUE's train.tsv, select and report on stsa.binary.dev.

GLUE's SST-2 training file holds 67,349 labelled phrases of the training sentences -- the
phrase-level supervision the published LSTM numbers trained with.  No pretrained vectors.
Rows: the BiLSTM with max pooling and with additive-attention pooling, six epochs each (about
15 minutes on the 2-core CPU); the sentence-only figures of benchmarks/sst2.py stand beside them.
Goal: dev accuracy >= 87.0% within 30 minutes of training.  Anchors (test accuracy, GloVe
vectors): Tai et al. 2015 LSTM 84.9, 2-layer LSTM 86.3, Bi-LSTM 87.5; Kim 2014 CNN-rand 82.7.

    python benchmarks/sst2_phrases.py [--data.path TRAIN.tsv] [--data.valid DEV] [--test stsa.binary.test] [--presets a,b]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "sst2"

if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "sst2_phrases", "classify", ["sst2-phrases-bilstm-max", "sst2-phrases-bilstm-attention"],
        __doc__.splitlines()[0], "dev accuracy >= 87.0% without pretrained vectors, <= 30 min CPU training",
        {"data.path": DATA / "glue" / "train.tsv", "data.valid": DATA / "stsa.binary.dev"}))
