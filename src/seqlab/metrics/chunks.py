"""Entity-level micro precision / recall / F1, overall and per type, through ``seqeval``.

seqeval's default mode reads chunks as the CoNLL ``conlleval`` script does (an ``I-X``
after ``O`` or after another type opens a chunk, so IOB1, IOB2 and BIOES are all read
correctly); these are the numbers published on CoNLL-2003.  A predicted or gold tag that
is not a chunk tag at all is read by seqeval as outside.
"""
from __future__ import annotations


def chunk_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    per_type = {name: {"precision": round(float(r["precision"]), 4), "recall": round(float(r["recall"]), 4),
                       "f1": round(float(r["f1-score"]), 4), "support": int(r["support"])}
                for name, r in report.items() if not name.endswith(" avg")}
    return {"precision": float(precision_score(gold, predicted, zero_division=0)),
            "recall": float(recall_score(gold, predicted, zero_division=0)),
            "f1": float(f1_score(gold, predicted, zero_division=0)),
            "per_type": per_type, "sentences": len(gold), "tokens": sum(map(len, gold)),
            "token_accuracy": sum(g == p for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps))
            / max(1, sum(map(len, gold)))}
