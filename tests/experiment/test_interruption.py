"""Interruption, concurrency and determinism of `deepsava attack --out` and of the result store.

The attack runs on a small UCF101-layout folder built from the real clips (6 videos, batches
of 2), with BO selecting the frame, so that every batch draws on the global random generators.
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from deepsava.cli.main import run as cli_main
from deepsava.errors import InvalidArgumentError

pytestmark = pytest.mark.usefixtures("one_thread")

CLIPS = (Path(__file__).parents[2] / "../shared/data/clips").resolve()


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    """A UCF101-style root (2 classes x 3 videos, links to the real clips), a random 2-class checkpoint, a cache."""
    from deepsava.models import create_model, save_checkpoint

    if not all((CLIPS / name).is_file() for name in ("v_Basketball_g01_c01.avi", "abseiling_k400.mp4")):
        pytest.skip("real clips not available")
    root = tmp_path_factory.mktemp("ucf")
    listed = []
    for cls, source in (("Basketball", "v_Basketball_g01_c01.avi"), ("Abseiling", "abseiling_k400.mp4")):
        (root / cls).mkdir()
        for c in range(1, 4):
            name = f"{cls}/v_{cls}_g01_c0{c}{Path(source).suffix}"
            (root / name).symlink_to(CLIPS / source)
            listed.append(name)
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 Basketball\n2 Abseiling\n")
    (lists / "testlist01.txt").write_text("\n".join(listed) + "\n")
    (lists / "trainlist01.txt").write_text("\n".join(f"{n} 1" for n in listed) + "\n")
    torch.manual_seed(1)
    checkpoint = save_checkpoint(create_model("cnn-lstm", 2, "tiny"), root / "model", {"dataset": "ucf101"})
    previous = os.environ.get("DEEPSAVA_CACHE")
    os.environ["DEEPSAVA_CACHE"] = str(root / "cache")
    yield root, checkpoint
    if previous is None:
        os.environ.pop("DEEPSAVA_CACHE", None)
    else:
        os.environ["DEEPSAVA_CACHE"] = previous


def attack_args(ucf, out: Path, *extra: str) -> list[str]:
    root, checkpoint = ucf
    return ["attack", "--checkpoint", str(checkpoint), "--dataset", "ucf101", "--root", str(root), "--length", "8",
            "--size", "32", "--selector", "bo", "--steps", "10", "--lr", "0.1", "--batch-size", "2", "--seed", "3",
            "--device", "cpu", "--out", str(out), *extra]


def lines(out: Path) -> list[dict]:
    """The per-video records stored in a run folder (read-only, so another process may be writing)."""
    path = out / "results.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            return [json.loads(text) for (text,) in db.execute("SELECT record FROM results ORDER BY id")]
    except sqlite3.OperationalError:  # the file exists but its tables are not created yet
        return []


def comparable(records: list[dict]) -> dict:
    return {r["video_id"]: {k: v for k, v in r.items() if k != "seconds"} for r in records}


def video_bytes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "videos").glob("*/*.mkv"))}


@pytest.fixture(scope="module")
def reference(ucf, tmp_path_factory):
    """An uninterrupted run of the attack command (in this process, single-threaded like the subprocesses)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    old, threads = sys.argv, torch.get_num_threads()
    sys.argv = ["deepsava", *attack_args(ucf, out)]
    torch.set_num_threads(1)  # results are bit-identical for one thread count, not across counts
    try:
        cli_main()
    except SystemExit as done:
        assert not done.code
    finally:
        sys.argv = old
        torch.set_num_threads(threads)
    return out


def test_sigkill_during_attack_loses_at_most_the_batch_in_flight(ucf, reference, tmp_path):
    """Killed after its first batch and started again, another process gives the reference's bytes exactly.

    This is also the determinism test: the same command and seed, in other processes, give
    byte-identical lossless adversarial videos.
    """
    attacked = [r for r in lines(reference) if r["clean_correct"]]
    assert attacked and all(r["l21"] > 0.01 for r in attacked)  # perturbed: there is something to compare
    assert len(video_bytes(reference)) == 6
    out = tmp_path / "killed"
    command = [sys.executable, "-c", "from deepsava.cli.main import run; run()", *attack_args(ucf, out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and len(lines(out)) < 2:
        time.sleep(0.01)
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = lines(out)
    assert 2 <= len(partial) < 6 and len(partial) % 2 == 0  # whole batches only
    assert all(comparable(lines(reference))[vid] == record for vid, record in comparable(partial).items())

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)  # the same command
    assert done.returncode == 0, done.stderr
    assert len(lines(out)) == 6 and comparable(lines(out)) == comparable(lines(reference))
    assert video_bytes(out) == video_bytes(reference)
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in (out, reference)]
    for summary in summaries:
        for row in summary:
            row.pop("seconds_per_video")
    assert summaries[0] == summaries[1]


