"""The trainer on a tiny corpus: learning, checkpoints, exact resume, Ctrl-C, NaN, sampling."""
import json
import os
import signal

import pytest
import torch

from seqlab.errors import TrainingDiverged, UserError
from seqlab.generate import SampleConfig
from seqlab.tasks import lm
from seqlab.train import checkpoint
from seqlab.train.trainer import Interrupted

TEXT = "to be or not to be, that is the question.\n" * 40


def tiny_config(path, **train):
    cfg = lm.LMConfig()
    cfg.data.path = str(path)
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers = 16, 32, 1
    cfg.model.dropout = 0.0
    cfg.optim.lr, cfg.optim.warmup_steps = 1e-2, 0
    cfg.train.batch_size, cfg.train.bptt, cfg.train.eval_batch_size = 4, 16, 2
    cfg.train.max_steps, cfg.train.eval_every, cfg.train.log_every, cfg.train.progress = 12, 4, 1, False
    for key, value in train.items():
        setattr(cfg.train, key, value)
    return cfg


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    return path


def train_losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["split"] == "train"}


def test_small_lm_learns_a_short_text(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=150, eval_every=50)
    cfg.model.dropout = 0.1  # exercises dropout too
    metrics = lm.TASK.train(cfg, tmp_path / "run")
    assert metrics["loss"] < 0.6, metrics  # from ln(18) = 2.9 nats/char at the start


def test_checkpoint_round_trip(corpus, tmp_path):
    lm.TASK.train(tiny_config(corpus, max_steps=4), tmp_path / "run")
    run = lm.TASK.load(tmp_path / "run", which="last")
    cfg, vocab, model = run.cfg, run.vocab, run.model
    state = checkpoint.load_trainer_state(tmp_path / "run" / "last")
    assert state["step"] == 4 and state["position"] == (0, 64)
    other = lm.build_lm(cfg.model, len(vocab))
    checkpoint.load_weights(tmp_path / "run" / "last", other)
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_falls_back_to_old_after_a_crash_mid_swap(corpus, tmp_path):
    lm.TASK.train(tiny_config(corpus, max_steps=4), tmp_path / "run")
    last = tmp_path / "run" / "last"
    last.rename(tmp_path / "run" / "last.old")  # died between the two renames
    assert checkpoint.find(last) == tmp_path / "run" / "last.old"


def _crash_at(step):
    def on_eval(trainer, metrics):
        if trainer.progress.step == step:
            raise RuntimeError("simulated crash")

    return {"on_eval": [on_eval]}


def test_resume_after_a_crash_gives_bit_identical_losses(corpus, tmp_path):
    cfg = tiny_config(corpus)
    cfg.model.dropout = 0.3  # the RNG state must be restored too
    lm.TASK.train(cfg, tmp_path / "straight")
    with pytest.raises(RuntimeError, match="simulated crash"):
        lm.TASK.train(cfg, tmp_path / "crashed", callbacks=_crash_at(8))
    lm.TASK.train(cfg, tmp_path / "crashed", resume=True)
    assert train_losses(tmp_path / "crashed") == train_losses(tmp_path / "straight")


def test_sigint_saves_a_resumable_checkpoint(corpus, tmp_path):
    cfg = tiny_config(corpus)
    lm.TASK.train(cfg, tmp_path / "straight")

    def press_ctrl_c(trainer, metrics):
        if trainer.progress.step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="interrupted at step 4"):
        lm.TASK.train(cfg, tmp_path / "run", callbacks={"on_eval": [press_ctrl_c]})
    assert checkpoint.load_trainer_state(tmp_path / "run" / "last")["step"] == 4
    lm.TASK.train(cfg, tmp_path / "run", resume=True)
    assert train_losses(tmp_path / "run") == train_losses(tmp_path / "straight")


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(corpus, tmp_path):
    def poison(trainer, metrics):
        if trainer.progress.step == 4:
            with torch.no_grad():
                trainer.task.model.decoder.bias.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match="loss is nan at step 5.*last good checkpoint is .*last"):
        lm.TASK.train(tiny_config(corpus), tmp_path / "run", callbacks={"on_eval": [poison]})
    model = lm.TASK.load(tmp_path / "run", which="last").model
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_generation_is_deterministic_under_a_seed(corpus, tmp_path):
    lm.TASK.train(tiny_config(corpus, max_steps=40), tmp_path / "run")
    cfg = SampleConfig(temperature=1.0, top_k=5, top_p=0.9, seed=7)
    a = lm.sample(tmp_path / "run", "to be", 60, cfg)
    b = lm.sample(tmp_path / "run", "to be", 60, cfg)
    assert a == b and len(a) == 60
    greedy = lm.sample(tmp_path / "run", "to be", 30, SampleConfig(temperature=0))
    assert lm.sample(tmp_path / "run", "to be", 30, SampleConfig(top_k=1, seed=3)) == greedy
    assert lm.sample(tmp_path / "run", "to be", 30, SampleConfig(top_p=1e-6, seed=4)) == greedy


