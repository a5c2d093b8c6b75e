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

    def word_vectors(self, batch: dict) -> Tensor:
        """(B, T, 2H) contextual vectors from the batch's ``ctx_forward``/``ctx_backward`` (B, L) character ids (the
        sentence and the sentence reversed, right-padded) and ``ctx_forward_at``/``ctx_backward_at`` (B, T): the
        index of each word's last character in the first and of its first character in the second."""
        h_f = self.forward_lm.states(batch["ctx_forward"])  # (B, L, H)
        h_b = self.backward_lm.states(batch["ctx_backward"])
        pick = lambda h, at: h.gather(1, at[..., None].expand(-1, -1, h.shape[-1]))  # (B, T, H)
        return torch.cat([pick(h_f, batch["ctx_forward_at"]), pick(h_b, batch["ctx_backward_at"])], -1)


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
