"""The trainer shared by every task.  It knows nothing about the model or the data.

A task object (a :class:`TrainingTask`; its docstring is the contract) gives the model, the
batches, one training step and the validation metrics.

The trainer does the rest: the optimizer step with gradient clipping, the learning-rate
schedule, evaluation every ``eval_every`` steps, early stopping, atomic checkpoints
(``last/`` and ``best/`` in the run directory), exact resume, a progress bar, metrics in
``metrics.jsonl``, a clean stop on Ctrl-C, and a stop with a clear message on NaN/Inf.
Named callbacks (``on_eval``, run on rank 0) let a task add to it without subclassing.  Under
torchrun the same loop runs data-parallel: see :mod:`seqlab.train.distributed`.
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
from tqdm import tqdm

from seqlab.errors import TrainingDiverged, UserError
from seqlab.fields import INT_MAX, Count, NonNegative, Range, Seed, Size, check
from seqlab.train import checkpoint, distributed
from seqlab.train.optim import OptimConfig, averaged, build_optimizer, build_scheduler


@dataclass
class TrainConfig:
    batch_size: Size = 32  # sequences (LM: streams) per optimizer step
    bptt: Size = 64  # truncated-BPTT window (LM) / maximum length
    epochs: Annotated[float, Range(0, INT_MAX)] = 0.0  # > 0: train this many passes over the data (overrides max_steps set with it in a preset;
    # a --train.max_steps given on the command line without --train.epochs sets epochs to 0)
    max_steps: Count = 1000  # optimizer steps (unless train.epochs > 0)
    max_minutes: NonNegative = 0.0  # > 0: stop (evaluated and checkpointed) after this much training time
    eval_every: Count = 0  # steps between evaluations; 0: once per epoch
    eval_batch_size: Size = 10  # validation batch size (LM: streams)
    log_every: Size = 10  # steps between progress-bar and metrics.jsonl updates
    patience: Count = 0  # early stopping after this many evaluations without improvement; 0: off
    seed: Seed = 1337  # seeds torch, numpy and random; the batch order and dropout follow from it
    device: str = "auto"  # auto | cpu | cuda
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # fp32 | bf16 | fp16 (fp16: CUDA only, with a gradient scaler): autocast in training
    progress: bool = True  # show a progress bar
    tensorboard: bool = False  # also write TensorBoard logs to RUN_DIR/tensorboard


def flush_denormals() -> None:
    """Flush denormal floats to zero, in this thread and every thread started after it.

    Vanishing gradients over long sequences are full of denormals (|x| < 1.2e-38), and x86
    arithmetic on them is many times slower: an LSTM step on the adding problem at T = 1000
    (batch 64, hidden 128, 2-core CPU) takes 3.5 s without flushing, 1.75 s with the main
    thread flushing, 0.4 s with every thread flushing; numbers that small change no result.
    Worker threads copy the flag when they are created, so the command line and the benchmarks
    call this before anything starts torch's thread pool.
    """
    torch.set_flush_denormal(True)


def training_device(cfg: TrainConfig) -> torch.device:
    """The device to train on, once the train config's values have been checked (every task's first step)."""
    check(cfg, "train.")
    device = resolve_device(cfg.device)
    _check_precision(cfg, device)
    return device


def _check_precision(cfg: TrainConfig, device: torch.device) -> None:
    if cfg.precision == "fp16" and device.type != "cuda":
        raise UserError(f"train.precision=fp16 needs a CUDA device (training on {device.type}); "
                        "on a CPU use train.precision=bf16")


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingTask:
    """The trainer's view of a task: what a task object provides (the base gives the defaults).

    ``model``                      the nn.Module to train
    ``steps_per_epoch``            optimizer steps in one pass over the training data
    ``batches(position)``          an endless iterator of ``(next_position, batch)`` from ``position``
                                   (None: the start); positions are what a checkpoint stores
    ``train_step(batch)``          forward + loss: returns (mean loss tensor, tokens in the batch)
    ``evaluate()``                 validation metrics, a dict with at least ``loss``; an optional
                                   ``selection`` (lower is better, e.g. 1 - accuracy) picks the
                                   ``best/`` checkpoint and drives early stopping instead of ``loss``;
                                   an optional ``done`` (True: the task's goal is reached) ends training
    ``metric``                     the figure of ``evaluate()`` reported as the best (``loss``, ``accuracy``)
    ``state_dict()`` / ``load_state_dict(d)``   task-side state for an exact resume (e.g. carried
                                   hidden states); none by default
    ``shards_itself``              True: under torchrun the task's batches are already this rank's share
                                   (the LM's streams, generated problems); otherwise a batch must be a list
                                   or a tensor of examples, and the trainer keeps this rank's rows of it
                                   (see :mod:`seqlab.train.distributed`)
    ``gradient_steps``             False for a model fitted in one go (``fit()``, e.g. least squares) or
                                   with nothing to fit: it is evaluated and saved at step 0
    ``save(run_dir)``              the files a new run keeps besides config.json (vocabularies, ...)
    """

    metric = "loss"
    shards_itself = False
    gradient_steps = True

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, d: dict) -> None:
        pass

    def fit(self) -> None:
        """The one-go fit of a model without gradient steps (nothing by default)."""

    def save(self, run_dir: Path) -> None:
        """Write this run's own files (vocabularies, normalisers) into a new run directory."""


class Interrupted(UserError):
    """Ctrl-C: the run stopped between steps and saved a resumable checkpoint."""


class Preempted(Interrupted):
    """SIGTERM (what a cluster scheduler sends before pre-emption): stopped, checkpoint saved; exit status 143."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"train.device must be auto, cpu or cuda, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"train.device={name!r} but torch sees no CUDA device")
    return distributed.local_device(torch.device(name))


class _StopFlag(threading.Event):
    """Set by the first Ctrl-C or SIGTERM; ``signum`` says which."""

    signum = signal.SIGINT


@contextmanager
def _stop_flag():
    """Turn the first Ctrl-C or SIGTERM into a flag the loop checks between steps; a second Ctrl-C aborts."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.signum = signal.SIGTERM if signum == signal.SIGTERM else flag.signum
        flag.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass
class _Progress:
    step: int = 0
    position: object = None
    best: float = math.inf
    bad_evals: int = 0
    elapsed: float = 0.0  # training seconds before this process
    last_eval_step: int = -1
    done: bool = False  # the task said its goal is reached (evaluate() -> "done": True)
    best_step: int = 0
    best_metrics: dict | None = None  # the validation metrics of the best/ checkpoint


class Trainer:
    def __init__(self, task, train: TrainConfig, optim: OptimConfig, run_dir: Path,
                 callbacks: dict[str, list[Callable]] | None = None) -> None:
        self.task, self.cfg, self.run_dir = task, train, Path(run_dir)
        check(train, "train."), check(optim, "optim.")
        self.max_steps = round(train.epochs * task.steps_per_epoch) if train.epochs > 0 else train.max_steps
        if self.max_steps < 1:
            raise UserError(f"train.max_steps must be at least 1, got {self.max_steps}")
        self.eval_every = train.eval_every or task.steps_per_epoch
        self.optimizer = build_optimizer(optim, task.model.parameters())
        self.scheduler = build_scheduler(optim, self.optimizer, self.max_steps, task.steps_per_epoch)
        self.clip = optim.clip
        self.ema = averaged(optim, task.model)  # optim.ema > 0: the moving average that is evaluated and kept
        self.callbacks = callbacks or {}
        self.progress = _Progress()
        self.main = distributed.is_main()
        self._writer = self._tensorboard() if train.tensorboard and self.main else None
        self.device = next(task.model.parameters()).device
        self.autocast_dtype = PRECISIONS[train.precision]
        _check_precision(train, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if train.precision == "fp16" else None
        if distributed.active():
            distributed.broadcast_parameters(task.model)
            torch.manual_seed(train.seed * 1_000 + distributed.rank())  # dropout masks differ between ranks

    # ------------------------------------------------------------ checkpoints
    def _state(self) -> dict:
        p = self.progress
        return {"step": p.step, "position": p.position, "best": p.best, "bad_evals": p.bad_evals,
                "elapsed": p.elapsed + self._clock(), "last_eval_step": p.last_eval_step, "done": p.done,
                "best_step": p.best_step, "best_metrics": p.best_metrics,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "rng": checkpoint.rng_state(), "task": self.task.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler else {},
                "ema": self.ema.state_dict() if self.ema is not None else {}}

    def save(self, name: str = "last") -> Path:
        """Every rank calls it; rank 0 writes, with every rank's RNG and task state."""
        state = self._state()
        if distributed.active():
            state["ranks"] = distributed.gather(distributed.to_cpu({"rng": state["rng"], "task": state["task"]}))
        if self.main:
            checkpoint.save(self.run_dir / name, self.task.model, state)
        return self.run_dir / name

    def resume(self) -> None:
        found = checkpoint.find(self.run_dir / "last")
        if found is None:
            raise UserError(f"--resume: no checkpoint in {self.run_dir} (expected {self.run_dir / 'last'})")
        checkpoint.load_weights(found, self.task.model)
        state = checkpoint.load_trainer_state(found)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        ranks = state.get("ranks", [{"rng": state["rng"], "task": state["task"]}])
        if len(ranks) != distributed.world():
            raise UserError(f"--resume: {found} was written by {len(ranks)} process(es); resume it with "
                            f"torchrun --nproc-per-node {len(ranks)} (this run has {distributed.world()})")
        checkpoint.set_rng_state(ranks[distributed.rank()]["rng"])
        self.task.load_state_dict(ranks[distributed.rank()]["task"])
        self.progress = _Progress(state["step"], state["position"], state["best"], state["bad_evals"],
                                  state["elapsed"], state["last_eval_step"], state.get("done", False),
                                  state.get("best_step", 0), state.get("best_metrics"))
        self._forget_metrics_after(self.progress.step)

    def _forget_metrics_after(self, step: int) -> None:
        """Drop the metrics a crashed process logged after its last checkpoint: they are about to be logged again."""
        path = self.run_dir / "metrics.jsonl"
        if not self.main or not path.is_file():
            return
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
        if len(kept) != len(lines):
            tmp = path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            tmp.replace(path)

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict:
        """Train to ``max_steps`` (or the time budget, or early stopping); returns the last metrics.

        On a CPU, this thread flushes denormal floats to zero while training (see :func:`flush_denormals`).
        """
        flush = self.device.type == "cpu" and torch.set_flush_denormal(True)
        try:
            return self._fit()
        finally:
            if flush:
                torch.set_flush_denormal(False)

    def _fit(self) -> dict:
        self._start = time.perf_counter()
        p, metrics = self.progress, {}
        bar = tqdm(total=self.max_steps, initial=p.step, disable=not (self.cfg.progress and self.main),
                   dynamic_ncols=True, desc=self.run_dir.name)
        tokens, tick = 0, time.perf_counter()
        batches = self.task.batches(p.position)
        split = distributed.active() and not getattr(self.task, "shards_itself", False)
        spent = distributed.agree(0.0, 0, self._out_of_time(), device=self.device)[2][0]  # resumed, budget used up
        with _stop_flag() as interrupted:
            while p.step < self.max_steps and not spent and not self._stopped_early():  # then: time_up, agreed
                p.position, batch = next(batches)
                loss, n, time_up, asked = self._step(distributed.shard(batch) if split else batch, interrupted)
                p.step, tokens = p.step + 1, tokens + n
                bar.update(1)
                if p.step % self.cfg.log_every == 0:
                    rate, tokens, tick = tokens / (time.perf_counter() - tick), 0, time.perf_counter()
                    bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self._lr():.2e}", tok_s=f"{rate:,.0f}")
                    self._log({"split": "train", "loss": loss, "lr": self._lr(), "tokens_per_s": rate})
                stop = time_up or p.step == self.max_steps
                if p.step % self.eval_every == 0 or stop:
                    t0 = time.perf_counter()
                    metrics = self._evaluate()
                    tick += time.perf_counter() - t0  # tokens/s counts training time only
                    stop = stop or p.done or (self.cfg.patience and p.bad_evals >= self.cfg.patience)
                    asked = asked or distributed.agree(0.0, 0, interrupted.is_set(), device=self.device)[2][0]
                if asked:
                    self.save()
                    bar.close()
                    kind, what = (Preempted, "terminated (SIGTERM)") if interrupted.signum == signal.SIGTERM else \
                        (Interrupted, "interrupted")
                    raise kind(f"{what} at step {p.step}; checkpoint saved in {self.run_dir / 'last'} "
                               f"(resume with --resume)")
                if stop:
                    break
        bar.close()
        if not metrics and p.last_eval_step == p.step:  # resuming a finished run: report where it stands, and
            return self._score()  # change nothing (no metrics row, no checkpoint, no patience counted)
        if p.last_eval_step != p.step:  # stopped between evaluations (time budget)
            metrics = self._evaluate()
        return metrics

    def _step(self, batch, interrupted: threading.Event) -> tuple[float, int, bool, bool]:
        """One optimizer step: (loss, tokens, the time budget is spent, Ctrl-C was pressed), agreed by all ranks."""
        model = self.task.model
        model.train()
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            loss, n = self.task.train_step(batch)
        self.optimizer.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        value, n, (time_up, asked) = distributed.agree(loss.item(), n, self._out_of_time(), interrupted.is_set(),
                                                      device=self.device)
        if not math.isfinite(value):
            last = checkpoint.find(self.run_dir / "last")
            kept = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
            raise TrainingDiverged(f"loss is {value} at step {self.progress.step + 1}: training stopped; {kept}. "
                                   f"Try a lower optim.lr or a smaller optim.clip")
        distributed.average_gradients(model)
        if self.scaler:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip)
        if self.scaler:
            self.scaler.step(self.optimizer)  # skipped when a gradient overflowed fp16
            self.scaler.update()
        else:
            self.optimizer.step()
        if not isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(model)
        return value, n, time_up, asked

    def _score(self, averaged: bool = True) -> dict:
        """The validation metrics of the model (optim.ema: of the average, unless the caller holds it), every rank."""
        self.task.model.eval()
        with self._averaged_weights() if averaged else nullcontext(), torch.no_grad():
            metrics = self.task.evaluate() if self.main else None  # rank 0 evaluates, every rank decides alike
        return distributed.broadcast(metrics)

    def _evaluate(self) -> dict:
        p = self.progress
        with self._averaged_weights():  # optim.ema: the average is what is evaluated and kept in best/
            metrics = self._score(averaged=False)
            p.last_eval_step = p.step
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(metrics["loss"])
            p.done = bool(metrics.get("done", False))
            score = metrics.get("selection", metrics["loss"])
            improved = score < p.best
            p.best, p.bad_evals = (score, 0) if improved else (p.best, p.bad_evals + 1)
            if improved:
                p.best_step, p.best_metrics = p.step, {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
                self.save("best")
        self._log({"split": "valid", **metrics})
        self.save("last")
        for fn in self.callbacks.get("on_eval", []) if self.main else []:
            fn(self, metrics)
        return metrics

    def best(self, metric: str) -> dict:
        """``{"metric", "value", "step"}`` of the best/ checkpoint: ``metric`` of its validation metrics."""
        found = self.progress.best_metrics or {}
        return {"metric": metric, "value": found.get(metric, math.nan), "step": self.progress.best_step}

    # --------------------------------------------------------------- helpers
    @contextmanager
    def _averaged_weights(self):
        """With ``optim.ema``: the model holds the moving average inside, its trained weights again after."""
        if self.ema is None:
            yield
            return
        model = self.task.model
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.ema.module.state_dict())
        try:
            yield
        finally:
            model.load_state_dict(trained)

    def _clock(self) -> float:
        return time.perf_counter() - self._start if hasattr(self, "_start") else 0.0

    def _stopped_early(self) -> bool:
        """Early stopping (or the task's goal) already happened: a resumed run that had stopped stays stopped."""
        return self.progress.done or (bool(self.cfg.patience) and self.progress.bad_evals >= self.cfg.patience)

    def _out_of_time(self) -> bool:
        budget = self.cfg.max_minutes * 60
        return budget > 0 and self.progress.elapsed + self._clock() >= budget

    def _lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def _log(self, record: dict) -> None:
        if not self.main:
            return
        record = {"step": self.progress.step, "time_s": round(self.progress.elapsed + self._clock(), 2), **record}
        try:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:
            last = checkpoint.find(self.run_dir / "last")
            raise checkpoint.CheckpointWriteError(
                f"could not write {self.run_dir / 'metrics.jsonl'}: {e.strerror or e}; "
                + (f"the last checkpoint is {last}" if last else "no checkpoint had been written yet")) from None
        if self._writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step",):
                    self._writer.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("train.tensorboard=true needs the tensorboard package (pip install tensorboard)") from None
        return SummaryWriter(str(self.run_dir / "tensorboard"))
