"""Long-range memory problems: the generators' layouts and baselines, the IRNN / forget-bias options, training."""
import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.cli import main
from seqlab.data.memory import baseline, generate
from seqlab.errors import UserError
from seqlab.tasks import memory


def test_adding_layout_and_the_always_one_baseline():
    x, y = generate("adding", 20_000, 50, seed=0)
    assert x.shape == (20_000, 50, 2)
    markers = x[..., 1]
    assert torch.all(markers.sum(1) == 2) and torch.all(markers[:, :25].sum(1) == 1)
    assert torch.allclose((x[..., 0] * markers).sum(1), y)
    assert abs(F.mse_loss(torch.ones_like(y), y).item() - baseline("adding", 50)) < 0.005  # 1/6
    assert torch.equal(generate("adding", 4, 50, seed=3)[0], generate("adding", 4, 50, seed=3)[0])


def test_copy_layout_and_the_memoryless_baseline():
    T = 30
    x, y = generate("copy", 8, T, seed=1)
    assert x.shape == y.shape == (8, T + 20)
    assert torch.all((x[:, :10] >= 1) & (x[:, :10] <= 8)) and torch.all(x[:, 9 + T] == 9)
    assert torch.all(x[:, 10 : 9 + T] == 0) and torch.all(x[:, T + 10 :] == 0)
    assert torch.equal(y[:, -10:], x[:, :10]) and torch.all(y[:, :-10] == 0)
    # blanks with certainty, then a uniform guess over the 8 symbols: 10 ln 8 / (T + 20)
    logits = torch.full((8, T + 20, 10), -1e9)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:9] = 0.0
    ce = F.cross_entropy(logits.transpose(1, 2), y).item()
    assert math.isclose(ce, baseline("copy", T), rel_tol=1e-6)


def test_fewer_symbols_give_small_versions_of_the_problems():
    x, y = generate("copy", 4, 5, seed=1, symbols=3)
    assert x.shape == (4, 11) and torch.equal(y[:, -3:], x[:, :3]) and torch.all(x[:, 7] == 9)
    assert math.isclose(baseline("copy", 5, symbols=3), 3 * math.log(8) / 11)
    x, y = generate("selective", 4, 8, seed=1, symbols=3)
    assert x.shape == (4, 11) and torch.all((x[:, :8] > 0).sum(1) == 3)
    with pytest.raises(UserError, match="data.symbols"):
        generate("copy", 4, 5, seed=1, symbols=-1)
    with pytest.raises(UserError, match="3 symbols needs data.length >= 3"):
        generate("selective", 4, 2, seed=1, symbols=3)


def test_selective_layout():
    x, y = generate("selective", 6, 40, seed=2)
    assert x.shape == (6, 56) and torch.all(x[:, 40:] == 9)
    for row, target in zip(x, y):
        symbols = row[:40][row[:40] > 0]
        assert len(symbols) == 16 and torch.equal(target[40:], symbols)  # in order of appearance
        assert torch.all(target[:40] == -100)


def config(problem: str, length: int, cell: str, **model) -> memory.MemoryConfig:
    cfg = memory.MemoryConfig()
    cfg.data.problem, cfg.data.length = problem, length
    cfg.model.cell, cfg.model.hidden_size = cell, 32
    for k, v in model.items():
        setattr(cfg.model, k, v)
    cfg.optim.lr, cfg.optim.warmup_steps, cfg.optim.schedule = 1e-2, 0, "constant"
    cfg.train.batch_size, cfg.train.max_steps, cfg.train.eval_every, cfg.train.progress = 64, 600, 100, False
    return cfg


def test_irnn_and_forget_bias_initialisation():
    irnn = memory.MemoryModel(config("adding", 10, "rnn_relu", init="identity").model, "adding")
    params = dict(irnn.encoder.named_parameters())
    w_hh = next(v for k, v in params.items() if "weight_hh" in k)
    assert torch.equal(w_hh, torch.eye(32)) and all(torch.all(v == 0) for k, v in params.items() if "bias" in k)
    torch.manual_seed(0)
    lstm = memory.MemoryModel(config("adding", 10, "lstm", forget_bias=1.0).model, "adding")
    torch.manual_seed(0)
    plain = memory.MemoryModel(config("adding", 10, "lstm").model, "adding")
    bias = [dict(m.encoder.named_parameters())["rnn.bias_ih_l0"] for m in (lstm, plain)]
    difference = bias[0] - bias[1]  # gates (i, f, g, o): only f moves, by exactly the forget bias
    assert torch.allclose(difference[32:64], torch.ones(32)) and torch.all(difference[:32] == 0)
    assert torch.all(difference[64:] == 0)
    with pytest.raises(UserError, match="identity"):
        memory.MemoryModel(config("adding", 10, "gru", init="identity").model, "adding")