def test_streamed_text_equals_returned_text(corpus, tmp_path):
    lm.TASK.train(tiny_config(corpus, max_steps=8), tmp_path / "run")
    pieces = []
    out = lm.sample(tmp_path / "run", "to", 25, SampleConfig(seed=1), on_text=pieces.append)
    assert "".join(pieces) == "to" + out


def test_fresh_run_refuses_to_overwrite_a_trained_one(corpus, tmp_path):
    from seqlab.errors import UserError

    lm.TASK.train(tiny_config(corpus, max_steps=4), tmp_path / "run")
    with pytest.raises(UserError, match="already holds a trained run: continue it with --resume"):
        lm.TASK.train(tiny_config(corpus, max_steps=4), tmp_path / "run")


def test_resuming_a_finished_run_trains_no_further_and_reports(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=4)
    first = lm.TASK.train(cfg, tmp_path / "run")
    files = {name: (tmp_path / "run" / name).read_bytes() for name in ("metrics.jsonl", "last/trainer.pt")}
    again = lm.TASK.train(cfg, tmp_path / "run", resume=True)
    assert again["steps"] == 4 and again["loss"] == first["loss"]
    assert max(train_losses(tmp_path / "run")) == 4
    # only reported: no second validation row (a benchmark reads its last time_s as the training time), no checkpoint
    assert all((tmp_path / "run" / name).read_bytes() == data for name, data in files.items())


def test_word_level_stream_keeps_spaces(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 30)
    cfg = tiny_config(path, max_steps=4)
    cfg.data.level, cfg.train.bptt = "word", 5
    lm.TASK.train(cfg, tmp_path / "run")
    pieces = []
    lm.sample(tmp_path / "run", "the cat", 20, SampleConfig(seed=0), on_text=pieces.append)
    words = "".join(pieces).split()
    assert len(words) >= 2 + 20 - "".join(pieces).count("\n")  # no two words glued together
    assert set(words) <= {"the", "cat", "sat", "on", "mat", "dog", "log", "<unk>"}


