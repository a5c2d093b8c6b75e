"""Scorers on hand-made cases: SIGHAN segmentation, seqeval entity F1 (conlleval reading), classification."""
import math

import pytest

from seqlab.metrics.chunks import chunk_scores
from seqlab.metrics.classification import classification_scores
from seqlab.metrics.segmentation import segmentation_scores


def test_sighan_scores_by_hand():
    gold = [["共同", "创造", "美好", "的", "新", "世纪"], ["我", "爱", "北京"]]
    pred = [["共同", "创", "造", "美好的", "新", "世纪"], ["我", "爱", "北京"]]
    train_words = {"共同", "美好", "的", "新", "我", "爱"}  # OOV: 创造, 世纪, 北京
    s = segmentation_scores(gold, pred, train_words)
    # correct spans: 共同 新 世纪 | 我 爱 北京 = 6; gold words 9, predicted 9
    assert s["precision"] == pytest.approx(6 / 9) and s["recall"] == pytest.approx(6 / 9)
    assert s["f1"] == pytest.approx(6 / 9)
    assert s["oov_rate"] == pytest.approx(3 / 9)
    assert s["oov_recall"] == pytest.approx(2 / 3)  # 世纪 and 北京 found, 创造 not
    assert s["iv_recall"] == pytest.approx(4 / 6)  # 共同 新 我 爱 found; 美好 的 not


def test_sighan_precision_and_recall_differ_when_word_counts_differ():
    s = segmentation_scores([["ab", "c"]], [["a", "b", "c"]], {"c"})
    assert (s["precision"], s["recall"]) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    assert s["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert s["oov_recall"] == 0.0 and s["iv_recall"] == 1.0
    assert math.isnan(segmentation_scores([["c"]], [["c"]], set())["iv_recall"])


def test_seqeval_reads_iob1_as_conlleval():
    # IOB1: "I-PER I-PER B-PER" is two PER chunks; an I-LOC after O opens a chunk.
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC"], ["I-ORG", "I-ORG", "O"]]
    pred = [["I-PER", "I-PER", "I-PER", "O", "I-LOC"], ["I-ORG", "O", "O"]]
    # gold chunks: PER(0,2) PER(2,3) LOC(4,5) ORG(0,2) = 4; predicted: PER(0,3) LOC(4,5) ORG(0,1) = 3; correct: LOC = 1
    s = chunk_scores(gold, pred)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 4)
    assert s["f1"] == pytest.approx(2 / 7)
    assert s["per_type"]["LOC"]["f1"] == 1.0 and s["per_type"]["PER"]["support"] == 2


def test_classification_scores_by_hand_and_unseen_labels_count_wrong():
    gold = ["pos", "pos", "neg", "neg", "neutral"]
    pred = ["pos", "neg", "neg", "neg", "pos"]
    s = classification_scores(gold, pred, ["neg", "pos"])
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["per_class"]["pos"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert s["per_class"]["neg"]["precision"] == pytest.approx(0.6667) and s["per_class"]["neg"]["recall"] == 1.0
    assert s["per_class"]["neutral"]["recall"] == 0.0 and s["unseen_labels"] == ["neutral"]
    assert s["confusion"] == [[2, 0, 0], [1, 1, 0], [0, 1, 0]]
    assert s["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
