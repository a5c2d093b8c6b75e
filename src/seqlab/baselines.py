"""Classical baselines measured beside the neural models in the same benchmark run.

* :class:`MostFrequentTag` -- each word's most frequent training tag; a word never seen
  gets the most frequent tag overall (ties: the tag seen first).
* :func:`perceptron_tagger` -- NLTK's averaged-perceptron POS tagger *trained on the same
  file* (no downloaded model; ``nltk`` is a benchmark dependency, ``pip install seqlab[bench]``).
* :func:`tagger_rows` -- both, fitted and scored on the benchmark's files in one call.
* :func:`kmer_logistic` / :func:`onehot_logistic` -- nucleotide sequences as a bag of
  k-mers (k = 1..k_max) or as one-hot letters per position, then logistic regression
  (scikit-learn pipelines, fitted on lists of strings).
"""
from __future__ import annotations

from collections import Counter, defaultdict

from seqlab.errors import UserError


class MostFrequentTag:
    def __init__(self, sentences: list[tuple[list[str], list[str]]]) -> None:
        """``sentences``: (tokens, tags) pairs of the training file."""
        by_word: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for tokens, tags in sentences:
            for w, t in zip(tokens, tags):
                by_word[w][t] += 1
                overall[t] += 1
        if not overall:
            raise UserError("the most-frequent-tag baseline needs at least one tagged token")
        self.tag = {w: c.most_common(1)[0][0] for w, c in by_word.items()}
        self.default = overall.most_common(1)[0][0]

    def __call__(self, tokens: list[str]) -> list[str]:
        return [self.tag.get(w, self.default) for w in tokens]


def perceptron_tagger(sentences: list[tuple[list[str], list[str]]], iterations: int = 5, seed: int = 0):
    """NLTK's averaged perceptron trained on ``sentences``; returns tokens -> tags."""
    import random

    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError:
        raise UserError("the perceptron baseline needs nltk: pip install 'seqlab[bench]'") from None
    tagger = PerceptronTagger(load=False)
    random.seed(seed)  # nltk shuffles the sentences with the global generator between iterations
    tagger.train([list(zip(tokens, tags)) for tokens, tags in sentences], nr_iter=iterations)
    return lambda tokens: [t for _, t in tagger.tag(tokens)] if tokens else []


def tagger_rows(train: list[tuple[list[str], list[str]]], parts: dict[str, list], **labels) -> list[dict]:
    """Both tagging baselines fitted on ``train`` ((tokens, tags) pairs) and scored on each of ``parts`` (name ->
    sentences with ``tokens`` and ``tags``): token accuracy, and on words not in ``train``; ``labels`` go into
    each row (e.g. the tag field)."""
    import time

    from seqlab.metrics.tagging import token_accuracy

    known = {w for tokens, _ in train for w in tokens}
    rows = []
    for name, fit in (("most-frequent-tag", MostFrequentTag), ("nltk-perceptron", perceptron_tagger)):
        start = time.perf_counter()
        tagger = fit(train)
        row = {"baseline": name, **labels, "train_time_s": round(time.perf_counter() - start, 1)}
        for part, sentences in parts.items():
            scores = token_accuracy([s.tags for s in sentences], [tagger(s.tokens) for s in sentences],
                                    [s.tokens for s in sentences], known)
            row[part] = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}
        print(row, flush=True)
        rows.append(row)
    return rows


def kmer_logistic(k_max: int = 4, C: float = 1.0):
    """Bag of k-mers (k = 1..k_max, counts) -> logistic regression."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    return make_pipeline(CountVectorizer(analyzer="char", ngram_range=(1, k_max), lowercase=False), MaxAbsScaler(),
                         LogisticRegression(C=C, max_iter=5000))


def onehot_logistic(C: float = 0.1):
    """One-hot letter per position (sequences of one length) -> logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    letters = FunctionTransformer(lambda texts: [list(t) for t in texts])
    return make_pipeline(letters, OneHotEncoder(handle_unknown="ignore"), LogisticRegression(C=C, max_iter=5000))
