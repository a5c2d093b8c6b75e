"""Character LMs as a feature extractor: the word vectors by hand, charlm through the CLI, exact resume, a tagger
with contextual vectors working from its own run directory, bad contextual runs."""
import json
import shutil

import pytest
import torch
from conftest import TEXT, TINY, conll_sentences

from seqlab.cli import main
from seqlab.data.tokens import CharVocab
from seqlab.models.charlm import BiCharLM, collate_chars, sentence_chars
from seqlab.models.lm import ModelConfig
from seqlab.tasks import registry
from seqlab.train.config import apply_overrides, parse_overrides

CHARLM = [*TINY, "--train.max_steps=8", "--data.valid_fraction=0.1"]


def test_the_word_vector_is_the_forward_state_after_the_word_and_the_backward_state_before_it():
    torch.manual_seed(0)
    vocab = CharVocab.build("\nabcdefghijklmnopqrstuvwxyz ACT.")
    model = BiCharLM(ModelConfig(cell="lstm", num_layers=2, embed_size=5, hidden_size=7, dropout=0.3),
                     len(vocab)).double().eval()
    sentences = [["The", "cat", "sat", "."], ["A", "dog"]]  # two lengths: the batch is padded
    items = [{"words": [0] * len(s), **sentence_chars(vocab, s)} for s in sentences]
    batch = {"words": torch.zeros(2, 4, dtype=torch.long)}
    collate_chars(batch, items)
    with torch.no_grad():
        got = model.word_vectors(batch)  # (2, 4, 14)
        for b, words in enumerate(sentences):
            text = "\n" + " ".join(words) + "\n"
            start = 1
            for i, w in enumerate(words):
                left = torch.tensor([vocab.encode(text[: start + len(w)])])  # up to the word's last character
                right = torch.tensor([vocab.encode(text[start:][::-1])])  # from the end back to its first character
                by_hand = torch.cat([model.forward_lm.states(left)[0, -1], model.backward_lm.states(right)[0, -1]])
                torch.testing.assert_close(got[b, i], by_hand, atol=1e-12, rtol=0)
                start += len(w) + 1
    assert sentence_chars(vocab, ["ab", "c"])["ctx_forward_at"] == [2, 4]  # "\nab c\n": b at 2, c at 4
    assert sentence_chars(vocab, ["ab", "c"])["ctx_backward_at"] == [4, 1]  # reversed "\nc ba\n": a at 4, c at 1


def _batch(vocab, sentences):
    T = max(map(len, sentences))
    batch = {"words": torch.zeros(len(sentences), T, dtype=torch.long),
             "lengths": torch.tensor([len(s) for s in sentences])}
    collate_chars(batch, [{"words": [0] * len(s), **sentence_chars(vocab, s)} for s in sentences])
    return batch


def test_frozen_vectors_are_the_word_vectors_through_float16_whatever_the_batch_and_forgotten_on_new_weights():
    torch.manual_seed(0)
    vocab = CharVocab.build("\nabcdefghijklmnopqrstuvwxyz ACT.")
    model = BiCharLM(ModelConfig(cell="lstm", num_layers=1, embed_size=5, hidden_size=7), len(vocab)).eval()
    long, short = ["The", "cat", "sat", "."], ["A", "dog"]
    unkept = model.frozen_vectors(_batch(vocab, [short]))  # not training a tagger: nothing is kept
    assert model.cache == {}
    model.keep = True
    alone = model.frozen_vectors(_batch(vocab, [short]))  # computed in a batch of its own
    assert len(model.cache) == 1
    together = _batch(vocab, [long, short])
    with torch.no_grad():
        exact = model.word_vectors(together)
    got = model.frozen_vectors(together)  # short from the store, long computed beside padding
    assert len(model.cache) == 2
    torch.testing.assert_close(got, exact.half().float() * (together["ctx_forward_at"] > 0)[..., None], atol=0, rtol=0)
    torch.testing.assert_close(got[1, :2], alone[0], atol=0, rtol=0)
    torch.testing.assert_close(unkept, alone, atol=0, rtol=0)
    assert got[1, 2:].abs().sum() == 0  # padding positions are zero
    model.load_state_dict({k: v + 0.5 for k, v in model.state_dict().items()})
    assert model.cache == {}
    with torch.no_grad():
        moved = model.word_vectors(together).half().float()
    torch.testing.assert_close(model.frozen_vectors(together)[0], moved[0], atol=0, rtol=0)


def _texts(tmp_path):
    text = tmp_path / "rain.txt"
    text.write_text(TEXT)
    conllu = tmp_path / "t.conllu"
    conllu.write_text("# text = The rain\n1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
                      "2\train\train\tNOUN\tNN\t_\t0\troot\t_\t_\n\n" * 20)
    return text, conllu


