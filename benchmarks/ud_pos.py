"""Part-of-speech tagging on Universal Dependencies English EWT (CoNLL-U): UPOS and XPOS, train on the train file,
report on dev.

Token accuracy, and accuracy on the words not in the training file (OOV), for BiLSTM taggers with a character
BiLSTM (softmax and CRF outputs) beside two baselines measured in the same run on the same files: the most
frequent tag of each word (the most frequent tag overall for an unknown word) and NLTK's averaged perceptron
(5 iterations) trained on the train file.  Goal: the recurrent taggers at least 1.0 point above the perceptron
on dev, UPOS and XPOS.  The test file is withheld: --test scores it with the same code.

    python benchmarks/ud_pos.py [--data.path en_ewt-ud-train.conllu] [--data.valid en_ewt-ud-dev.conllu]
                                [--test en_ewt-ud-test.conllu] [--presets a,b] [--minutes M]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pos" / "ud_english_ewt"
PRESETS = ["ud-upos-bilstm-crf", "ud-xpos-bilstm-crf", "ud-upos-bilstm-softmax", "ud-xpos-bilstm-softmax"]


def baselines(args) -> dict:
    """Most-frequent-tag and the NLTK perceptron, fitted on the train file, scored on dev (and test): UPOS, XPOS."""
    from seqlab.baselines import tagger_rows
    from seqlab.data.conllu import read_conllu

    files = {"valid": args.data_valid, **({"test": args.test} if args.test else {})}
    rows = []
    for field in ("upos", "xpos"):
        train = [(s.tokens, s.tags) for s in read_conllu(args.data_path, field).sentences]
        rows += tagger_rows(train, {part: read_conllu(path, field).sentences for part, path in files.items()},
                            tag_field=field)
    return {"baselines": rows}


if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "ud_pos", "tag", PRESETS, __doc__.splitlines()[0],
        "dev token accuracy >= the NLTK perceptron + 1.0 point, UPOS and XPOS, <= 60 min CPU training each",
        {"data.path": DATA / "en_ewt-ud-train.conllu", "data.valid": DATA / "en_ewt-ud-dev.conllu"},
        extra=baselines))
