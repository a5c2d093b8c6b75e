"""A loaded run as ``seqlab serve`` holds it, and the gradient-flow plot that every recurrent run's panel offers.

What a panel shows and does is the task's own (:mod:`seqlab.tasks.panel`: its form, its button, its action or
stream); this module knows no task by name.
"""
from __future__ import annotations

import threading
from pathlib import Path

import torch

from seqlab.errors import UserError
from seqlab.tasks import registry
from seqlab.tasks.panel import png


class ServedRun:
    """A run loaded for the page; ``lock`` serialises the model's use across requests, ``state`` is the task's
    cache (what its panel reads once per run)."""

    def __init__(self, index: int, run_dir: str | Path, device: str = "auto") -> None:
        self.index, self.run_dir = index, Path(run_dir)
        self.task = registry.of_run(self.run_dir)
        if self.task.panel is None:
            raise UserError(f"{self.run_dir} is a {self.task.name} run, which has no panel in seqlab serve")
        self.run = self.task.load(self.run_dir, device)
        self.lock = threading.Lock()
        self.state: dict = {}
        self._gradients: str | None = None

    def describe(self) -> dict:
        """What the page needs to lay out this panel: its form, its button, how it answers."""
        panel = self.task.panel
        return {"index": self.index, "name": self.run_dir.name, "path": str(self.run_dir), "task": self.task.name,
                "help": self.task.help, "recurrent": recurrent_layer(self.run.model) is not None,
                "form": panel.form(self), "verb": panel.verb, "stream": panel.stream is not None,
                "upload": panel.upload}

    def answer(self, fields: dict, upload: bytes | None) -> dict:
        if self.task.panel.action is None:
            raise UserError(f"{self.run_dir.name} is a {self.task.name} run: its panel streams (use /stream)")
        return self.task.panel.action(self, fields, upload)

    def stream(self, fields: dict):
        if self.task.panel.stream is None:
            raise UserError(f"{self.run_dir.name} is a {self.task.name} run: its panel does not stream")
        return self.task.panel.stream(self, fields)

    def gradients(self) -> str:
        """The gradient-flow plot of this run's first recurrent layer (computed once)."""
        if self._gradients is None:
            with self.lock:
                self._gradients = png(lambda out: gradient_flow_png(self.run.model, self.run_dir.name, out))
        return self._gradients


def recurrent_layer(model: torch.nn.Module):
    """The first seqlab RNN / LSTM / GRU layer in ``model`` (None: not a recurrent model)."""
    from seqlab.nn import GRU, LSTM, RNN

    return next((m for m in model.modules() if isinstance(m, (RNN, LSTM, GRU))), None)


def gradient_flow_png(model: torch.nn.Module, name: str, out: Path, steps: int = 100) -> Path:
    """||dL_T/dh_k|| through the model's first recurrent layer (its first layer, forward direction), for
    unit-variance random inputs and the loss 0.5 ||h_T||^2: how far back the trained weights carry a gradient."""
    from seqlab.nn import gradient_flow
    from seqlab.plots import plot_gradient_flow

    layer = recurrent_layer(model)
    if layer is None:
        raise UserError(f"{name} has no recurrent layer (a Transformer or a feed-forward model): no gradient flow")
    p = next(layer.parameters())
    x = torch.randn(8, steps, layer.input_size, generator=torch.Generator().manual_seed(0)).to(p)
    time = 1 if layer.batch_first else 0
    norms = gradient_flow(layer, x.movedim(1, time), lambda out: 0.5 * out.select(time, -1).pow(2).sum(),
                          first_only=True)
    cell = type(layer).__name__
    return plot_gradient_flow({f"{name} ({cell}, layer 1)": norms.tolist()}, out,
                              f"gradient flow back from step T={steps} (trained weights, random inputs)")
