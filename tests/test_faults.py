"""Faults during training and damaged run directories: kill -9 at random moments, a full disk at every write of a
checkpoint, SIGTERM, truncated or edited files.  Each ends in a one-line error, and nothing already saved is lost.

``SEQLAB_FAULT_TRIALS`` sets how many kill -9 trials run (2 by default in ``make test``; 30 for the full check).
"""
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TEXT, labelled_lines
from safetensors.torch import load_file

from seqlab.cli import main
from seqlab.train import checkpoint

LM = ["--model.embed_size=8", "--model.hidden_size=16", "--model.num_layers=1", "--train.batch_size=4",
      "--train.bptt=16", "--train.eval_batch_size=2", "--train.progress=false", "--model.dropout=0.2"]


def lm_args(corpus: Path, runs: Path, name: str, steps: int, every: int) -> list[str]:
    return ["train", "lm", "--data", str(corpus), "--runs", str(runs), "--name", name, *LM,
            f"--train.max_steps={steps}", f"--train.eval_every={every}", "--train.log_every=1"]


def weights(run_dir: Path) -> dict:
    return load_file(str(run_dir / "last" / "model.safetensors"))


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "rain.txt"
    path.write_text(TEXT)
    return path


def one_line_error(capsys, *words) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


# ---------------------------------------------------------------- a full disk at each write
WRITES = ["safetensors", "torch.save", "rename", "metrics"]


