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
    spans: list[tuple[int, int]]  # where each source lies in ``samples``: [start, end)


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
        at, spans = len(pieces[0]), []
        for r in chosen:
            if r.path not in audio:
                audio[r.path] = read_wav(r.path, rate)[0]
            pieces += [audio[r.path] * rng.uniform(*gain), torch.zeros(int(rng.uniform(*silence) * rate))]
            spans.append((at, at + len(pieces[-2])))
            at += len(pieces[-2]) + len(pieces[-1])
        out.append(Utterance(torch.cat(pieces).clamp(-1, 1), [r.digit for r in chosen], chosen, spans))
    return out


SILENCE = 0  # frame label of silence; digit d is d + 1


def frame_labels(u: Utterance, frames: int, hop: int, win: int, silence_db: float = 30.0) -> torch.Tensor:
    """(frames,) labels of an utterance's frames: silence, or 1 + the digit being spoken.

    Frame t is centred on sample t·hop (the STFT's centred frames) and spans ``win``
    samples.  The joins between recordings are silence by construction.  Inside a
    recording, the digit is the run from its first to its last frame whose energy is at
    most ``silence_db`` below the recording's loudest frame; the recording's quieter lead-in
    and tail are silence.  So each digit is one contiguous segment (a stop consonant's
    closure inside the word stays part of it).
    """
    labels = torch.full((frames,), SILENCE, dtype=torch.long)
    centres = torch.arange(frames) * hop
    padded = torch.nn.functional.pad(u.samples, (win // 2, win // 2))
    energy = padded.unfold(0, win, hop)[:frames].pow(2).mean(1)  # (frames,) mean square around each centre
    energy = torch.cat([energy, energy.new_zeros(frames - len(energy))])  # frames past the end: silent
    for digit, (start, end) in zip(u.digits, u.spans):
        inside = ((centres >= start) & (centres < end)).nonzero().flatten()
        if not len(inside):
            continue
        e = energy[inside]
        loud = (e >= e.max() * 10 ** (-silence_db / 10)).nonzero().flatten()
        labels[inside[loud[0]] : inside[loud[-1]] + 1] = digit + 1
    return labels