def test_charlm_trains_on_several_files_evaluates_predicts_and_resumes_exactly(tmp_path, capsys):
    from seqlab.tasks.charlm import split_texts

    text, conllu = _texts(tmp_path)
    cfg = registry.get("charlm").config()
    cfg.data.path, cfg.data.valid_fraction = f"{text},{conllu}", 0.1
    train, valid, counts = split_texts(cfg.data)
    assert counts == {str(text): {"train": 27, "valid": 3, "chars": len(TEXT)},
                      str(conllu): {"train": 18, "valid": 2, "chars": len("The rain\n") * 20}}
    assert "The rain\nthe rain in spain" not in train and train.endswith("The rain\n") and "\nThe rain\n" in valid
    args = ["train", "charlm", "--data", str(text), str(conllu), "--runs", str(tmp_path), *CHARLM, "--model.dropout=0.2"]
    assert main([*args, "--name", "straight"]) == 0
    assert "best" in capsys.readouterr().out
    assert json.loads((tmp_path / "straight" / "text.json").read_text()) == {"files": counts}  # what it read
    crash = {"on_eval": [lambda trainer, m: trainer.progress.step == 6 and 1 / 0]}  # killed after step 6's checkpoint
    task = registry.get("charlm")
    cfg = task.config()
    apply_overrides(cfg, parse_overrides([*CHARLM, "--model.dropout=0.2", f"--data.path={text},{conllu}"]))
    with pytest.raises(ZeroDivisionError):
        task.train(cfg, tmp_path / "cut", callbacks=crash)
    assert main(["train", "charlm", "--resume", str(tmp_path / "cut")]) == 0
    straight, cut = (registry.get("charlm").load(tmp_path / n, "cpu", which="last").model.state_dict()
                     for n in ("straight", "cut"))
    assert straight.keys() == cut.keys() and all(torch.equal(straight[k], cut[k]) for k in straight)
    assert main(["evaluate", str(tmp_path / "straight"), "--data", str(conllu)]) == 0
    assert "bits per character: forward" in capsys.readouterr().out
    (tmp_path / "q.txt").write_text("the rain\nin spain\n")
    assert main(["predict", str(tmp_path / "straight"), "--input", str(tmp_path / "q.txt")]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and all(0 < float(v) < 10 for row in rows for v in row)


def _tagger_args(tmp_path, contextual):
    train = tmp_path / "t.conll"
    train.write_text(conll_sentences(40, 0))
    return ["train", "tag", "--data", str(train), "--runs", str(tmp_path), "--name", "tagger",
            "--train.max_steps=6", "--train.epochs=0", "--train.progress=false", "--model.hidden_size=8",
            "--model.embed_size=8", f"--model.contextual={contextual}"]


def test_a_tagger_with_contextual_vectors_works_from_its_run_directory_alone(tmp_path, capsys):
    text, _ = _texts(tmp_path)
    assert main(["train", "charlm", "--data", str(text), "--runs", str(tmp_path), "--name", "lm", *CHARLM]) == 0
    lm_run = registry.get("charlm").load(tmp_path / "lm", "cpu")
    assert main(_tagger_args(tmp_path, tmp_path / "lm")) == 0
    run_dir = tmp_path / "tagger"
    tagger = registry.get("tag").load(run_dir, "cpu")
    for name, value in lm_run.model.state_dict().items():  # frozen: the tagger holds the LMs' weights unchanged
        assert torch.equal(tagger.model.contextual.state_dict()[name], value)
    shutil.rmtree(tmp_path / "lm")  # the tagger needs nothing of the LM's run any more
    capsys.readouterr()
    (tmp_path / "q.txt").write_text("w1 Alice\nParis w2 w3\n")
    assert main(["predict", str(run_dir), "--input", str(tmp_path / "q.txt")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 7
    assert main(["evaluate", str(run_dir), "--data", str(tmp_path / "t.conll")]) == 0
    assert "entities" in capsys.readouterr().out
    from seqlab.serve.panels import ServedRun

    answer = ServedRun(0, run_dir, "cpu").answer({"text": "Alice went to Paris"}, None)  # what seqlab serve runs
    assert " ".join(w for w, _ in answer["segments"]) == "Alice went to Paris"
    pytest.importorskip("onnx")
    assert main(["export", str(run_dir), "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "export.json").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda tmp_path: tmp_path / "missing", "is not a seqlab run directory (no config.json)"),
    (lambda tmp_path: tmp_path / ("x" * 300), "is not a seqlab run directory (File name too long)"),
    (lambda tmp_path: _an_lm_run(tmp_path), "model.contextual: {} is a lm run; give a run of `seqlab train charlm`"),
])
def test_a_contextual_run_that_is_not_a_char_lm_is_one_line(tmp_path, capsys, make, message):
    run = make(tmp_path)
    capsys.readouterr()
    assert main(_tagger_args(tmp_path, run)) == 2
    err = capsys.readouterr().err.strip()
    assert message.format(run) in err and "\n" not in err
    assert not (tmp_path / "tagger").exists()


def _an_lm_run(tmp_path):
    text, _ = _texts(tmp_path)
    assert main(["train", "lm", "--data", str(text), "--runs", str(tmp_path), "--name", "plain", *TINY]) == 0
    return tmp_path / "plain"


def test_a_conll_file_gives_its_words_whether_or_not_it_opens_with_docstart(tmp_path):
    from seqlab.tasks.charlm import file_lines

    with_docstart = conll_sentences(12, seed=3)
    without = with_docstart.split("\n", 2)[2]  # as ../shared's eng.train: no -DOCSTART- line
    sentences = [" ".join(line.split()[0] for line in block.splitlines())
                 for block in without.strip().split("\n\n")]
    for name, text in (("docstart.txt", with_docstart), ("plain_columns.txt", without)):
        path = tmp_path / name
        path.write_text(text)
        assert file_lines(str(path), "auto") == sentences, name
    prose = tmp_path / "prose.txt"
    prose.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 4)
    assert file_lines(str(prose), "auto") == [line for line in prose.read_text().splitlines() if line]


def _classifier_args(tmp_path, contextual, *more):
    train = tmp_path / "sentiment.txt"
    train.write_text("".join(f"{label} {text}\n" for label, text in
                             [("pos", "The rain is fine"), ("neg", "the rain in spain is cold"),
                              ("pos", "a fine day in Spain"), ("neg", "cold rain")] * 8))
    return ["train", "classify", "--data", str(train), "--runs", str(tmp_path), "--name", "classifier",
            "--train.max_steps=4", "--train.epochs=0", "--train.progress=false", "--model.hidden_size=8",
            "--model.embed_size=8", "--data.tokens=word", f"--model.contextual={contextual}", *more]


def test_a_classifier_reads_the_char_lms_vectors_at_its_words_and_works_from_its_run_directory_alone(tmp_path, capsys):
    from seqlab.tasks.classify import logits_of, token_ids, words_chars

    text, _ = _texts(tmp_path)
    assert main(["train", "charlm", "--data", str(text), "--runs", str(tmp_path), "--name", "lm", *CHARLM]) == 0
    lm_run = registry.get("charlm").load(tmp_path / "lm", "cpu")
    assert main(_classifier_args(tmp_path, tmp_path / "lm")) == 0
    shutil.rmtree(tmp_path / "lm")  # the classifier needs nothing of the LM's run any more
    run_dir = tmp_path / "classifier"
    run = registry.get("classify").load(run_dir, "cpu")
    for name, value in lm_run.model.state_dict().items():  # frozen: the LMs' weights unchanged
        assert torch.equal(run.model.contextual.state_dict()[name], value)
    # the encoder's input is [E[w_i] ; h^f after w_i ; h^b before w_i], each sentence's vectors as if read alone
    texts = ["The rain in Spain", "cold"]
    ids = [token_ids(run.tokens, t, 0) for t in texts]
    seen = {}
    hook = run.model.encoder.register_forward_pre_hook(lambda module, args: seen.update(x=args[0]))
    logits_of(run.model.eval(), ids, [words_chars(run.context_vocab, t, x) for t, x in zip(texts, ids)], run.tokens.pad, "cpu")
    for b, sentence in enumerate(texts):
        words = sentence.split()
        alone = lm_run.model.word_vectors(_batch(lm_run.vocab, [words]))[0].half().float()
        assert torch.equal(seen["x"][b, : len(words), run.cfg.model.embed_size:], alone)
        assert torch.equal(seen["x"][b, : len(words), : run.cfg.model.embed_size], run.model.embed(torch.tensor(ids[b])))
    hook.remove()
    capsys.readouterr()
    (tmp_path / "q.txt").write_text("a fine day\nThe cold rain in Spain\n")
    assert main(["predict", str(run_dir), "--input", str(tmp_path / "q.txt")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["evaluate", str(run_dir), "--data", str(tmp_path / "sentiment.txt")]) == 0
    assert "accuracy" in capsys.readouterr().out
    from seqlab.serve.panels import ServedRun

    answer = ServedRun(0, run_dir, "cpu").answer({"text": "a fine day in Spain"}, None)  # what seqlab serve runs
    assert {label for label, _ in answer["probabilities"]} == {"pos", "neg"}
    for args, message in [(["export", str(run_dir), "--out", str(tmp_path / "x")], "reads the char LMs' vectors"),
                          (["predict", str(run_dir), "--input", str(tmp_path / "q.txt"), "--explain",
                            str(tmp_path / "e.png")], "--explain: this classifier reads the char LMs' vectors")]:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err


@pytest.mark.parametrize("more, message", [
    (["--data.tokens=char"], "model.contextual needs data.tokens=word (got 'char')"),
    (["--model.init_from=somewhere"], "give one (the pretrained encoder reads embeddings alone)"),
])
def test_a_classifier_refuses_char_lms_where_it_has_no_words_to_read_them_at(tmp_path, capsys, more, message):
    assert main(_classifier_args(tmp_path, tmp_path / "lm", *more)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
