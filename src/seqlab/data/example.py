"""One labelled text: what every sequence -> class reader returns (labelled lines and tables, UCI splice files)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Example:
    text: str  # the sentence, or the nucleotide sequence
    label: str  # the class, as the file writes it
