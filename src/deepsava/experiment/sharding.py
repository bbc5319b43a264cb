"""Sharding an experiment over the processes of ``torchrun``, and merging their results into one store.

Only the first process opens the run's ``results.sqlite``: it records the cells,
reads which videos are done and hands that to the others (so every process
plans the same list of unfinished batches), and at the end summarises. Each
process attacks every ``world_size``-th batch of the plan, writing into its own
store ``<out>/shards/rank-<r>.sqlite`` (one SQLite writer per file and no file
opened by two processes at once, so nothing depends on file locking across
nodes). When all are done the first process copies the shards into
``results.sqlite`` and removes them: on several machines ``<out>`` must therefore
be one folder that every node sees at the same path (a shared filesystem). Shards left
by a killed run are merged before the next run plans, so nothing stored is
lost or attacked twice. Each batch's seed depends only on the cell, repeat and
position (see :mod:`deepsava.experiment.runner`), so the merged store holds what
one process would have computed.
"""

import contextlib
from pathlib import Path

from deepsava.distributed import Ranks, barrier
from deepsava.experiment.store import ResultStore

SHARDS = "shards"


def shard_path(out: Path, rank: int) -> Path:
    return out / SHARDS / f"rank-{rank}.sqlite"


def my_batches(plan: list, ranks: Ranks) -> list:
    """This process's share of the plan: every ``world_size``-th batch, starting at its rank."""
    return plan[ranks.rank :: ranks.world_size]


@contextlib.contextmanager
def result_sink(store: ResultStore | None, cells: list, out: Path, ranks: Ranks):
    """Where this process stores its batches: ``store`` itself on one process, its own shard store under torchrun.

    ``cells`` are the run's prepared cells (``key``, ``spec.label``, ``canonical``), recorded in the shard.
    """
    if not ranks.distributed:
        yield store
        return
    with ResultStore(shard_path(out, ranks.rank)) as shard:
        for cell in cells:
            shard.add_cell(cell.key, cell.spec.label, cell.canonical)
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
