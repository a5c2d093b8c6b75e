"""The task interface: every task declares itself once, as a :class:`Task`, in its own module.

A task module in ``seqlab/tasks/`` ends with ``TASK = Task(...)``; :func:`tasks` finds
every such module (so adding a task is its module, its presets and its tests -- nothing
else is edited), and the CLI and the benchmarks reach a task only through it:

    seqlab train TASK [--data PATH] [--preset NAME] [--key=value ...]   -> task.train
    seqlab predict RUN_DIR [--input FILE] [task options]                  -> task.load, task.predict
    seqlab evaluate RUN_DIR [task options]                                -> task.load, task.evaluate

A run directory's ``config.json`` names its task, so predict and evaluate need no task
argument.  ``generate`` (language models) and ``translate`` (translation) remain as the
familiar names of their tasks' predictions.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqlab.errors import UserError


def _no_options(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Task:
    """What a task provides.

    ``train(cfg, run_dir, resume=False, callbacks=None)`` trains (or resumes) in ``run_dir``
    and returns the final validation metrics; ``load(run_dir, device)`` returns a trained run
    (any object ``predict`` and ``evaluate`` accept); ``predict(run, lines, options)`` turns
    input lines into one output line each; ``evaluate(run, options)`` returns a metrics dict;
    ``report(metrics)`` is its one-line summary.  ``predict_options`` / ``evaluate_options``
    add the task's own flags (``options`` is the parsed namespace).  A task whose predictions
    start from files named in its options (a series, recordings) sets ``reads_lines=False``.
    """

    name: str
    help: str
    data_help: str
    config: type
    presets: Mapping[str, Callable[[], Any]]
    train: Callable[..., dict]
    load: Callable[..., Any]
    predict: Callable[[Any, list[str], argparse.Namespace], Iterable[str]]
    evaluate: Callable[[Any, argparse.Namespace], dict]
    report: Callable[[dict], str]
    predict_options: Callable[[argparse.ArgumentParser], None] = field(default=_no_options)
    evaluate_options: Callable[[argparse.ArgumentParser], None] = field(default=_no_options)
    reads_lines: bool = True  # predict reads input lines (--input or stdin); False: its options name the input
    command: str = ""  # a CLI verb for this task's predict (seqlab translate, seqlab transcribe), besides predict
    export: Callable[[Any], Any] | None = None  # run -> seqlab.export.Exportable (seqlab export RUN_DIR)

    def preset(self, name: str):
        if name not in self.presets:
            raise UserError(f"unknown preset {name!r} for {self.name}; presets: {', '.join(self.presets) or 'none'}")
        return self.presets[name]()


def tasks() -> dict[str, Task]:
    """Every task: the ``TASK`` of each module in this package, by name."""
    import seqlab.tasks as package

    found = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        task = getattr(importlib.import_module(f"seqlab.tasks.{info.name}"), "TASK", None)
        if isinstance(task, Task):
            found[task.name] = task
    return found


def get(name: str) -> Task:
    table = tasks()
    if name not in table:
        raise UserError(f"unknown task {name!r}; tasks: {', '.join(table)}")
    return table[name]


def of_run(run_dir: str | Path) -> Task:
    """The task that trained ``run_dir`` (its config.json says which)."""
    from seqlab.train.rundir import task_of

    return get(task_of(run_dir))
