"""CoNLL-2003 English NER (synchronous many -> many): train on eng.train, select and report on eng.testa.

Entity-level micro F1 through seqeval (conlleval's reading of the IOB1 files).  No
pretrained embeddings.  Rows: BiLSTM-CRF with a character BiLSTM (Lample et al. 2016),
the same with a per-step softmax instead of the CRF, and without character features
(ablations).  Goal: dev F1 >= 90.0 within 60 minutes on the 2-core CPU.  Anchor: Lample
et al. 2016, 90.94 test F1 with pretrained embeddings.

    python benchmarks/conll_ner.py [--data.path eng.train] [--data.valid eng.testa] [--test eng.testb] [--presets a,b]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner"

if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "conll_ner", "tag", ["conll-bilstm-crf", "conll-bilstm-softmax", "conll-bilstm-crf-nochar"],
        __doc__.splitlines()[0], "dev entity F1 >= 90.0 without pretrained embeddings, <= 60 min CPU training",
        {"data.path": DATA / "eng.train", "data.valid": DATA / "eng.testa"}))
