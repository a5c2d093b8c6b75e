"""Adding a task: a minimal one (sequence reversal, a few dozen lines) registered and driven through the CLI.

What a new task writes is exactly what this file writes above the tests: its config, its model, the
trainer's view (a TrainingTask), setup/build/predict/evaluate/report and ``TASK = Task(...)``.  A task
module inside ``seqlab/tasks/`` is found by itself; one outside the package is added with ``register``.
"""
import re
from dataclasses import dataclass, field

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.cli import main
from seqlab.models.recurrent import RecurrentConfig, recurrent_layer
from seqlab.tasks import registry
from seqlab.tasks.recipe import Run
from seqlab.tasks.registry import Task, option
from seqlab.train.optim import OptimConfig
from seqlab.train.trainer import TrainConfig, TrainingTask


@dataclass
class ReverseData:
    length: int = 6  # symbols per sequence
    symbols: int = 4  # alphabet 0..symbols-1


@dataclass
class ReverseConfig:
    data: ReverseData = field(default_factory=ReverseData)
    model: RecurrentConfig = field(default_factory=lambda: RecurrentConfig("gru", hidden_size=64, bidirectional=True))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-2))
    train: TrainConfig = field(default_factory=TrainConfig)


class Reverser(nn.Module):
    def __init__(self, cfg: ReverseConfig) -> None:
        super().__init__()
        self.symbols = cfg.data.symbols
        self.rnn = recurrent_layer(cfg.model, self.symbols)
        self.out = nn.Linear(cfg.model.hidden_size * 2, self.symbols)

    def forward(self, x):  # (B, T) -> logits (B, T, S): position t predicts x[T-1-t]
        return self.out(self.rnn(F.one_hot(x, self.symbols).float())[0])


def sequences(cfg: ReverseConfig, n: int, seed: int) -> torch.Tensor:
    return torch.randint(cfg.data.symbols, (n, cfg.data.length), generator=torch.Generator().manual_seed(seed))


def accuracy(model, x) -> float:
    return (model(x).argmax(-1) == x.flip(1)).float().mean().item()


class ReverseTask(TrainingTask):
    metric, steps_per_epoch = "accuracy", 20

    def __init__(self, cfg: ReverseConfig, device) -> None:
        self.cfg, self.model, self.valid = cfg, Reverser(cfg).to(device), sequences(cfg, 200, -1)

    def batches(self, position):
        step = position or 0
        while True:
            step += 1
            yield step, sequences(self.cfg, self.cfg.train.batch_size, self.cfg.train.seed + step)

    def train_step(self, x):
        return F.cross_entropy(self.model(x).transpose(1, 2), x.flip(1)), x.numel()

    def evaluate(self) -> dict:
        a = accuracy(self.model, self.valid)
        return {"loss": F.cross_entropy(self.model(self.valid).transpose(1, 2), self.valid.flip(1)).item(),
                "accuracy": a, "selection": 1 - a}


@dataclass
class EvaluateOptions:
    examples: int = option(500, "fresh sequences to score")


TASK = Task(
    name="reverse", help="reverse a sequence of digits", data_help="not used (generated)", config=ReverseConfig,
    presets={"small": ReverseConfig},
    setup=lambda cfg, resume_dir, device: ReverseTask(cfg, device),
    build=lambda cfg, run_dir, device: Run(cfg, Reverser(cfg).to(device), run_dir, device),
    predict=lambda run, lines, options: ["".join(map(str, run.model(torch.tensor([[int(c) for c in line]]))
                                                  .argmax(-1)[0].tolist())) for line in lines],
    evaluate=lambda run, o: {"accuracy": accuracy(run.model, sequences(run.cfg, o.examples, 99))},
    evaluate_options=EvaluateOptions, report=lambda run, m: f"accuracy {m['accuracy']:.3f}",
)


@pytest.fixture
def reverse_task(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})
    return registry.register(TASK)


def test_a_new_task_trains_predicts_and_evaluates_through_the_cli(reverse_task, tmp_path, capsys):
    assert "reverse" in registry.tasks()
    args = ["train", "reverse", "--runs", str(tmp_path), "--name", "r", "--train.max_steps=300",
            "--train.eval_every=100", "--train.progress=false"]
    assert main(args) == 0
    assert "best accuracy" in capsys.readouterr().out
    (tmp_path / "in.txt").write_text("012321\n330012\n")
    assert main(["predict", str(tmp_path / "r"), "--input", str(tmp_path / "in.txt")]) == 0
    predicted = "".join(capsys.readouterr().out.split())
    assert len(predicted) == 12 and sum(a == b for a, b in zip(predicted, "123210" + "210033")) >= 10
    assert main(["evaluate", str(tmp_path / "r"), "--examples", "200"]) == 0
    assert float(capsys.readouterr().out.split()[1]) > 0.9
    with pytest.raises(SystemExit):
        main(["train", "reverse", "--help"])
    assert re.search(r"--data\.symbols=int +default 4 +alphabet 0\.\.symbols-1", capsys.readouterr().out)


def test_a_new_task_through_the_registry_in_python(reverse_task, tmp_path):
    task = registry.get("reverse")
    cfg = task.preset("small")
    cfg.train.max_steps, cfg.train.eval_every, cfg.train.progress = 40, 20, False
    result = task.train(cfg, tmp_path / "r")
    assert result["best"]["metric"] == "accuracy" and result["best"]["step"] in (20, 40)
    run = task.load(tmp_path / "r")
    assert task.evaluate(run, EvaluateOptions(50))["accuracy"] == pytest.approx(result["best"]["value"], abs=0.2)