@pytest.mark.parametrize("cell, retain, write", [("lstm", 1, 0), ("min_gru", None, 0), ("min_lstm", 0, 1)])
def test_chrono_initialisation_spreads_memory_times_over_one_to_T(cell, retain, write):
    model = memory.MemoryModel(config("adding", 50, cell, init="chrono").model, "adding", 50)
    bias = sum(p for n, p in model.encoder.named_parameters() if "bias" in n)  # the LSTM's two biases: one sum
    h = 32
    if cell == "min_gru":  # z_t = σ(b_z): the state forgets about 1/tau per step, tau in [1, T-1]
        tau = torch.exp(-bias[:h])
    else:
        tau = torch.exp(bias[retain * h : (retain + 1) * h])
        assert torch.allclose(bias[write * h : (write + 1) * h], -tau.log())
    assert tau.min() >= 1 and tau.max() <= 49 and tau.max() > 10
    with pytest.raises(UserError, match="chrono"):
        memory.MemoryModel(config("adding", 10, "gru", init="chrono").model, "adding")


@pytest.mark.parametrize("cell", ["lstm", "min_gru"])
def test_short_adding_problem_is_learned(cell, tmp_path):
    result = memory.TASK.train(config("adding", 20, cell), tmp_path / cell)
    assert result["mse"] < 0.05 < baseline("adding", 20)


@pytest.mark.parametrize("problem, length, symbols", [("adding", 20, 0), ("copy", 5, 3), ("selective", 10, 3)])
def test_each_problem_is_solved_at_a_tiny_length_by_an_lstm(problem, length, symbols, tmp_path):
    cfg = config(problem, length, "lstm")
    cfg.data.symbols, cfg.data.stop_when_solved, cfg.train.max_steps = symbols, True, 4000
    result = memory.TASK.train(cfg, tmp_path / "run")
    assert result["solved"] and result["steps"] < 4000  # stopped at the first solved evaluation
    assert memory.TASK.train(cfg, tmp_path / "run", resume=True)["steps"] == result["steps"]  # and stays stopped


def test_cli(tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["train", "memory", "--runs", str(runs), "--name", "c", "--data.problem=copy", "--data.length=5",
            "--model.cell=gru", "--model.hidden_size=16", "--train.max_steps=20", "--train.progress=false"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(runs / "c"), "--length", "8"]) == 0
    assert "copy T=8" in capsys.readouterr().out
    assert main(["predict", str(runs / "c"), "--examples", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    for bad, message in [("--data.problem=parity", "data.problem must be one of"),
                         ("--data.length=1", "data.length must be at least 2, got 1"),
                         ("--data.problem=selective --data.length=8", "needs data.length >= 16, got 8"),
                         ("--model.bidirectional=true", "memory problems take one direction"),
                         ("--model.cell=gru --model.forget_bias=1", "model.forget_bias is for model.cell=lstm"),
                         ("--model.cell=rnn_tanh --model.init=chrono", "model.init=chrono is for")]:
        assert main(["train", "memory", "--runs", str(runs), "--name", "bad", *bad.split()]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_curriculum_lengths_rise_to_the_training_length_and_bad_ones_are_named():
    d = memory.MemoryDataConfig(length=100)
    assert memory.curriculum_lengths(d) == [100]
    d.curriculum = "10, 25,50"
    assert memory.curriculum_lengths(d) == [10, 25, 50, 100]
    for bad in ["10,x", "25,10", "10,100", "1,50", "10,10"]:
        d.curriculum = bad
        with pytest.raises(UserError, match="data.curriculum"):
            memory.curriculum_lengths(d)


def test_curriculum_trains_each_length_until_solved_then_the_next(tmp_path):
    from seqlab.plots import read_metrics

    cfg = config("copy", 12, "lstm")
    cfg.data.symbols, cfg.data.stop_when_solved, cfg.data.curriculum = 3, True, "3,6"
    cfg.train.max_steps, cfg.train.eval_every = 6000, 50
    result = memory.TASK.train(cfg, tmp_path / "run")
    valid = [r for r in read_metrics(tmp_path / "run") if r.get("split") == "valid"]
    lengths = [r["length"] for r in valid]
    assert lengths == sorted(lengths) and set(lengths) == {3, 6, 12}  # in order, every one
    # a shorter length is left at its first solved evaluation, and never counts as solved
    for short in (3, 6):
        at = [r for r in valid if r["length"] == short]
        assert not any(r["solved"] for r in at) and at[-1]["accuracy"] > 0.99
        assert all(r["accuracy"] <= 0.99 for r in at[:-1])
    assert result["solved"] and valid[-1]["length"] == 12 and valid[-1]["solved"]
    # the best checkpoint is one of the full length, and a resumed run stays at the last level
    assert memory.TASK.train(cfg, tmp_path / "run", resume=True)["steps"] == result["steps"]
    task = memory.setup(cfg, None, torch.device("cpu"))
    assert [task.length for task.level in range(3)] == [3, 6, 12]
