"""Data-parallel training on ``torch.distributed``, launched by ``torchrun``.

    torchrun --nproc-per-node 2 -m seqlab train lm --data corpus.txt ...            one machine
    torchrun --nnodes 2 --node-rank R --nproc-per-node 4 \\
             --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m seqlab train ...      several machines

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` opens the process
group from them (gloo on CPU, NCCL on CUDA, each rank on ``cuda:LOCAL_RANK``).  Without torchrun
the world is one process and every function here is a no-op, so a plain run is unchanged.

The scheme is synchronous data parallelism, the semantics of ``DistributedDataParallel``:

* ``train.batch_size`` is the **global** batch.  Every rank draws the same batches (same seed,
  same position) and keeps its share (:func:`shard`): the rows r, r + W, ... of a batched task;
  a contiguous block of the LM's streams, so that the ranks together read the corpus once per
  epoch and each carries the hidden state of its own streams.  A W-rank run therefore takes the
  same steps as one process with the same config, and resumes from the same positions.
* After ``backward`` the gradients are averaged over the ranks with one ``all_reduce`` of a
  flat buffer (:func:`average_gradients`); every rank then takes the same optimizer step, so the
  parameters stay equal (they are broadcast from rank 0 once at the start).  The
  ``DistributedDataParallel`` wrapper itself is not used: seqlab's tasks call model methods
  other than ``forward`` (the LM's loss with carried states), which DDP would not see.
* Rank 0 alone evaluates, writes checkpoints, metrics and plots and draws the progress bar;
  the metrics are broadcast so that every rank takes the same decisions (best checkpoint,
  early stopping).  A checkpoint keeps every rank's RNG and task state, so a resumed run
  continues exactly.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist

from seqlab.errors import UserError


def launched() -> bool:
    """True under torchrun (or any launcher that sets WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def setup(device: str = "auto") -> None:
    """Open the process group that torchrun describes in the environment (once; no-op without torchrun)."""
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return
    if not dist.is_available():
        raise UserError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=30))


def local_device(device: torch.device) -> torch.device:
    """cuda -> cuda:LOCAL_RANK under torchrun; anything else unchanged."""
    if active() and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def shard(batch, contiguous: bool = False):
    """This rank's share of a global batch (a list or a tensor, split along its first dimension).

    Rows r, r + W, ... by default; ``contiguous`` gives a block (the LM's streams).  A batch
    smaller than the world gives every rank one row (some rows twice).
    """
    W, r = world(), rank()
    if W == 1:
        return batch
    n = len(batch)
    if n < W:
        return batch[r % n : r % n + 1]
    if contiguous:
        size = -(-n // W)
        return batch[r * size : (r + 1) * size]
    return batch[r::W]


def broadcast_parameters(model: torch.nn.Module) -> None:
    if active():
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, 0)


def average_gradients(model: torch.nn.Module) -> None:
    """Average every gradient over the ranks: one all_reduce of a flat buffer."""
    if not active():
        return
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:  # a parameter this rank's batch did not reach still takes part
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= world()
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def agree(loss: float, count: int, *flags: bool, device: torch.device | None = None) -> tuple[float, int, list[bool]]:
    """One all_reduce: the mean loss over the ranks, the summed count (e.g. tokens) and each flag OR-ed over
    the ranks -- so that every rank sees a NaN, the end of the time budget or a Ctrl-C together."""
    if not active():
        return loss, count, list(flags)
    t = torch.tensor([loss, count, *map(float, flags)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t[0]) / world(), int(t[1]), [v > 0 for v in t[2:].tolist()]


def broadcast(obj):
    """Rank 0's ``obj`` on every rank (any picklable object made by seqlab itself, e.g. a metrics dict)."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, 0)
    return box[0]


def gather(obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not active():
        return [obj]
    out = [None] * world()
    dist.all_gather_object(out, obj)
    return out


def to_cpu(obj):
    """Tensors anywhere in a nest of dicts / lists / tuples moved to the CPU (to gather them on rank 0)."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def barrier() -> None:
    if active():
        dist.barrier()
