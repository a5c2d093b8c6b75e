"""CoNLL-U in and out: the reader on hand-made files, a tagger trained on CoNLL-U, predictions written back into
the file with only the tag field changed, and bad input as one line."""
import random

import pytest

from seqlab.cli import main
from seqlab.data.conllu import read_conllu, with_tags
from seqlab.errors import UserError

TINY = ["--model.embed_size=8", "--model.hidden_size=16", "--model.char_embed_size=4", "--model.char_hidden_size=4",
        "--train.batch_size=8", "--train.max_steps=30", "--train.eval_every=15", "--train.progress=false",
        "--optim.lr=0.02", "--data.valid_fraction=0.2"]

HAND = (
    "# sent_id = 1\n"
    "# text = I can't see New York.\n"
    "1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\n"
    "2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\tSpaceAfter=No\n"
    "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_\n"
    "4\tsee\tsee\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t4:conj\t_\n"
    "5\tNew York\tNew York\tPROPN\tNNP\t_\t4\tobj\t_\tSpaceAfter=No\n"
    "6\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_\n"
    "\n"
    "# sent_id = 2\n"
    "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    "\n"
)


def test_the_reader_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    path = tmp_path / "hand.conllu"
    path.write_text(HAND, encoding="utf-8")
    upos = read_conllu(path)
    assert [s.tokens for s in upos.sentences] == [["I", "ca", "n't", "see", "New York", "."], ["Hi"]]
    assert upos.sentences[0].tags == ["PRON", "AUX", "PART", "VERB", "PROPN", "PUNCT"]
    assert [s.line for s in upos.sentences] == [1, 12]
    assert read_conllu(path, "xpos").sentences[0].tags == ["PRP", "MD", "RB", "VB", "NNP", "."]
    assert upos.scheme == "plain"


def test_a_word_line_without_ten_fields_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_text(HAND.replace("4\tsee\tsee\tVERB\tVB\t_\t0\troot\t_\t_", "4\tsee\tsee\tVERB\tVB\t_\t0\troot\t_"),
                    encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.conllu line 7: a CoNLL-U word line has 10 TAB-separated fields, "
                                        r"this one 9"):
        read_conllu(path)
    with pytest.raises(UserError, match="data.tag_field must be one of"):
        read_conllu(tmp_path / "bad.conllu", "lemma")


def test_with_tags_changes_only_the_tag_field_of_word_lines():
    block = [line for line in HAND.split("\n\n")[0].splitlines()]
    out = with_tags(block, ["A", "B", "C", "D", "E", "F"], "upos")
    changed = [(a, b) for a, b in zip(block, out) if a != b]
    assert len(out) == len(block) and len(changed) == 6
    assert all(a.split("\t")[:3] == b.split("\t")[:3] and a.split("\t")[4:] == b.split("\t")[4:] for a, b in changed)
    assert out[3] == block[3] and out[7] == block[7]  # the multiword token and the empty node, unchanged


WORDS = {"PRON": ["i", "you", "we", "they"], "VERB": ["see", "run", "eat", "like"], "DET": ["the", "a", "this"],
         "NOUN": ["dog", "cat", "house", "tree", "car"], "PUNCT": [".", "!"]}


def corpus(n: int, seed: int) -> str:
    """Generated CoNLL-U: PRON VERB DET NOUN PUNCT sentences, some with a multiword token and a comment."""
    rng, out = random.Random(seed), []
    for k in range(n):
        lines = [f"# sent_id = {seed}-{k}"]
        tags = ["PRON", "VERB", "DET", "NOUN", "PUNCT"]
        for i, tag in enumerate(tags, 1):
            if i == 4 and k % 3 == 0:
                lines.append(f"{i}-{i + 1}\tmerged\t_\t_\t_\t_\t_\t_\t_\t_")
            lines.append(f"{i}\t{rng.choice(WORDS[tag])}\t_\t{tag}\tX{tag}\t_\t0\tdep\t_\t_")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def conllu_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("conllu")
    (root / "train.conllu").write_text(corpus(80, 0), encoding="utf-8")
    (root / "dev.conllu").write_text(corpus(20, 1), encoding="utf-8")
    assert main(["train", "tag", "--data", str(root / "train.conllu"), "--runs", str(root), "--name", "r", *TINY]) == 0
    return root


def test_a_conllu_file_trains_a_tagger_and_predict_writes_it_back(conllu_run, capsys):
    root = conllu_run
    assert '"format": "conllu"' in (root / "r" / "config.json").read_text()  # auto, decided by the file name
    assert main(["predict", str(root / "r"), "--input", str(root / "dev.conllu"), "--output", str(root / "out.conllu")]) == 0
    before = (root / "dev.conllu").read_text(encoding="utf-8").splitlines()
    after = (root / "out.conllu").read_text(encoding="utf-8").splitlines()
    assert len(before) == len(after)
    for a, b in zip(before, after):
        if a.split("\t", 1)[0].isdigit():  # a word line: only UPOS may differ
            fa, fb = a.split("\t"), b.split("\t")
            assert fa[:3] + fa[4:] == fb[:3] + fb[4:]
        else:
            assert a == b
    predicted = [b.split("\t")[3] for b in after if b.split("\t", 1)[0].isdigit()]
    gold = [a.split("\t")[3] for a in before if a.split("\t", 1)[0].isdigit()]
    assert sum(p == g for p, g in zip(predicted, gold)) / len(gold) > 0.9  # it learned the toy grammar
    assert main(["evaluate", str(root / "r"), "--data", str(root / "dev.conllu")]) == 0
    out = capsys.readouterr().out
    assert "token accuracy" in out


def test_predict_on_a_conllu_run_takes_plain_sentences_too(conllu_run, capsys):
    root = conllu_run
    (root / "plain.txt").write_text("we like the car .\n", encoding="utf-8")
    assert main(["predict", str(root / "r"), "--input", str(root / "plain.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines[:5]] == [["1", "we"], ["2", "like"], ["3", "the"], ["4", "car"],
                                                            ["5", "."]]
    assert all(len(line.split("\t")) == 10 for line in lines[:5]) and lines[5] == ""


def test_bad_conllu_input_is_one_line_and_exit_2(conllu_run, capsys):
    root = conllu_run
    (root / "bad.conllu").write_text("1\twe\t_\tPRON\n\n", encoding="utf-8")
    assert main(["predict", str(root / "r"), "--input", str(root / "bad.conllu")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "seqlab: error: input line 1: a CoNLL-U word line has 10 TAB-separated fields, this one 4"
    assert main(["train", "tag", "--data", str(root / "bad.conllu"), "--runs", str(root), "--name", "b"]) == 2
    assert "bad.conllu line 1: a CoNLL-U word line has 10" in capsys.readouterr().err
    assert main(["predict", str(root / "r"), "--input", str(root / "dev.conllu"), "--output", str(root)]) == 2
    assert capsys.readouterr().err.strip() == f"seqlab: error: --output {root}: a directory"
