"""The task interface: every task declares itself once, as a :class:`Task`, in its own module.

A task module in ``seqlab/tasks/`` ends with ``TASK = Task(...)``; :func:`tasks` finds
every such module (so adding a task is its module, its presets and its tests -- nothing
else is edited; see "Adding a task" in docs/tasks/index.md), and the CLI and the benchmarks reach a
task only through it:

    seqlab train TASK [--data PATH] [--preset NAME] [--key=value ...]   -> task.train
    seqlab predict RUN_DIR [--input FILE] [task options]                  -> task.load, task.predict
    seqlab evaluate RUN_DIR [task options]                                -> task.load, task.evaluate

A run directory's ``config.json`` names its task, so predict and evaluate need no task
argument.  A task's own predict / evaluate options are a dataclass (``predict_options``,
``evaluate_options``) whose fields the CLI turns into flags (``train_words`` ->
``--train-words``; the help from ``option(...)``); in Python they are passed as that dataclass.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

import seqlab.tasks
from seqlab.errors import UserError
from seqlab.tasks import recipe
from seqlab.tasks.panel import Panel
from seqlab.train.rundir import task_of


def option(default: Any = MISSING, help: str = "", **extra) -> Any:
    """A field of a task's options dataclass: its default (none: a required option, declared first), its
    help, and ``positional=True`` (a list of strings: the positional arguments, which ``--input`` extends).
    The field's type says what it allows: a ``Literal`` its choices, a :mod:`seqlab.fields` range a number's."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class NoOptions:
    """A task that takes no options of its own."""


@dataclass(frozen=True)
class Command:
    """A command of the CLI that a task adds: ``seqlab NAME`` (or ``seqlab GROUP NAME``: ``group="plot"``).
    ``options`` is a dataclass whose fields the CLI turns into flags (``positional=True``: an argument);
    ``run(options)`` does the work and prints its result."""

    help: str
    options: type
    run: Callable[[Any], None]
    group: str = ""


@dataclass(frozen=True)
class Task:
    """What a task provides; :mod:`seqlab.tasks.recipe` does the rest.

    ``setup(cfg, resume_dir, device)`` reads the data and builds the model and the trainer's view
    of the task (a :class:`seqlab.train.trainer.TrainingTask`; ``resume_dir`` is the run being resumed,
    whose vocabularies it reuses, or None); ``build(cfg, run_dir, device)`` builds a trained run's
    :class:`~seqlab.tasks.recipe.Run` from its config and files (the recipe loads the weights);
    ``predict(run, lines, options)`` turns input lines (an iterable, streamed by the CLI: see
    :mod:`seqlab.data.lines`) into output lines, best yielded a chunk at a time; ``evaluate(run, options)``
    returns a metrics dict and ``report(run, metrics)`` its summary.  ``test(run)``, when given,
    scores the test data named in the config at the end of training (None: none named).  A task
    whose predictions start from files named in its options sets ``reads_lines=False``.  What else
    the CLI and ``seqlab serve`` offer for a task, the task declares here too: ``command`` (a verb for its
    predict), ``generate``, ``export``, ``panel`` and ``commands``; the CLI and the server know no task by name.
    """

    name: str
    help: str
    data_help: str
    config: type
    presets: Mapping[str, Callable[[], Any]]
    setup: Callable[..., Any]
    build: Callable[..., recipe.Run]
    predict: Callable[[Any, Iterable[str], Any], Iterable[str]]
    evaluate: Callable[[Any, Any], dict]
    report: Callable[[Any, dict], str]
    predict_options: type = NoOptions
    evaluate_options: type = NoOptions
    reads_lines: bool = True  # predict reads input lines (--input or stdin); False: its options name the input
    many_files: bool = False  # train --data takes several files (data.path: their paths joined by commas)
    command: str = ""  # a CLI verb for this task's predict (seqlab translate, seqlab transcribe), besides predict
    export: Callable[[Any], Any] | None = None  # run -> seqlab.export.Exportable (seqlab export RUN_DIR)
    test: Callable[[Any], dict | None] | None = None  # run -> scores of the config's test data, if it names any
    generate: Callable[..., None] | None = None  # (run_dir, GenerateOptions, device, write): seqlab generate RUN_DIR
    panel: Panel | None = None  # its panel in seqlab serve (seqlab.tasks.panel)
    commands: Mapping[str, Command] = field(default_factory=dict)  # commands of its own: seqlab demo, seqlab plot ...

    def preset(self, name: str):
        if name not in self.presets:
            raise UserError(f"unknown preset {name!r} for {self.name}; presets: {', '.join(self.presets) or 'none'}")
        return self.presets[name]()

    def train(self, cfg, run_dir: str | Path, resume: bool = False, callbacks=None) -> dict:
        """Train (or resume) in ``run_dir``: the last validation metrics, ``best`` and ``steps`` (and ``test``)."""
        return recipe.train(self, cfg, Path(run_dir), resume, callbacks)

    def load(self, run_dir: str | Path, device: str = "auto", which: str = "best") -> recipe.Run:
        """A trained run, its model in eval mode on ``device``."""
        return recipe.load(self, Path(run_dir), device, which)


_REGISTERED: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task defined outside this package (a plugin, a test) to :func:`tasks`."""
    _REGISTERED[task.name] = task
    return task


def tasks() -> dict[str, Task]:
    """Every task: the ``TASK`` of each module in this package, by name, and the registered ones."""
    found = {}
    for info in sorted(pkgutil.iter_modules(seqlab.tasks.__path__), key=lambda m: m.name):
        task = getattr(importlib.import_module(f"seqlab.tasks.{info.name}"), "TASK", None)
        if isinstance(task, Task):
            found[task.name] = task
    return {**found, **_REGISTERED}


def get(name: str) -> Task:
    table = tasks()
    if name not in table:
        raise UserError(f"unknown task {name!r}; tasks: {', '.join(table)}")
    return table[name]


def of_run(run_dir: str | Path) -> Task:
    """The task that trained ``run_dir`` (its config.json says which)."""
    return get(task_of(run_dir))
