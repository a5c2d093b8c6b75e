"""CTC decoding: collapsing, greedy and prefix beam search against hand-made posteriors and brute force."""
import itertools
import math

import torch

from seqlab.ctc import collapse, edit_distance, greedy_decode, prefix_beam_search


def log_probs(rows):
    return torch.tensor(rows, dtype=torch.float64).log()


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 1, 2]) == [1, 1, 2]  # a repeated label survives only across a blank
    assert collapse([1, 1, 1]) == [1]
    assert collapse([0, 0, 0]) == []
    assert collapse([2, 0, 0, 2, 2, 0, 3]) == [2, 2, 3]


def test_greedy_on_hand_made_posteriors():
    #            blank  a    b
    frames = [[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]
    assert greedy_decode(log_probs(frames)) == [1, 1, 2]  # "a a - a b" -> a a b


def test_beam_search_sums_the_paths_of_a_prefix():
    # Best path "--" reads "", but "a" has the paths "a-", "-a", "aa": 0.24 + 0.24 + 0.16 = 0.64 > 0.36.
    frames = log_probs([[0.6, 0.4], [0.6, 0.4]])
    assert greedy_decode(frames) == []
    assert prefix_beam_search(frames, beam=4) == [1]


def brute_force_best(lp: torch.Tensor) -> list[int]:
    scores: dict[tuple, float] = {}
    T, V = lp.shape
    for path in itertools.product(range(V), repeat=T):
        label = tuple(collapse(list(path)))
        p = math.exp(sum(lp[t, s].item() for t, s in enumerate(path)))
        scores[label] = scores.get(label, 0.0) + p
    return list(max(scores, key=scores.get))


def test_wide_beam_equals_brute_force_over_every_path():
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        lp = torch.randn(5, 3, generator=g, dtype=torch.float64).mul(1.5).log_softmax(-1)
        assert prefix_beam_search(lp, beam=100) == brute_force_best(lp)


def test_beam_one_equals_greedy_when_each_frame_is_confident():
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        T, V = 12, 5
        top = torch.randint(0, V, (T,), generator=g)
        p = torch.rand(T, V, generator=g, dtype=torch.float64) * 0.05  # the top symbol keeps > 0.5
        p[torch.arange(T), top] = 0.6 + 0.3 * torch.rand(T, generator=g, dtype=torch.float64)
        lp = (p / p.sum(-1, keepdim=True)).log()
        assert prefix_beam_search(lp, beam=1) == greedy_decode(lp)


def test_edit_distance():
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([], [1, 2]) == 2 and edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([1, 2, 3], [3, 2, 1]) == 2
