"""Named starting configurations, kept importable here by name; each task declares its own.

The language-model presets live in :mod:`seqlab.tasks.lm`, the translation presets in
:mod:`seqlab.tasks.translate`, those of every other task in its module; ``TASK.presets``
lists them and ``seqlab train TASK --preset NAME`` picks one.
"""
from __future__ import annotations

from seqlab.data.corpus import bundled_corpus
from seqlab.tasks.lm import (
    char_lstm_small,
    ptb_medium,
    ptb_small,
    shakespeare_char,
    shakespeare_mingru,
    shakespeare_transformer,
)
from seqlab.tasks.translate import multi30k

__all__ = ["bundled_corpus", "char_lstm_small", "multi30k", "preset", "ptb_medium", "ptb_small", "shakespeare_char",
           "shakespeare_mingru", "shakespeare_transformer"]


def preset(name: str, task: str = "lm"):
    """The config of preset ``name`` of ``task``."""
    from seqlab.tasks import registry

    return registry.get(task).preset(name)
