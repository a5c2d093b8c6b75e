"""The Free Spoken Digit Dataset's layout, its splits, and connected-digit utterances built from it.

Files are ``{digit}_{speaker}_{take}.wav`` (8 kHz mono).  Splits:

* ``official``: takes 0-4 of every speaker and digit are the test set, the rest train;
* ``speaker:NAME``: every recording of NAME is the test set (a speaker the model never heard).

Connected utterances join 2-7 recordings with random silences and gains, drawn from a
seeded generator, so the same seed gives the same utterances; each is built from the
recordings of one side of a split only.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from seqlab.data.wav import read_wav, wav_files
from seqlab.errors import UserError

NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    take: int


def read_fsdd(directory: str | Path) -> list[Recording]:
    """Every ``{digit}_{speaker}_{take}.wav`` of ``directory``; a .wav named otherwise is an error."""
    out = []
    for path in wav_files(directory):
        m = NAME.match(path.name)
        if not m:
            raise UserError(f"{path}: not an FSDD file name (expected DIGIT_SPEAKER_TAKE.wav)")
        out.append(Recording(path, int(m[1]), m[2], int(m[3])))
    return out


def split(recordings: list[Recording], how: str) -> tuple[list[Recording], list[Recording]]:
    """(train, test) recordings of the split ``how``: official | speaker:NAME."""
    if how == "official":
        test = [r for r in recordings if r.take < 5]
    elif how.startswith("speaker:"):
        speaker = how.split(":", 1)[1]
        speakers = sorted({r.speaker for r in recordings})
        if speaker not in speakers:
            raise UserError(f"data.split={how!r}: no speaker {speaker!r}; speakers: {', '.join(speakers)}")
        test = [r for r in recordings if r.speaker == speaker]
    else:
        raise UserError(f"data.split must be official or speaker:NAME, got {how!r}")
    held = set(test)
    return [r for r in recordings if r not in held], test


@dataclass
class Utterance:
    samples: torch.Tensor  # (N,) float32
    digits: list[int]
    sources: list[Recording]


def connected(recordings: list[Recording], count: int, seed: int, rate: int = 8000, digits: tuple[int, int] = (2, 7),
              silence: tuple[float, float] = (0.05, 0.4), gain: tuple[float, float] = (0.5, 1.5)) -> list[Utterance]:
    """``count`` utterances of 2-7 of ``recordings`` each, joined by silences, each recording at a random gain."""
    if not recordings:
        raise UserError("no recordings to build connected utterances from")
    rng, audio = random.Random(seed), {}
    out = []
    for _ in range(count):
        chosen = [rng.choice(recordings) for _ in range(rng.randint(*digits))]
        pieces = [torch.zeros(int(rng.uniform(*silence) * rate))]
        for r in chosen:
            if r.path not in audio:
                audio[r.path] = read_wav(r.path, rate)[0]
            pieces += [audio[r.path] * rng.uniform(*gain), torch.zeros(int(rng.uniform(*silence) * rate))]
        out.append(Utterance(torch.cat(pieces).clamp(-1, 1), [r.digit for r in chosen], chosen))
    return out
