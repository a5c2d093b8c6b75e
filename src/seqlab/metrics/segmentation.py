"""Word segmentation scores as the SIGHAN 2005 bakeoff scorer (``icwb2-data/scripts/score``) defines them.

A predicted word is correct when its character span [start, end) equals a gold word's
span in the same sentence.  Over the whole test set:

    P = correct / predicted words,  R = correct / gold words,  F1 = 2PR / (P + R)
    OOV recall = correct gold words not in the training word list / such gold words
    IV recall  = correct gold words in the training word list / such gold words

The sentences of gold and prediction must hold the same characters (spaces aside).
"""
from __future__ import annotations

from seqlab.errors import UserError


def spans(words: list[str]) -> list[tuple[int, int]]:
    out, start = [], 0
    for w in words:
        out.append((start, start + len(w)))
        start += len(w)
    return out


def segmentation_scores(gold: list[list[str]], predicted: list[list[str]], train_words: set[str]) -> dict:
    if len(gold) != len(predicted):
        raise UserError(f"{len(gold)} gold sentences but {len(predicted)} segmented ones")
    correct = n_gold = n_pred = oov = oov_ok = iv = iv_ok = 0
    for i, (g, p) in enumerate(zip(gold, predicted), 1):
        if "".join(g) != "".join(p):
            raise UserError(f"sentence {i}: the segmentation does not hold the gold characters")
        right = set(spans(g)) & set(spans(p))
        correct, n_gold, n_pred = correct + len(right), n_gold + len(g), n_pred + len(p)
        for word, span in zip(g, spans(g)):
            hit = span in right
            if word in train_words:
                iv, iv_ok = iv + 1, iv_ok + hit
            else:
                oov, oov_ok = oov + 1, oov_ok + hit
    precision, recall = correct / max(n_pred, 1), correct / max(n_gold, 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "oov_rate": oov / max(n_gold, 1),
            "oov_recall": oov_ok / oov if oov else float("nan"), "iv_recall": iv_ok / iv if iv else float("nan"),
            "gold_words": n_gold, "predicted_words": n_pred, "sentences": len(gold)}
