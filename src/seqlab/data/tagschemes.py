"""Tag schemes of synchronous tagging: chunks <-> IOB1 / IOB2 (BIO) / BIOES tags, words <-> BMES.

A chunk is (type, start, end) over token positions, end exclusive.

* IOB1 (CoNLL-2003's own files): I-X inside chunks; B-X only on the first token of a
  chunk that directly follows another chunk of the same type.
* IOB2 / BIO: B-X on the first token of every chunk, I-X on the rest.
* BIOES (IOBES): S-X for one-token chunks; B-X, I-X ..., E-X for longer ones.
* BMES for word segmentation: per character, B(egin) / M(iddle) / E(nd) of a word, or
  S(ingle)-character word.

:func:`chunks` reads any of the three entity schemes the way ``conlleval`` does, so
converting between them is exact for well-formed input.  :func:`allowed_transitions`
lists which tag may follow which, for the CRF's constrained decoding.
"""
from __future__ import annotations

from seqlab.errors import UserError

SCHEMES = ("iob1", "iob2", "bioes")
PREFIXES = ("B", "I", "E", "S", "M")


def split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', '')."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in PREFIXES:
        return tag[0], tag[2:]
    return "", tag  # not a chunk tag (e.g. a POS tag)


def is_chunk_tagset(tags) -> bool:
    return all(split_tag(t)[0] in ("O", "B", "I", "E", "S") for t in tags)


def chunks(tags: list[str]) -> list[tuple[str, int, int]]:
    """Chunks of a tag sequence in IOB1, IOB2 or BIOES (conlleval's reading)."""
    out, start, kind, prev = [], None, "", "O"
    for t, tag in enumerate(tags + ["O"]):
        p, k = split_tag(tag)
        begins = p in ("B", "S") or (p in ("I", "E") and (prev in ("O", "E", "S") or k != kind))
        if start is not None and (p == "O" or begins or k != kind):
            out.append((kind, start, t))
            start = None
        if begins or (p in ("I", "E") and start is None):
            start, kind = t, k
        if p in ("E", "S") and start is not None:
            out.append((kind, start, t + 1))
            start = None
        prev = p if p else "O"
    return out


def from_chunks(found: list[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """Tags in ``scheme`` for ``found`` chunks over ``length`` tokens."""
    tags = ["O"] * length
    previous_end, previous_kind = -1, None
    for kind, start, end in found:
        if scheme == "bioes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            first = "I" if scheme == "iob1" and not (previous_end == start and previous_kind == kind) else "B"
            tags[start] = f"{first}-{kind}"
            for t in range(start + 1, end):
                tags[t] = f"I-{kind}"
            if scheme == "bioes":
                tags[end - 1] = f"E-{kind}"
        previous_end, previous_kind = end, kind
    return tags


def convert(tags: list[str], scheme: str) -> list[str]:
    if scheme not in SCHEMES:
        raise UserError(f"tag scheme must be one of {list(SCHEMES)}, got {scheme!r}")
    return from_chunks(chunks(tags), len(tags), scheme)


def evidence(tags: list[str]) -> set[str]:
    """What a sentence's tags say about their scheme: a subset of {'iob1', 'iob2', 'bioes', 'not-bioes'}."""
    found, prev_p, prev_k = set(), "O", ""
    for i, tag in enumerate(tags):
        p, k = split_tag(tag)
        nxt_p, nxt_k = split_tag(tags[i + 1]) if i + 1 < len(tags) else ("O", "")
        opens = prev_p in ("O", "E", "S") or prev_k != k
        if p in ("E", "S"):
            found.add("bioes")
        if p == "I" and opens:
            found.add("iob1")  # a chunk opened by I-: only IOB1 does that
        if p == "B" and opens:
            found.add("iob2")  # B- on a chunk not adjacent to one of its type: not IOB1
        if p == "B" and not (nxt_p in ("I", "E") and nxt_k == k):
            found.add("not-bioes")  # a one-token chunk with B-, or B- closed without E-
        if p == "I" and not (nxt_p in ("I", "E") and nxt_k == k):
            found.add("not-bioes")  # a chunk ending in I-
        prev_p, prev_k = (p if p else "O"), k
    return found


def detect_scheme(sentences: list[list[str]], where: list[str]) -> str:
    """The one scheme of a file's tag sequences; mixed schemes are a UserError naming two places.

    ``where[i]`` says where sentence i starts (e.g. 'eng.train line 12').  Sentences that fit
    every scheme (all O, say) say nothing; a file that says nothing is read as IOB2.
    """
    first: dict[str, str] = {}
    for tags, place in zip(sentences, where):
        for kind in evidence(tags):
            first.setdefault(kind, place)
    conflicts = [("bioes", "iob1"), ("bioes", "not-bioes"), ("iob1", "iob2")]
    for a, b in conflicts:
        if a in first and b in first:
            name = {"not-bioes": "IOB (B-/I- chunks without E-/S-)"}.get(b, b.upper())
            raise UserError(f"mixed tag schemes: {a.upper()} at {first[a]} but {name} at {first[b]}")
    if "bioes" in first:
        return "bioes"
    return "iob1" if "iob1" in first else "iob2"


def bmes(words: list[str]) -> list[str]:
    """Per-character BMES tags of a segmented sentence."""
    return [t for w in words for t in (["S"] if len(w) == 1 else ["B"] + ["M"] * (len(w) - 2) + ["E"])]


def words_from_bmes(chars: list[str], tags: list[str]) -> list[str]:
    """Words of ``chars`` cut where ``tags`` say (a new word after E/S and at B/S)."""
    words, current = [], ""
    for ch, tag in zip(chars, tags):
        if tag in ("B", "S") and current:
            words.append(current)
            current = ""
        current += ch
        if tag in ("E", "S"):
            words.append(current)
            current = ""
    return words + ([current] if current else [])


def allowed_transitions(tags: list[str], scheme: str):
    """(allowed[i][j]: tag j may follow tag i, start[j]: j may begin, end[i]: i may close) of ``scheme``."""
    parts = [(t, "") if scheme == "bmes" else split_tag(t) for t in tags]

    def follows(a, b) -> bool:
        (pa, ka), (pb, kb) = a, b
        if scheme == "bmes":
            return (pa in ("B", "M")) == (pb in ("M", "E"))
        if scheme == "bioes":
            inside = pa in ("B", "I")
            return (pb in ("I", "E") and kb == ka) if inside else pb in ("O", "B", "S")
        if scheme == "iob2":
            return pb != "I" or (pa in ("B", "I") and ka == kb)
        if scheme == "iob1":
            return pb != "B" or (pa in ("B", "I") and ka == kb)
        return True

    outside = ("O", "")
    start = [follows(("E", "") if scheme == "bmes" else outside, p) for p in parts]
    end = [follows(p, ("B", "") if scheme == "bmes" else outside) for p in parts]
    return [[follows(a, b) for b in parts] for a in parts], start, end
