"""Accuracy, macro-F1, per-class precision / recall / F1 and the confusion matrix (scikit-learn).

Gold labels the model never saw are kept as classes of their own: every example of such
a class counts as wrong (a model cannot predict a label it does not know), and the
confusion matrix gains a row for it.
"""
from __future__ import annotations


def classification_scores(gold: list[str], predicted: list[str], known: list[str]) -> dict:
    # imported here: scikit-learn takes ~2.5 s to import, which every CLI call would otherwise pay
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(known) + sorted(set(gold) - set(known))
    p, r, f, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per_class = {label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                         "f1": round(float(f[i]), 4), "support": int(support[i])} for i, label in enumerate(labels)}
    present = [label for label in labels if label in set(gold) | set(predicted)]
    return {"accuracy": float(accuracy_score(gold, predicted)),
            "macro_f1": float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0)),
            "per_class": per_class, "labels": labels,
            "confusion": confusion_matrix(gold, predicted, labels=labels).tolist(), "examples": len(gold),
            "unseen_labels": sorted(set(gold) - set(known))}