@pytest.mark.parametrize("where", WRITES)
def test_a_full_disk_stops_training_and_keeps_the_previous_checkpoint(where, corpus, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    assert main(lm_args(corpus, runs, "straight", 12, 4)) == 0
    run = runs / "full"

    def full(*args, **kwargs):  # every write after the first complete checkpoint finds the disk full
        if (run / "last" / "trainer.pt").is_file():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def failing(real):
        def write(*args, **kwargs):
            full()
            return real(*args, **kwargs)
        return write

    import seqlab.train.trainer as trainer_module

    targets = {"safetensors": (checkpoint, "save_model"), "torch.save": (checkpoint.torch, "save"),
               "rename": (Path, "rename"), "metrics": (trainer_module, "open")}
    owner, name = targets[where]
    monkeypatch.setattr(owner, name, failing(getattr(owner, name, open)), raising=False)
    assert main(lm_args(corpus, runs, "full", 12, 4)) == 2
    one_line_error(capsys, "No space left on device")
    monkeypatch.undo()
    kept = checkpoint.find(run / "last")
    assert kept is not None and checkpoint.load_trainer_state(kept)["step"] == 4  # the previous one, intact
    assert not (run / "last.tmp").exists()
    assert main(["train", "lm", "--resume", str(run), "--train.progress=false"]) == 0
    assert same_weights(run, runs / "straight")


# ---------------------------------------------------------------- signals
def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seqlab.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        path = run / "metrics.jsonl"
        if path.is_file() and any(json.loads(line).get("step", 0) >= step
                                  for line in path.read_text().splitlines() if line.strip().endswith("}")):
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never reached step {step}")


def test_sigterm_saves_a_checkpoint_and_exits_143(corpus, tmp_path):
    runs = tmp_path / "runs"
    assert main(lm_args(corpus, runs, "straight", 400, 50)) == 0
    proc = _spawn(lm_args(corpus, runs, "term", 400, 50))
    _wait_for_step(runs / "term", 20, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "seqlab: stopped: terminated (SIGTERM) at step" in err and "Traceback" not in err
    step = checkpoint.load_trainer_state(runs / "term" / "last")["step"]
    assert 20 <= step < 400
    assert main(["train", "lm", "--resume", str(runs / "term"), "--train.progress=false"]) == 0
    assert same_weights(runs / "term", runs / "straight")


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def test_kill_9_at_random_moments_never_loses_a_checkpoint(corpus, tmp_path):
    trials = int(os.environ.get("SEQLAB_FAULT_TRIALS", "2"))
    runs = tmp_path / "runs"
    assert main(lm_args(corpus, runs, "straight", 120, 10)) == 0
    rng, resumed = random.Random(2026), 0
    for trial in range(trials):
        run = runs / f"k{trial}"
        args = lm_args(corpus, runs, run.name, 120, 10)
        for _ in range(2):  # killed twice, then left to finish
            found = checkpoint.find(run / "last")
            before = _mtime(run / "metrics.jsonl")
            proc = _spawn(["train", "lm", "--resume", str(run), "--train.progress=false"] if found else args)
            while _mtime(run / "metrics.jsonl") == before and proc.poll() is None:  # until this process logs
                time.sleep(0.01)
            time.sleep(rng.uniform(0.2, 2.5))  # somewhere in training: between steps, in a save, in a log line
            proc.kill()
            proc.wait()
            found = checkpoint.find(run / "last")
            if found:  # whatever was on disk is whole: both files load
                print("killed; checkpoint at step", checkpoint.load_trainer_state(found)["step"])
                assert load_file(str(found / "model.safetensors"))
        found = checkpoint.find(run / "last")
        final = ["train", "lm", "--resume", str(run), "--train.progress=false"] if found else args
        resumed += found is not None
        assert main(final) == 0
        assert same_weights(run, runs / "straight"), f"trial {trial}"
    print(f"kill -9 trials: {trials}, resumed from a checkpoint: {resumed}, identical to the uninterrupted run: {trials}")
    assert resumed >= 1  # the kills do land after checkpoints (else this test would prove little)


# ---------------------------------------------------------------- damaged run directories
@pytest.fixture
def trained(tmp_path, capsys):
    data = tmp_path / "train.txt"
    data.write_text("\n".join(labelled_lines(120, 0)) + "\n")
    assert main(["train", "classify", "--data", str(data), "--runs", str(tmp_path), "--name", "c",
                 "--model.hidden_size=8", "--model.embed_size=8", "--train.max_steps=4",
                 "--train.progress=false"]) == 0
    capsys.readouterr()
    return tmp_path / "c", data


def _damage(run: Path, how: str) -> str:
    """Damage a run directory one way; the file name the error should name."""
    if how == "truncated weights":
        for which in ("best", "last"):
            path = run / which / "model.safetensors"
            path.write_bytes(path.read_bytes()[:100])
        return "model.safetensors"
    if how == "truncated trainer state":
        path = run / "last" / "trainer.pt"
        path.write_bytes(path.read_bytes()[:50])
        return "trainer.pt"
    if how == "other shapes":
        cfg = json.loads((run / "config.json").read_text())
        cfg["model"]["hidden_size"] = 12
        (run / "config.json").write_text(json.dumps(cfg))
        return "model.safetensors"
    if how == "config not json":
        (run / "config.json").write_text("{not json")
        return "config.json"
    if how == "no vocabulary":
        (run / "vocab.json").unlink()
        return "vocab.json"
    raise ValueError(how)


@pytest.mark.parametrize("how", ["truncated weights", "other shapes", "config not json", "no vocabulary",
                                 "truncated trainer state"])
def test_a_damaged_run_directory_is_named_in_one_line(how, trained, tmp_path, capsys):
    run, data = trained
    name = _damage(run, how)
    commands = [["evaluate", str(run), "--data", str(data)], ["train", "classify", "--resume", str(run)]]
    if how != "truncated trainer state":  # only --resume reads the trainer state
        commands += [["predict", str(run), "--input", str(data)], ["export", str(run), "--out", str(tmp_path / "x")]]
    for args in commands:
        if args[0] == "export":
            pytest.importorskip("onnx")
        if how == "truncated trainer state" and args[0] == "evaluate":
            assert main(args) == 0  # the weights are whole: evaluation needs nothing else
            capsys.readouterr()
            continue
        assert main(args) == 2, args
        one_line_error(capsys, name)
