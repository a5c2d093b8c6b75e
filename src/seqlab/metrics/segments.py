"""Segments of frame labels, and segment-level precision / recall / F1 with a boundary tolerance.

A segment is a maximal run of frames with one label other than the background (silence):
``(label, start, end)``, ``end`` exclusive.  A predicted segment is correct when an as yet
unmatched gold segment has the same label and both boundaries within ``tolerance`` frames
(each gold segment matches at most one predicted segment):

    P = correct / predicted segments,  R = correct / gold segments,  F1 = 2PR / (P + R)
"""
from __future__ import annotations

Segment = tuple[int, int, int]  # (label, start, end)


def segments(labels: list[int], background: int = 0) -> list[Segment]:
    out: list[Segment] = []
    start = 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            if labels[start] != background:
                out.append((labels[start], start, t))
            start = t
    return out


def matches(gold: list[Segment], predicted: list[Segment], tolerance: int) -> int:
    """How many predicted segments find their own gold segment (same label, both ends within ``tolerance``)."""
    free, correct = list(gold), 0
    for label, start, end in predicted:
        for i, (g_label, g_start, g_end) in enumerate(free):
            if g_label == label and abs(g_start - start) <= tolerance and abs(g_end - end) <= tolerance:
                correct += 1
                del free[i]
                break
    return correct


def segment_scores(gold: list[list[Segment]], predicted: list[list[Segment]], tolerance: int = 2) -> dict:
    correct = sum(matches(g, p, tolerance) for g, p in zip(gold, predicted))
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, predicted))
    p = correct / n_pred if n_pred else 0.0
    r = correct / n_gold if n_gold else 0.0
    return {"segment_precision": p, "segment_recall": r, "segment_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "segments": n_gold, "tolerance": tolerance}
