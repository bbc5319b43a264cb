"""The result store: one SQLite file per run directory, one row per (cell, video, repeat).

Every write is one transaction holding all the records of one finished batch, so
a process killed at any moment (SIGKILL included) leaves only whole batches
behind. The database runs in WAL mode with ``synchronous=FULL``. Rows are keyed
``UNIQUE(cell_key, video_id, repeat)`` and written with ``INSERT OR IGNORE``: a
re-run never duplicates a result, and a result once stored is never replaced
(``delete_cells`` is the explicit way to recompute).

Tables:

- ``cells(cell_key PRIMARY KEY, label, config)``: the canonical JSON of each
  cell's full configuration (the key is a hash of it), and its latest label.
- ``results(cell_key, video_id, repeat, record, created)``: ``record`` is the
  JSON of one per-video record (``AttackResult.to_records`` plus run fields).
- ``meta(key PRIMARY KEY, value)``: free text about the run (config source, command).
"""

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

LOCK_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    cell_key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    cell_key TEXT NOT NULL REFERENCES cells(cell_key),
    video_id TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    record TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (cell_key, video_id, repeat)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class ResultStore:
    """Per-video attack results of one run directory, safe against interruption.

    ``ResultStore(path)`` opens (creating if needed) the SQLite file at ``path``.
    Use as a context manager or call ``close()``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = _connect(self.path)
        except sqlite3.OperationalError as err:  # a folder, no permission, locked past the timeout
            raise OSError(None, f"cannot open the result database ({err})", str(self.path)) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- cells -------------------------------------------------------------------------

    def add_cell(self, cell_key: str, label: str, config: dict) -> None:
        """Record a cell's canonical configuration (kept if present); its label is updated."""
        text = json.dumps(config, sort_keys=True)
        with self._transaction():
            self.db.execute("INSERT OR IGNORE INTO cells (cell_key, label, config, created) VALUES (?, ?, ?, ?)",
                            (cell_key, label, text, time.time()))
            self.db.execute("UPDATE cells SET label = ? WHERE cell_key = ?", (label, cell_key))

    def cells(self) -> dict[str, dict]:
        """Every stored cell: ``{cell_key: {"label": ..., "config": {...}}}``."""
        rows = self.db.execute("SELECT cell_key, label, config FROM cells ORDER BY created, cell_key")
        return {key: {"label": label, "config": json.loads(config)} for key, label, config in rows}

    def delete_cells(self, cell_keys: Iterable[str]) -> int:
        """Forget the results of these cells (``--force``); returns the number of rows removed."""
        keys = list(cell_keys)
        with self._transaction():
            removed = sum(self.db.execute("DELETE FROM results WHERE cell_key = ?", (k,)).rowcount for k in keys)
        return removed

    # -- results -----------------------------------------------------------------------

    def add_results(self, cell_key: str, repeat: int, records: list[dict]) -> int:
        """Store the records of one finished batch in one transaction; returns how many were new."""
        now = time.time()
        rows = [(cell_key, str(r["video_id"]), int(repeat), json.dumps(r, sort_keys=True), now) for r in records]
        with self._transaction():
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO results (cell_key, video_id, repeat, record, created) VALUES (?, ?, ?, ?, ?)",
                rows)
            return self.db.total_changes - before

    def done(self, cell_key: str, repeat: int) -> set[str]:
        """Video ids with a stored result for this cell and repeat."""
        rows = self.db.execute("SELECT video_id FROM results WHERE cell_key = ? AND repeat = ?", (cell_key, repeat))
        return {vid for (vid,) in rows}

    def records(self, cell_key: str, repeat: int | None = None) -> list[dict]:
        """Stored records of a cell (one repeat, or all), in insertion order."""
        if repeat is None:
            rows = self.db.execute("SELECT record FROM results WHERE cell_key = ? ORDER BY id", (cell_key,))
        else:
            rows = self.db.execute("SELECT record FROM results WHERE cell_key = ? AND repeat = ? ORDER BY id",
                                   (cell_key, repeat))
        return [json.loads(text) for (text,) in rows]

    def count(self) -> int:
        """Number of stored per-video results."""
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    # -- meta --------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    # -- internals ---------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode with the schema; closed again if any step fails."""
    db = sqlite3.connect(str(path), timeout=LOCK_TIMEOUT_S, isolation_level=None)
    try:
        # Switching a new file to WAL while another process does the same can report
        # "database is locked" at once, without waiting on the busy timeout: retry.
        mode = _retry_while_locked(lambda: db.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        if mode != "wal":
            raise OSError(None, f"SQLite cannot keep the result database in WAL mode (got {mode!r})", str(path))
        db.execute("PRAGMA synchronous=FULL")
        _retry_while_locked(lambda: db.executescript(SCHEMA))
    except BaseException:
        db.close()
        raise
    return db


def _retry_while_locked(operation):
    """Run ``operation()``, retrying for up to ``LOCK_TIMEOUT_S`` while SQLite says the file is locked."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