def test_a_different_command_on_the_folder_is_refused_unless_forced(ucf, reference, tmp_path, cli_run):
    out = tmp_path / "run"
    assert cli_run(attack_args(ucf, out, "--no-save-videos", "--limit", "2"))[0] == 0
    before = lines(out)
    code, _, err = cli_run(attack_args(ucf, out, "--no-save-videos", "--limit", "2", "--seed", "4"))
    assert code == InvalidArgumentError.exit_code and "Traceback" not in err
    assert err.startswith("error:") and "other settings" in err and "--force" in err and "seed: 3 then, 4 now" in err
    assert lines(out) == before  # untouched
    code, _, err = cli_run(attack_args(ucf, out, "--no-save-videos", "--limit", "2", "--seed", "3", "--checkpoint",
                                       "shipped:i3d"))
    assert code == InvalidArgumentError.exit_code and "model: " in err and "shipped:i3d now" in err  # named, no hash
    code, _, err = cli_run(attack_args(ucf, out, "--no-save-videos", "--limit", "2", "--seed", "4", "--precision",
                                       "bf16", "--force"))
    assert code == 0, err
    settings = yaml.safe_load((out / "config.yaml").read_text())
    assert settings["seed"] == 4 and settings["precision"] == "bf16" and len(lines(out)) == 2


def test_a_second_process_cannot_write_to_a_folder_in_use(ucf, tmp_path, cli_run):
    import fcntl

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = cli_run(attack_args(ucf, out))
    assert code == InvalidArgumentError.exit_code and "being written by another deepsava process" in err
    assert not lines(out)


def test_a_shorter_run_is_continued_to_the_uninterrupted_results(ucf, reference, tmp_path, cli_run):
    """A run stopped after 4 videos (--limit 4) and continued to all 6 attacks only the missing batch."""
    out = tmp_path / "grown"
    assert cli_run(attack_args(ucf, out, "--limit", "4"))[0] == 0
    first = {r["video_id"]: r for r in lines(out)}
    assert len(first) == 4
    assert cli_run(attack_args(ucf, out))[0] == 0
    records = lines(out)
    assert len(records) == 6 and {r["video_id"]: r for r in records[:4]} == first  # the stored 4 kept as they were
    assert comparable(records) == comparable(lines(reference))



WRITER = textwrap.dedent("""
    import random, sys, time
    from pathlib import Path
    from deepsava.experiment.store import ResultStore
    path, who, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    random.seed(who)
    new = 0
    with ResultStore(path) as store:
        store.add_cell("cell", "label", {"method": "test"})
        Path(f"{path}.ready{who}").touch()
        while not Path(f"{path}.go").exists():  # the start barrier: both write at the same time
            time.sleep(0.001)
        for batch in range(batches):
            # both processes write batches 0..N-1 (the same rows) and one row of their own each time
            ids = [f"v{batch:03d}-{j}" for j in range(4)] + [f"only{who}-{batch:03d}"]
            records = [{"video_id": vid, "writer": who, "success": True} for vid in ids]
            new += store.add_results("cell", 0, records)
            time.sleep(random.random() * 0.002)
    print(new)
""")


def test_two_processes_writing_one_store_neither_corrupt_nor_duplicate(tmp_path):
    path, batches = tmp_path / "results.sqlite", 300
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(who), str(batches)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in (1, 2)]
    deadline = time.time() + 120
    while not all(Path(f"{path}.ready{who}").exists() for who in (1, 2)) and time.time() < deadline:
        assert all(w.poll() is None for w in writers), [w.communicate() for w in writers]
        time.sleep(0.01)
    Path(f"{path}.go").touch()
    outputs = [w.communicate(timeout=120) for w in writers]
    assert all(w.returncode == 0 for w in writers), outputs
    db = sqlite3.connect(str(path))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT video_id, record FROM results ORDER BY id").fetchall()
    ids = [vid for vid, _ in rows]
    assert len(ids) == len(set(ids)) == batches * 4 + 2 * batches  # shared rows once, each writer's own rows once
    assert sum(int(out) for out, _ in outputs) == len(ids)  # each row counted new by exactly one writer
    assert all(json.loads(record)["video_id"] == vid for vid, record in rows)
    # They really ran at the same time: in the order of commits, their own rows alternate again and again.
    order = [vid[4] for vid in ids if vid.startswith("only")]
    switches = sum(a != b for a, b in zip(order, order[1:]))
    assert switches >= batches // 10, f"{switches} switches between the writers"
    db.close()


def test_a_store_that_stays_locked_is_refused_and_its_connection_closed(tmp_path, monkeypatch):
    import deepsava.experiment.store as store

    path = tmp_path / "results.sqlite"
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds a new file locked: it cannot be switched to WAL
    opened = []
    connect = sqlite3.connect
    monkeypatch.setattr(store.sqlite3, "connect", lambda *a, **k: opened.append(connect(*a, **k)) or opened[-1])
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.2)
    with pytest.raises(OSError, match="cannot open the result database .*locked"):
        store.ResultStore(path)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")
    holder.execute("ROLLBACK")
    holder.close()
