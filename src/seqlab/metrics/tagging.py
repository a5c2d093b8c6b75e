"""Token accuracy of plain tags (part of speech), overall and on out-of-vocabulary words.

    accuracy     = tokens tagged right / tokens
    OOV accuracy = OOV tokens tagged right / OOV tokens,  OOV: the token, as written, not in the training file

The same function scores the neural taggers and the baselines, so their OOV figures count
the same tokens.
"""
from __future__ import annotations

from seqlab.errors import UserError


def token_accuracy(gold: list[list[str]], predicted: list[list[str]], tokens: list[list[str]],
                   known: set[str]) -> dict:
    if not len(gold) == len(predicted) == len(tokens):
        raise UserError(f"{len(gold)} gold sentences, {len(predicted)} predicted, {len(tokens)} token lists")
    right = n = oov = oov_right = 0
    for g_tags, p_tags, words in zip(gold, predicted, tokens):
        if not len(g_tags) == len(p_tags) == len(words):
            raise UserError(f"a sentence of {len(words)} tokens has {len(g_tags)} gold and {len(p_tags)} predicted tags")
        for g, p, w in zip(g_tags, p_tags, words):
            n, right = n + 1, right + (g == p)
            if w not in known:
                oov, oov_right = oov + 1, oov_right + (g == p)
    return {"token_accuracy": right / n if n else 0.0, "tokens": n,
            "oov_accuracy": oov_right / oov if oov else 0.0, "oov_tokens": oov}
