"""Linear-chain CRF: the structured output layer of the notes' synchronous tagging.

For emissions E (B, T, K) from the encoder and a tag sequence y_1..y_n (n = length):

    s(x, y) = start[y_1] + sum_{t=1..n} E[t, y_t] + sum_{t=2..n} A[y_{t-1}, y_t] + end[y_n]
    p(y | x) = exp s(x, y) / Z(x),   log Z(x) = logsumexp over all K^n sequences of s(x, y)

log Z by the forward algorithm in log space,
    alpha_1(j) = start[j] + E[1, j],   alpha_t(j) = logsumexp_i(alpha_{t-1}(i) + A[i, j]) + E[t, j],
    log Z = logsumexp_j(alpha_n(j) + end[j]),
and the best sequence by Viterbi (max instead of logsumexp, with back-pointers).  Both run
on a batch at once; a step past a sequence's end (``mask`` False) leaves alpha as it was.

Transitions that the tag scheme forbids (``allowed`` False: I-X after O in IOB2, M/E
without B in BMES, ...) get a fixed score of -10^4 in the likelihood and -inf in Viterbi,
so that no invalid sequence can ever be decoded.  ``A[i, j]`` is the score of tag i
followed by tag j, the layout of pytorch-crf.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

FORBIDDEN = -1e4


class LinearChainCRF(nn.Module):
    def __init__(self, num_tags: int, allowed=None, allowed_start=None, allowed_end=None) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        def mask(value, shape):  # None: everything allowed
            return torch.ones(shape, dtype=torch.bool) if value is None else torch.as_tensor(value, dtype=torch.bool)

        self.register_buffer("allowed", mask(allowed, (num_tags, num_tags)), persistent=False)
        self.register_buffer("allowed_start", mask(allowed_start, (num_tags,)), persistent=False)
        self.register_buffer("allowed_end", mask(allowed_end, (num_tags,)), persistent=False)

    def transition_scores(self, forbidden: float = FORBIDDEN) -> tuple[Tensor, Tensor, Tensor]:
        """(A, start, end) with the forbidden entries set to ``forbidden``."""
        return (self.transitions.masked_fill(~self.allowed, forbidden),
                self.start_transitions.masked_fill(~self.allowed_start, forbidden),
                self.end_transitions.masked_fill(~self.allowed_end, forbidden))

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z(x) per sequence: emissions (B, T, K), mask (B, T) bool with mask[:, 0] True -> (B,)."""
        trans, start, end = self.transition_scores(FORBIDDEN)
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha[:, :, None] + trans, dim=1) + emissions[:, t]  # (B, K)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        return torch.logsumexp(alpha + end, dim=-1)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """s(x, y) of the given tags (B, T) -> (B,)."""
        trans, start, end = self.transition_scores(FORBIDDEN)
        m = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags[..., None]).squeeze(-1)  # (B, T)
        s = start[tags[:, 0]] + (emit * m).sum(1)
        s = s + (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1)[:, None]).squeeze(1)  # (B,)
        return s + end[last]

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Negative log-likelihood per sequence, -log p(y | x) = log Z(x) - s(x, y): (B,)."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """Viterbi: the highest-scoring allowed tag sequence of each sequence, as lists of its length."""
        trans, start, end = self.transition_scores(float("-inf"))
        delta = start + emissions[:, 0]  # (B, K)
        pointers = []
        for t in range(1, emissions.shape[1]):
            best, arg = (delta[:, :, None] + trans).max(dim=1)  # (B, K): best previous tag for each tag
            delta = torch.where(mask[:, t, None], best + emissions[:, t], delta)
            pointers.append(arg)
        lengths = mask.sum(1).tolist()
        last = (delta + end).argmax(-1).tolist()
        pointers = torch.stack(pointers, 1).tolist() if pointers else []  # (B, T-1, K)
        paths = []
        for b, n in enumerate(lengths):
            path = [last[b]]
            for t in range(n - 2, -1, -1):
                path.append(pointers[b][t][path[-1]])
            paths.append(path[::-1])
        return paths