class _Payload:
    """A pickle that would create a file when loaded (what a malicious trainer.pt could do)."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_resume_never_unpickles_code_from_a_run_directory(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=4)
    lm.TASK.train(cfg, tmp_path / "run")
    state = checkpoint.load_trainer_state(tmp_path / "run" / "last")  # tensors and plain values only
    assert state["step"] == 4 and isinstance(state["rng"]["numpy"]["keys"], torch.Tensor)
    target = tmp_path / "pwned"
    torch.save({"step": _Payload(target)}, tmp_path / "run" / "last" / "trainer.pt")
    with pytest.raises(UserError, match="holds more than tensors and plain values"):
        lm.TASK.train(tiny_config(corpus, max_steps=8), tmp_path / "run", resume=True)
    assert not target.exists()


def test_checkpoint_files_and_renames_are_flushed_to_disk(tmp_path, monkeypatch):
    flushed, real = [], os.fsync

    def recording_fsync(fd):
        flushed.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    checkpoint.save(tmp_path / "ckpt" / "last", torch.nn.Linear(2, 2), {"step": 1})
    checkpoint.save(tmp_path / "ckpt" / "last", torch.nn.Linear(2, 2), {"step": 2})  # the swap over an old one
    assert len(flushed) == 8  # per save: the two files, the .tmp directory, then the parent after the renames
    if os.path.exists("/proc/self/fd"):
        names = [os.path.basename(p) for p in flushed[:4]]
        assert names == ["model.safetensors", "trainer.pt", "last.tmp", "ckpt"]
    assert checkpoint.load_trainer_state(checkpoint.find(tmp_path / "ckpt" / "last"))["step"] == 2


def test_resume_drops_the_metrics_logged_after_the_last_checkpoint(corpus, tmp_path):
    cfg = tiny_config(corpus)
    with pytest.raises(RuntimeError, match="simulated crash"):
        lm.TASK.train(cfg, tmp_path / "run", callbacks=_crash_at(8))
    with open(tmp_path / "run" / "metrics.jsonl", "a") as f:  # what the crashed process logged after step 8
        f.writelines(json.dumps({"step": step, "time_s": 0.0, "split": "train", "loss": 99.0}) + "\n" for step in (9, 10))
    lm.TASK.train(cfg, tmp_path / "run", resume=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["split"], r["step"]) for r in rows]
    assert len(keys) == len(set(keys)) and 99.0 not in [r["loss"] for r in rows]
    assert {s for split, s in keys if split == "train"} == set(range(1, 13))


@pytest.mark.parametrize("key,value", [("batch_size", 0), ("log_every", 0), ("epochs", -1), ("max_minutes", -2),
                                       ("eval_every", -1), ("patience", -1)])
def test_impossible_numbers_are_refused_by_name(corpus, tmp_path, key, value):
    with pytest.raises(UserError, match=f"train.{key} must be (>=|in) .*, got {value}"):
        lm.TASK.train(tiny_config(corpus, **{key: value}), tmp_path / "run")


def test_a_run_that_stopped_early_stays_stopped_when_resumed(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=400, eval_every=2, patience=1)
    cfg.optim.lr = 0.5  # too high: the validation loss soon stops improving
    first = lm.TASK.train(cfg, tmp_path / "run")
    assert first["steps"] < 400
    again = lm.TASK.train(cfg, tmp_path / "run", resume=True)
    assert again["steps"] == first["steps"]


def test_a_new_run_that_fails_before_its_first_checkpoint_leaves_no_directory(corpus, tmp_path, monkeypatch):
    from seqlab.train.trainer import Trainer

    def broken(self, *args, **kwargs):
        raise UserError("a mistake found in the first step")

    monkeypatch.setattr(Trainer, "_step", broken)
    with pytest.raises(UserError, match="first step"):
        lm.TASK.train(tiny_config(corpus), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    (tmp_path / "kept").mkdir()  # a directory that was there before is the user's: never removed
    with pytest.raises(UserError, match="first step"):
        lm.TASK.train(tiny_config(corpus), tmp_path / "kept")
    assert (tmp_path / "kept").is_dir()


def test_ema_weights_are_the_moving_average_of_the_trained_ones(corpus, tmp_path, monkeypatch):
    """optim.ema=d: best/ holds e_1 = theta_1, e_t = d e_(t-1) + (1 - d) theta_t (evaluated with them), last/ the
    trained weights theta_t and the average for resume."""
    from seqlab.train.trainer import Trainer

    seen, step = [], Trainer._step

    def recording(self, *args):
        out = step(self, *args)
        seen.append({k: v.detach().clone() for k, v in self.task.model.state_dict().items()})
        return out

    monkeypatch.setattr(Trainer, "_step", recording)
    cfg = tiny_config(corpus, max_steps=4, eval_every=4)
    cfg.optim.ema = 0.9
    lm.TASK.train(cfg, tmp_path / "run")
    expected = dict(seen[0])
    for theta in seen[1:]:
        expected = {k: 0.9 * expected[k] + 0.1 * theta[k] for k in expected}
    best, last = lm.TASK.load(tmp_path / "run").model, lm.TASK.load(tmp_path / "run", which="last").model
    for k, v in best.state_dict().items():
        assert torch.allclose(v, expected[k], atol=1e-6), k
        assert torch.equal(last.state_dict()[k], seen[-1][k]), k
    assert any(not torch.allclose(v, seen[-1][k]) for k, v in best.state_dict().items())  # the average differs
    plain = tiny_config(corpus, max_steps=4, eval_every=4)
    lm.TASK.train(plain, tmp_path / "plain")  # the same trained weights, evaluated as they are
    assert torch.equal(lm.TASK.load(tmp_path / "plain").model.state_dict()["decoder.weight"], seen[-1]["decoder.weight"])
    loss = {run: [json.loads(x) for x in (tmp_path / run / "metrics.jsonl").read_text().splitlines()][-1]["loss"]
            for run in ("run", "plain")}
    assert loss["run"] != pytest.approx(loss["plain"], rel=1e-4)  # the average was evaluated


def test_resume_with_ema_gives_the_same_average(corpus, tmp_path):
    cfg = tiny_config(corpus)
    cfg.optim.ema = 0.8
    lm.TASK.train(cfg, tmp_path / "straight")
    with pytest.raises(RuntimeError, match="simulated crash"):
        lm.TASK.train(cfg, tmp_path / "crashed", callbacks=_crash_at(8))
    lm.TASK.train(cfg, tmp_path / "crashed", resume=True)
    assert train_losses(tmp_path / "crashed") == train_losses(tmp_path / "straight")
    a, b = (checkpoint.load_trainer_state(tmp_path / run / "last")["ema"] for run in ("straight", "crashed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
