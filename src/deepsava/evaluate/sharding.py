"""Sharding an experiment over the processes of ``torchrun``, and merging their results into one store.

Every process plans the same list of unfinished batches (from the run's
``results.sqlite``) and attacks every ``world_size``-th of them, writing into
its own store ``<out>/shards/rank-<r>.sqlite`` (one SQLite writer per file, so
nothing depends on file locking across nodes). When all are done the first
process copies the shards into ``results.sqlite`` and removes them. Shards left
by a killed run are merged before the next run plans, so nothing stored is
lost or attacked twice. Each batch's seed depends only on the cell, repeat and
position (see :mod:`deepsava.evaluate.runner`), so the merged store holds what
one process would have computed.
"""

import contextlib
from pathlib import Path

from deepsava.distributed import Ranks, barrier
from deepsava.evaluate.store import ResultStore

SHARDS = "shards"


def shard_path(out: Path, rank: int) -> Path:
    return out / SHARDS / f"rank-{rank}.sqlite"


def my_batches(plan: list, ranks: Ranks) -> list:
    """This process's share of the plan: every ``world_size``-th batch, starting at its rank."""
    return plan[ranks.rank :: ranks.world_size]


@contextlib.contextmanager
def result_sink(store: ResultStore, out: Path, ranks: Ranks):
    """Where this process stores its batches: ``store`` itself on one process, its own shard store under torchrun."""
    if not ranks.distributed:
        yield store
        return
    with ResultStore(shard_path(out, ranks.rank)) as shard:
        for key, cell in store.cells().items():
            shard.add_cell(key, cell["label"], cell["config"])
        yield shard


def merge_shards(store: ResultStore, out: Path, ranks: Ranks) -> int:
    """After every process gets here, the first copies all shard stores into ``store`` and removes them.

    Returns the number of new results merged (0 on the other processes).
    """
    barrier(ranks)
    merged = 0
    if ranks.main:
        for path in sorted((out / SHARDS).glob("rank-*.sqlite")):
            with ResultStore(path) as shard:
                for key, cell in shard.cells().items():
                    store.add_cell(key, cell["label"], cell["config"])
                    by_repeat: dict[int, list[dict]] = {}
                    for record in shard.records(key):
                        by_repeat.setdefault(int(record.get("repeat", 0)), []).append(record)
                    for repeat, records in by_repeat.items():
                        merged += store.add_results(key, repeat, records)
            for leftover in path.parent.glob(path.name + "*"):  # the database and its -wal / -shm files
                leftover.unlink()
    barrier(ranks)
    return merged
