"""Decoding an encoder-decoder model: greedy and beam search, batched.

Beam search keeps the K best partial translations per sentence; a hypothesis that emits
<eos> is finished and scored with length normalisation, log p(y) / |y|^alpha (alpha = 0:
raw log-probability, which favours short outputs; alpha = 1: per-token average).  A
sentence is done when K hypotheses have finished; at ``max_len`` the live ones count as
finished.  With K = 1 this is exactly greedy decoding.

The model provides ``encode``, ``init_state``, ``decode_step`` and ``reorder`` (see
:mod:`seqlab.models.seq2seq`).
"""
from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def greedy_search(model, src: Tensor, lengths: Tensor, bos: int, eos: int, max_len: int) -> list[list[int]]:
    """The most likely next token at every step; returns one token list per sentence (no <bos>/<eos>)."""
    memory = model.encode(src, lengths)
    state = model.init_state(memory)
    token = torch.full((src.shape[0],), bos, dtype=torch.long, device=src.device)
    out, done = [], torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        logits, state, _ = model.decode_step(token, state, memory)
        token = logits.argmax(-1)
        out.append(token)
        done |= token == eos
        if done.all():
            break
    return [_until_eos(row, eos) for row in torch.stack(out, 1).tolist()]


def _until_eos(tokens: list[int], eos: int) -> list[int]:
    return tokens[: tokens.index(eos)] if eos in tokens else tokens


@torch.no_grad()
def beam_search(model, src: Tensor, lengths: Tensor, bos: int, eos: int, max_len: int, beam: int = 5,
                alpha: float = 1.0) -> list[list[int]]:
    """Batched beam search with length normalisation; returns the best token list per sentence."""
    batch, device = src.shape[0], src.device
    memory = model.encode(src, lengths)
    state, memory = model.reorder(model.init_state(memory), memory,
                                  torch.arange(batch, device=device).repeat_interleave(beam))
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis per sentence at the start
    history = torch.full((batch * beam, 0), bos, dtype=torch.long, device=device)
    token = torch.full((batch * beam,), bos, dtype=torch.long, device=device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    for step in range(1, max_len + 1):
        logits, state, _ = model.decode_step(token, state, memory)
        logp = logits.float().log_softmax(-1)  # (B*K, V)
        vocab = logp.shape[-1]
        cand = (scores.view(-1, 1) + logp).view(batch, beam * vocab)
        top_scores, top_index = cand.topk(min(2 * beam, beam * vocab), dim=-1)  # (B, 2K)
        rows, new_scores, new_tokens = _select(top_scores, top_index, vocab, beam, eos, step, alpha, history, finished)
        if all(len(f) >= beam for f in finished):
            break
        index = torch.tensor(rows, device=device)
        state, memory = model.reorder(state, memory, index)
        token = torch.tensor(new_tokens, device=device)
        history = torch.cat([history.index_select(0, index), token[:, None]], 1)
        scores = torch.tensor(new_scores, device=device).view(batch, beam)
    for b in range(batch):  # at max_len the live hypotheses count as finished
        for k in range(beam):
            if scores[b, k] > float("-inf"):
                finished[b].append((scores[b, k].item() / max(1, history.shape[1]) ** alpha, history[b * beam + k].tolist()))
    return [max(f, key=lambda x: x[0])[1] for f in finished]


def _select(top_scores, top_index, vocab, beam, eos, step, alpha, history, finished):
    """Split the 2K best candidates of each sentence into finished (<eos> among the top K) and the K
    best non-<eos> ones that live on (2K candidates always hold K of those)."""
    rows, new_scores, new_tokens = [], [], []
    for b, (scores_b, index_b) in enumerate(zip(top_scores.tolist(), top_index.tolist())):
        live = []
        for rank, (score, idx) in enumerate(zip(scores_b, index_b)):
            k, tok = divmod(idx, vocab)
            if score == float("-inf"):
                continue
            if tok == eos:  # finished only if it ranks among the K best candidates
                if rank < beam and len(finished[b]) < beam:
                    finished[b].append((score / step**alpha, history[b * beam + k].tolist()))
            elif len(live) < beam:
                live.append((b * beam + k, score, tok))
        while len(live) < beam:  # keep shapes: pad with dead hypotheses
            live.append((b * beam, float("-inf"), eos))
        for row, score, tok in live:
            rows.append(row)
            new_scores.append(score if len(finished[b]) < beam else float("-inf"))
            new_tokens.append(tok)
    return rows, new_scores, new_tokens
