"""Running one job on several processes: ``torchrun`` in, a rank and a device out.

``torchrun --nproc_per_node N`` (and its multi-node flags) starts N copies of a
command and tells each, through environment variables, its ``RANK``,
``LOCAL_RANK`` and the ``WORLD_SIZE``. :func:`setup` reads them: without
``WORLD_SIZE`` (or with 1) it starts no process group at all and the single-
process path is exactly the plain one; otherwise it joins the default group with
NCCL on CUDA (one GPU per local rank) and gloo on the CPU.

Files a job reads back (an epoch state, injected examples, result stores) are
opened by the first process only; :func:`from_main` and :func:`gather` hand
what it read, or what each process made, to the others over the process group.
"""

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from deepsava.errors import InvalidArgumentError
from deepsava.runtime import resolve_device


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: ``rank`` of ``world_size`` processes, and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """The process that writes files and shows progress."""
        return self.rank == 0


def setup(device: str = "auto") -> Ranks:
    """Join the process group ``torchrun`` describes (if any); return this process's rank and device.

    ``device`` is ``cpu``, ``cuda`` or ``auto``; under torchrun with CUDA each
    process takes the GPU of its ``LOCAL_RANK``. Calling it again in a process
    that already joined reuses the group.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    resolved = resolve_device(device)
    if world_size <= 1:
        return Ranks(0, 1, resolved)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if resolved.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise InvalidArgumentError(
                f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}; start at most that"
                " many processes per node (torchrun --nproc_per_node)")
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if resolved.type == "cuda" else "gloo")
    return Ranks(rank, world_size, resolved)


def barrier(ranks: Ranks) -> None:
    """Wait until every process gets here (nothing to wait for on one process)."""
    if ranks.distributed:
        dist.barrier()


def from_main(ranks: Ranks, compute):
    """``compute()`` run on the first process only; its value (picklable) returned on every process.

    An exception it raises is raised on every process, so none waits for the others in vain.
    """
    if not ranks.distributed:
        return compute()
    payload: list = [None]
    if ranks.main:
        try:
            payload = [(compute(), None)]
        except Exception as err:  # noqa: BLE001 (re-raised on every process below)
            payload = [(None, err)]
    dist.broadcast_object_list(payload, src=0)
    value, error = payload[0]
    if error is not None:
        raise error
    return value


def gather(ranks: Ranks, value) -> list:
    """Every process's ``value`` (picklable; tensors on the CPU), in rank order, on every process."""
    if not ranks.distributed:
        return [value]
    values: list = [None] * ranks.world_size
    dist.all_gather_object(values, value)
    return values


def sum_across(ranks: Ranks, values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all processes (the values themselves on one process)."""
    if not ranks.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=ranks.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


@contextlib.contextmanager
def session(device: str = "auto"):
    """``with session(device) as ranks:`` :func:`setup`, and leave the group on exit if this call joined it."""
    joined = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    ranks = setup(device)
    try:
        yield ranks
    finally:
        if joined and dist.is_initialized():
            dist.destroy_process_group()
