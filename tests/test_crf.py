"""The linear-chain CRF against brute-force enumeration, gradcheck, constraints, and pytorch-crf."""
import itertools

import pytest
import torch

from seqlab.data.tagschemes import allowed_transitions, chunks, convert
from seqlab.nn.crf import LinearChainCRF


def _brute_force(crf, emissions, mask):
    """log Z and the best path of each sequence by scoring every tag sequence."""
    K, T = crf.num_tags, emissions.shape[1]
    out = []
    for b in range(emissions.shape[0]):
        n = int(mask[b].sum())
        paths = list(itertools.product(range(K), repeat=n))
        tags = torch.tensor([list(p) + [0] * (T - n) for p in paths])
        scores = crf.score(emissions[b : b + 1].expand(len(paths), -1, -1), tags, mask[b : b + 1].expand(len(paths), -1))
        out.append((torch.logsumexp(scores, 0), list(paths[int(scores.argmax())])))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_log_partition_and_viterbi_equal_enumeration(seed):
    torch.manual_seed(seed)
    K, T = 3, 5
    crf = LinearChainCRF(K).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(4, T, K, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1, 4])
    mask = torch.arange(T) < lengths[:, None]
    log_z, paths = crf.log_partition(emissions, mask), crf.decode(emissions, mask)
    for b, (z, best) in enumerate(_brute_force(crf, emissions, mask)):
        assert torch.allclose(log_z[b], z, atol=1e-10)
        assert paths[b] == best


def test_constrained_log_partition_and_viterbi_equal_enumeration_of_valid_paths():
    torch.manual_seed(0)
    tags = ["O", "B-X", "I-X", "E-X", "S-X"]
    crf = LinearChainCRF(len(tags), *allowed_transitions(tags, "bioes")).double()
    emissions = torch.randn(3, 4, len(tags), dtype=torch.float64) * 3
    mask = torch.arange(4) < torch.tensor([4, 2, 3])[:, None]
    log_z, paths = crf.log_partition(emissions, mask), crf.decode(emissions, mask)
    for b in range(3):
        n = int(mask[b].sum())
        valid = [p for p in itertools.product(range(len(tags)), repeat=n)
                 if convert([tags[i] for i in p], "bioes") == [tags[i] for i in p]]
        t = torch.tensor([list(p) + [0] * (4 - n) for p in valid])
        scores = crf.score(emissions[b : b + 1].expand(len(valid), -1, -1), t, mask[b : b + 1].expand(len(valid), -1))
        assert torch.allclose(log_z[b], torch.logsumexp(scores, 0), atol=1e-8)
        assert paths[b] == list(valid[int(scores.argmax())])


def test_gradcheck_through_the_crf_loss():
    torch.manual_seed(1)
    crf = LinearChainCRF(3).double()
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    tags = torch.randint(0, 3, (2, 4))
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)

    def loss(e, a, s, t):
        weights = {"transitions": a, "start_transitions": s, "end_transitions": t}
        return torch.func.functional_call(crf, weights, (e, tags, mask)).sum()

    params = [p.detach().clone().requires_grad_() for p in (crf.transitions, crf.start_transitions, crf.end_transitions)]
    assert torch.autograd.gradcheck(loss, (emissions, *params))


@pytest.mark.parametrize("scheme, tags", [
    ("bioes", ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]),
    ("iob2", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
    ("bmes", ["B", "M", "E", "S"]),
])
def test_constrained_decoder_never_emits_an_invalid_sequence(scheme, tags):
    torch.manual_seed(2)
    crf = LinearChainCRF(len(tags), *allowed_transitions(tags, scheme))
    emissions = torch.randn(200, 12, len(tags)) * 10  # emissions that alone would pick invalid tags often
    mask = torch.arange(12) < torch.randint(1, 13, (200,))[:, None]
    for path in crf.decode(emissions, mask):
        seq = [tags[i] for i in path]
        if scheme == "bmes":
            assert seq[0] in "BS" and seq[-1] in "ES"
            assert all((a in "BM") == (b in "ME") for a, b in itertools.pairwise(seq))
        else:
            assert convert(seq, scheme) == seq, seq  # re-encoding a valid sequence changes nothing
            assert chunks(seq) == chunks(convert(seq, "iob1"))


def test_same_log_likelihood_as_pytorch_crf():
    torchcrf = pytest.importorskip("torchcrf", reason="pytorch-crf is not installed")
    torch.manual_seed(3)
    K = 5
    ref = torchcrf.CRF(K, batch_first=True).double()
    crf = LinearChainCRF(K).double()
    crf.load_state_dict({"transitions": ref.transitions, "start_transitions": ref.start_transitions,
                         "end_transitions": ref.end_transitions})
    emissions = torch.randn(6, 7, K, dtype=torch.float64)
    tags = torch.randint(0, K, (6, 7))
    mask = torch.arange(7) < torch.tensor([7, 1, 3, 5, 7, 2])[:, None]
    assert torch.allclose(ref(emissions, tags, mask, reduction="none"), -crf(emissions, tags, mask), atol=1e-10)
    assert ref.decode(emissions, mask) == crf.decode(emissions, mask)
