"""Two character language models, one reading left to right and one right to left, as a feature extractor.

Akbik, Blythe & Vollgraf 2018 ("Contextual String Embeddings for Sequence Labeling"): a forward
character LM and a backward one (the same model reading the reversed text) are trained on raw
text; a sentence w_1..w_n is then read as the characters of

    s = "\\n" + w_1 + " " + w_2 + " " + ... + w_n + "\\n"          (a line of the training stream)

and word w_i, spanning characters a_i..b_i of s, is represented by

    x_i = [ h^f_{b_i} ; h^b_{a_i} ]

h^f_t the forward LM's state after reading s_0..s_t (so after the word's last character, having
read everything to its left), h^b_t the backward LM's state after reading s_{L-1} down to s_t (so
before the word's first character in reading order, having read everything to its right).  The
states are the top layer's h_t of :class:`seqlab.models.lm.RecurrentLM`, each direction's own.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.errors import UserError
from seqlab.models.lm import ModelConfig, RecurrentLM

START = END = "\n"  # a sentence is read as one line of the training text


class BiCharLM(nn.Module):
    def __init__(self, cfg: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        if cfg.cell == "transformer":
            raise UserError("model.cell=transformer: the character LMs must be recurrent (their states are the "
                            "word vectors)")
        self.forward_lm = RecurrentLM(cfg, vocab_size)
        self.backward_lm = RecurrentLM(cfg, vocab_size)
        self.output_size = 2 * cfg.hidden_size
        self.keep = False  # frozen_vectors keeps each sentence's vectors (set while a tagger trains, not to predict)
        self.cache: dict[bytes, Tensor] = {}  # a sentence's characters -> its (n, 2H) float16 vectors
        self.cache_elements = 0

    def word_vectors(self, batch: dict) -> Tensor:
        """(B, T, 2H) contextual vectors from the batch's ``ctx_forward``/``ctx_backward`` (B, L) character ids (the
        sentence and the sentence reversed, right-padded) and ``ctx_forward_at``/``ctx_backward_at`` (B, T): the
        index of each word's last character in the first and of its first character in the second."""
        h_f = self.forward_lm.states(batch["ctx_forward"])  # (B, L, H)
        h_b = self.backward_lm.states(batch["ctx_backward"])
        pick = lambda h, at: h.gather(1, at[..., None].expand(-1, -1, h.shape[-1]))  # (B, T, H)
        return torch.cat([pick(h_f, batch["ctx_forward_at"]), pick(h_b, batch["ctx_backward_at"])], -1)

    CACHE_LIMIT = 2**29  # float16 elements kept by frozen_vectors (1 GiB); sentences past it are computed each time

    @torch.no_grad()
    def frozen_vectors(self, batch: dict) -> Tensor:
        """:meth:`word_vectors` of frozen LMs, each sentence's computed once: kept as float16 under its characters
        (the LMs are causal and each row is read alone, so a sentence's vectors do not depend on its batch) and
        returned as float32 -- always rounded through float16, cached or not, so training and prediction see the
        same numbers.  Only while ``keep`` is set (a tagger's training, whose epochs read the same sentences again);
        prediction and serving compute each batch, so a long-lived server does not grow.  Loading weights empties
        the store."""
        at_f = batch["ctx_forward_at"]
        if not self.keep or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():  # the same numbers, no store
            real = torch.arange(at_f.shape[1], device=at_f.device) < batch["lengths"][:, None]
            return self.word_vectors(batch).half().float() * real[..., None]
        n_words = batch["lengths"].tolist()
        ends = at_f.gather(1, (batch["lengths"] - 1).clamp(min=0)[:, None]).squeeze(1).tolist()  # last word's end
        ids = batch["ctx_forward"].cpu()
        keys = [ids[b, : ends[b] + 2].numpy().tobytes() for b in range(len(n_words))]  # the line, "\n" to "\n"
        missing = [b for b, key in enumerate(keys) if key not in self.cache]
        found: dict[int, Tensor] = {}
        if missing:
            rows = torch.tensor(missing, device=at_f.device)
            width = max(ends[b] for b in missing) + 2
            sub = {"ctx_forward": batch["ctx_forward"][rows, :width], "ctx_backward": batch["ctx_backward"][rows, :width],
                   "ctx_forward_at": at_f[rows], "ctx_backward_at": batch["ctx_backward_at"][rows]}
            vectors = self.word_vectors(sub).half()  # (B', T, 2H)
            for i, b in enumerate(missing):
                found[b] = vectors[i, : n_words[b]]
                if self.cache_elements + found[b].numel() <= self.CACHE_LIMIT:
                    self.cache[keys[b]] = found[b].clone()
                    self.cache_elements += found[b].numel()
        out = at_f.new_zeros(*at_f.shape, self.output_size, dtype=torch.float32)
        for b, key in enumerate(keys):
            out[b, : n_words[b]] = found[b] if b in found else self.cache[key]
        return out

    def _load_from_state_dict(self, *args, **kwargs):  # new weights: the vectors kept are no longer theirs
        self.cache.clear()
        self.cache_elements = 0
        super()._load_from_state_dict(*args, **kwargs)


def sentence_chars(vocab, tokens: list[str]) -> dict:
    """The character ids of ``"\\n" + " ".join(tokens) + "\\n"`` forwards and reversed, and where each word ends
    (its last character, forwards) and begins (its first character, in the reversed ids)."""
    text = START + " ".join(tokens) + END
    ids = vocab.encode(text)
    forward_at, backward_at, start = [], [], len(START)
    for token in tokens:
        end = start + len(token) - 1  # the word's last character
        forward_at.append(end)
        backward_at.append(len(text) - 1 - start)  # its first character, counted from the reversed text's start
        start = end + 2  # past the space
    return {"ctx_forward": ids, "ctx_backward": ids[::-1], "ctx_forward_at": forward_at,
            "ctx_backward_at": backward_at}


def collate_chars(batch: dict, items: list[dict]) -> None:
    """Pad the items' :func:`sentence_chars` into the batch: (B, L) ids (0 past each end) and (B, T) indices."""
    B, T = batch["words"].shape
    L = max(len(x["ctx_forward"]) for x in items)
    for key in ("ctx_forward", "ctx_backward"):
        batch[key] = torch.zeros(B, L, dtype=torch.long)
    for key in ("ctx_forward_at", "ctx_backward_at"):
        batch[key] = torch.zeros(B, T, dtype=torch.long)
    for b, x in enumerate(items):
        for key in ("ctx_forward", "ctx_backward", "ctx_forward_at", "ctx_backward_at"):
            batch[key][b, : len(x[key])] = torch.tensor(x[key], dtype=torch.long)
