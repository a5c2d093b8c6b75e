"""Part-of-speech tagging on CoNLL-2003 (column 2, Penn Treebank tags): train on eng.train, report on eng.testa.

Token accuracy, and accuracy on the tokens not in the training file (OOV), for a
BiLSTM tagger with a character BiLSTM (softmax and CRF outputs) beside two baselines
measured in the same run on the same files: the most frequent tag of each word (the most
frequent tag overall for an unknown word) and NLTK's averaged perceptron trained on
eng.train (no downloaded model).  Goal: the recurrent taggers above both on eng.testa.
The test file (eng.testb) is withheld: --test scores it with the same code.

    python benchmarks/conll_pos.py [--data.path eng.train] [--data.valid eng.testa] [--test eng.testb] [--presets a,b]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import exit_on_user_error, preset_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner"
TAG_COLUMN = 1


def baselines(args) -> dict:
    """The two baselines, fitted on the training file, scored on the validation (and test) file."""
    from seqlab.baselines import tagger_rows
    from seqlab.data.tagged import read_conll

    train = [(s.tokens, s.tags) for s in read_conll(args.data_path, 0, TAG_COLUMN).sentences]
    files = {"valid": args.data_valid, **({"test": args.test} if args.test else {})}
    return {"baselines": tagger_rows(train, {part: read_conll(path, 0, TAG_COLUMN).sentences
                                             for part, path in files.items()})}


if __name__ == "__main__":
    exit_on_user_error(lambda: preset_benchmark(
        "conll_pos", "tag", ["conll-pos-bilstm-softmax", "conll-pos-bilstm-crf"],
        __doc__.splitlines()[0], "dev token accuracy above most-frequent-tag and the NLTK perceptron",
        {"data.path": DATA / "eng.train", "data.valid": DATA / "eng.testa"}, extra=baselines))
