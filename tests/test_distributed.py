"""Data parallelism on torch.distributed (gloo, two processes spawned here): the same parameters as one process
on the combined batch, an exact resume, and only rank 0 writing files."""
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import labelled_lines
from safetensors.torch import load_file

from seqlab.tasks import classify, lm
from seqlab.train import distributed

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="this torch build has no torch.distributed with gloo")
TEXT = "the rain in spain stays mainly in the plain. " * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, job: str, args: tuple) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    distributed.setup("cpu")
    try:
        JOBS[job](rank, *args)
    finally:
        dist.destroy_process_group()


def spawn(job: str, *args, world: int = 2) -> None:
    mp.spawn(_worker, args=(world, _free_port(), job, args), nprocs=world, join=True)


def lm_config(corpus: Path, steps: int = 6, dropout: float = 0.0) -> lm.LMConfig:
    cfg = lm.LMConfig()
    cfg.data.path, cfg.data.level = str(corpus), "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.dropout = 8, 16, 1, dropout
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps, cfg.train.eval_every = 4, 8, steps, 3
    cfg.train.eval_batch_size, cfg.train.progress, cfg.train.log_every = 2, False, 1
    return cfg


def classify_config(train: Path) -> classify.ClassifyConfig:
    cfg = classify.ClassifyConfig()
    cfg.data.path = str(train)
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.dropout = 8, 8, 0.0
    cfg.train.batch_size, cfg.train.max_steps, cfg.train.eval_every, cfg.train.progress = 16, 4, 2, False
    return cfg


class Crash(Exception):
    pass


def _lm(rank: int, corpus: Path, run_dir: Path, steps: int, own_dirs: bool, crash_at: int, resume: bool,
        dropout: float = 0.0) -> None:
    from seqlab.train.trainer import Trainer

    save = Trainer.save

    def save_then_crash(self, name="last"):  # every rank dies right after the checkpoint of step crash_at
        out = save(self, name)
        if self.progress.step == crash_at and name == "last":
            raise Crash
        return out

    Trainer.save = save_then_crash  # in this spawned process only
    where = run_dir / f"rank{rank}" if own_dirs else run_dir
    try:
        lm.TASK.train(lm_config(corpus, steps, dropout), where, resume=resume)
    except Crash:
        pass


def _classify(rank: int, train: Path, run_dir: Path) -> None:
    classify.TASK.train(classify_config(train), run_dir)


JOBS = {"lm": _lm, "classify": _classify}


def weights(run_dir: Path) -> dict:
    return load_file(str(run_dir / "last" / "model.safetensors"))


def assert_same(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for k, value in a.items():
        assert torch.allclose(value, b[k], atol=atol), (k, (value - b[k]).abs().max())


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "rain.txt"
    path.write_text(TEXT)
    return path


def test_two_lm_ranks_equal_one_process_on_the_combined_batch_and_only_rank_0_writes(corpus, tmp_path):
    lm.TASK.train(lm_config(corpus), tmp_path / "one")
    spawn("lm", corpus, tmp_path / "two", 6, True, 0, False)
    assert_same(weights(tmp_path / "one"), weights(tmp_path / "two" / "rank0"), atol=1e-6)
    assert not (tmp_path / "two" / "rank1").exists()  # rank 1 wrote nothing in its own run directory
    one = (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()
    assert len(one) == len((tmp_path / "two" / "rank0" / "metrics.jsonl").read_text().splitlines())


def test_two_classifier_ranks_equal_one_process_on_the_combined_batch(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(labelled_lines(400, 0)) + "\n")
    classify.TASK.train(classify_config(train), tmp_path / "one")
    spawn("classify", train, tmp_path / "two")
    assert_same(weights(tmp_path / "one"), weights(tmp_path / "two"), atol=1e-6)


def test_an_interrupted_two_rank_run_resumes_bit_identically(corpus, tmp_path):
    spawn("lm", corpus, tmp_path / "straight", 6, False, 0, False, 0.3)  # dropout: each rank's RNG matters
    spawn("lm", corpus, tmp_path / "crashed", 6, False, 3, False, 0.3)  # killed after the checkpoint of step 3
    state = torch.load(tmp_path / "crashed" / "last" / "trainer.pt", weights_only=True)
    assert state["step"] == 3 and len(state["ranks"]) == 2  # every rank's RNG and carried state
    spawn("lm", corpus, tmp_path / "crashed", 6, False, 0, True, 0.3)
    assert_same(weights(tmp_path / "straight"), weights(tmp_path / "crashed"), atol=0.0)
    losses = [[line for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines() if '"train"' in line]
              for name in ("straight", "crashed")]
    strip = [[line.split('"loss": ')[1].split(",")[0] for line in rows] for rows in losses]
    assert strip[0] == strip[1]


def test_a_checkpoint_of_two_ranks_is_not_resumed_by_one(corpus, tmp_path):
    from seqlab.errors import UserError

    spawn("lm", corpus, tmp_path / "two", 3, False, 0, False)
    with pytest.raises(UserError, match="nproc-per-node 2"):
        lm.TASK.train(lm_config(corpus, 6), tmp_path / "two", resume=True)


def test_the_lm_batch_must_divide_among_the_ranks(monkeypatch, corpus, tmp_path):
    from seqlab.errors import UserError

    monkeypatch.setattr(distributed, "world", lambda: 3)
    with pytest.raises(UserError, match="batch_size=4 .* 3 processes"):
        lm.TASK.train(lm_config(corpus), tmp_path / "x")
