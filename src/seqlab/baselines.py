"""Classical baselines measured beside the neural models in the same benchmark run.

* :class:`MostFrequentTag` -- each word's most frequent training tag; a word never seen
  gets the most frequent tag overall (ties: the tag seen first).
* :func:`perceptron_tagger` -- NLTK's averaged-perceptron POS tagger *trained on the same
  file* (no downloaded model; ``nltk`` is a benchmark dependency, ``pip install seqlab[bench]``).
* :func:`tagger_rows` -- both, fitted and scored on the benchmark's files in one call.
* :func:`kmer_logistic` / :func:`onehot_logistic` / :func:`onehot_svm` / :func:`onehot_boosting` --
  nucleotide sequences as a bag of k-mers (k = 1..k_max) or as one-hot letters per position,
  then logistic regression, an RBF-kernel SVM or gradient-boosted trees (scikit-learn
  pipelines, fitted on lists of strings); :func:`tuned` searches each one's grid by inner
  cross-validation.
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


def _letters(texts):
    return [list(t) for t in texts]


def _onehot(dense: bool = False):
    """Sequences of one length -> one 0/1 column per (position, letter) seen in training."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    return make_pipeline(FunctionTransformer(_letters), OneHotEncoder(handle_unknown="ignore", sparse_output=not dense))


def onehot_logistic(C: float = 0.1):
    """One-hot letter per position (sequences of one length) -> logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_onehot(), LogisticRegression(C=C, max_iter=5000))


def onehot_svm(C: float = 1.0, gamma: float | str = "scale"):
    """One-hot letter per position -> an RBF-kernel SVM: exp(-gamma ||x - x'||^2), where ||x - x'||^2 is twice
    the number of positions at which the two sequences differ."""
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    return make_pipeline(_onehot(), SVC(C=C, gamma=gamma, kernel="rbf"))


def onehot_boosting(learning_rate: float = 0.1, max_leaf_nodes: int = 31, seed: int = 0):
    """One-hot letter per position -> scikit-learn's histogram gradient-boosted trees (early stopping on an
    internal tenth of the data it is fitted on)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_onehot(dense=True), HistGradientBoostingClassifier(
        learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes, max_iter=500, early_stopping=True,
        random_state=seed))


# the classical models of nucleotide sequences -> class, each with the grid that inner cross-validation on a
# training part searches (scikit-learn's pipeline step names)
SEQUENCE_BASELINES = {
    "kmer-logistic": (kmer_logistic, {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}),
    "onehot-logistic": (onehot_logistic, {"logisticregression__C": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]}),
    "onehot-svm-rbf": (onehot_svm, {"svc__C": [1.0, 3.0, 10.0], "svc__gamma": [0.01, 0.02, 0.04, 0.08]}),
    "onehot-boosting": (onehot_boosting, {"histgradientboostingclassifier__learning_rate": [0.1, 0.2, 0.3],
                                          "histgradientboostingclassifier__max_leaf_nodes": [15, 31, 63]}),
}


def tuned(name: str, texts: list[str], labels: list[str], folds: int = 3, seed: int = 0):
    """The baseline ``name`` of :data:`SEQUENCE_BASELINES` with its grid searched by stratified ``folds``-fold
    cross-validation on (texts, labels) alone, refitted on all of them; returns (model, chosen parameters)."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    make, grid = SEQUENCE_BASELINES[name]
    search = GridSearchCV(make(), grid, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                          scoring="accuracy", refit=True)
    search.fit(texts, labels)
    return search.best_estimator_, {k.split("__")[-1]: v for k, v in search.best_params_.items()}
