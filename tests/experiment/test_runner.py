"""Experiment runner: the SQLite store, resume after SIGKILL, Ctrl-C, summaries (config validation:
tests/experiment/test_config.py)."""

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepsava.errors import InvalidArgumentError
from deepsava.experiment.plan import video_order
from deepsava.experiment.runner import run_experiment
from deepsava.experiment.summary import summarize_repeats, summarize_store
from deepsava.experiment.store import ResultStore

from tiny_configs import small_config, write

pytestmark = pytest.mark.usefixtures("one_thread")


def comparable(records):
    """Records keyed by (method, video, repeat), without wall time."""
    return {(r["method"], r["video_id"], r["repeat"]): {k: v for k, v in r.items() if k != "seconds"} for r in records}


def stored(path: Path) -> list[dict]:
    """Every record in a run's database ([] while the database is still being created)."""
    db = sqlite3.connect(str(path), timeout=30)
    try:
        return [json.loads(text) for (text,) in db.execute("SELECT record FROM results")]
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
    finally:
        db.close()


def cli(*args) -> list[str]:
    return [sys.executable, "-c", "from deepsava.cli.main import run; run()", *args]


def environment():
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}


# -- store ---------------------------------------------------------------------------------------


def test_store_ignores_duplicates_and_uses_wal(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.add_cell("k", "cell", {"a": 1})
        assert store.add_results("k", 0, [{"video_id": "v1", "x": 1}, {"video_id": "v2", "x": 2}]) == 2
        assert store.add_results("k", 0, [{"video_id": "v1", "x": 99}, {"video_id": "v3", "x": 3}]) == 1
        assert store.add_results("k", 1, [{"video_id": "v1", "x": 5}]) == 1  # another repeat
        assert store.count() == 4 and store.done("k", 0) == {"v1", "v2", "v3"}
        assert [r["x"] for r in store.records("k", 0)] == [1, 2, 3]  # the first result stays
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.cells() == {"k": {"label": "cell", "config": {"a": 1}}}
        assert store.delete_cells(["k"]) == 4 and store.count() == 0


def test_summary_fr_ci_over_repeats():
    def records(wins, total):
        return [{"clean_correct": True, "success": i < wins, "iterations": 3, "ssim": 0.9, "l21": 0.05,
                 "seconds": 1.0, "video_id": str(i)} for i in range(total)]
    summary = summarize_repeats([records(5, 10), records(6, 10), records(7, 10)])
    assert summary["fooling_rate"] == pytest.approx(0.6)
    # Student t, 2 degrees of freedom, 99%: 9.925 * sd / sqrt(3) with sd = 0.1
    assert summary["fr_ci"] == pytest.approx(9.9248 * 0.1 / math.sqrt(3), rel=1e-3)
    assert summary["ani"] == 3 and summary["repeats"] == 3 and summary["attacked"] == 30
    assert summary["fr_ci_low"] == pytest.approx(0.6 - 0.57301, abs=1e-4) and summary["fr_ci_high"] == 1.0  # clipped
    # Wilson over the pooled 18/30: z = 2.5758, centre (0.6 + z^2/60) / (1 + z^2/30) = 0.5818,
    # half z / 1.22116 * sqrt(0.008 + z^2/3600) = 0.20927
    assert summary["successes"] == 18
    assert (summary["fr_wilson_low"], summary["fr_wilson_high"]) == pytest.approx((0.3726, 0.7912), abs=1e-4)
    from deepsava.report.text import fr_text, wilson_text

    assert fr_text(summary) == "60.0% (2.7–100.0%)" and wilson_text(summary) == "37.3–79.1% (18/30)"
    narrow = summarize_repeats([records(6, 10)] * 3)  # no spread: 60.0% ± 0.0%
    assert fr_text(narrow) == "60.0% ± 0.0%"


def test_video_order_is_seeded_interleaved_and_complete():
    labels = [0] * 5 + [1] * 5 + [2] * 2
    order = video_order(labels, 3)
    assert sorted(order) == list(range(12)) and order == video_order(labels, 3) and order != video_order(labels, 4)
    assert sorted(labels[i] for i in order[:3]) == [0, 1, 2]  # each prefix round covers every class


# -- running, resuming ---------------------------------------------------------------------------


def test_kill_and_resume_equals_an_uninterrupted_run(workdir, tmp_path):
    config_path = write(tmp_path, "small.yaml", small_config(workdir))
    total = 2 * 2 * 6  # cells x repeats x videos

    # Reference: one uninterrupted run (in this process, single-threaded like the subprocesses).
    reference = run_experiment(config_path, out=tmp_path / "reference", device="cpu", progress=False)
    assert reference.videos_done == total and not reference.interrupted

    # Killed with SIGKILL once at least one batch is stored and work remains.
    out = tmp_path / "killed"
    db = out / "results.sqlite"
    command = cli("experiment", str(config_path), "--out", str(out), "--device", "cpu", "--no-progress")
    process = subprocess.Popen(command, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        if db.exists() and len(stored(db)) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = stored(db)
    assert 0 < len(partial) < total and len(partial) % 2 == 0  # whole batches only

    # Started again with the same command: finishes the rest, loses and duplicates nothing.
    done = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    final = stored(db)
    assert len(final) == total
    assert len(comparable(final)) == total
    assert comparable(final) == comparable(stored(reference.store_path))  # same numbers as uninterrupted
    assert all(comparable(final)[key] == record for key, record in comparable(partial).items())  # kept as stored
    by_label = lambda rows: {r["label"]: r for r in rows}  # noqa: E731
    resumed = by_label(summarize_store(db))
    for row in reference.summary:
        for metric in ("fooling_rate", "ani", "aap_l21", "asp_ssim", "l21", "attacked", "videos"):
            a, b = row[metric], resumed[row["label"]][metric]
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), (row["label"], metric)
    # Something happened worth comparing: successes and distinct random frames across repeats.
    assert any(r["success"] for r in final)
    assert len({tuple(r["frames"]) for r in final if r["method"] == "deepsava" and r["clean_correct"]}) > 1
    # A third start has nothing left to do.
    again = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=120)
    assert "(0 batches run now)" in again.stdout and len(stored(db)) == total


def test_ctrl_c_stops_after_the_batch_and_says_how_to_resume(workdir, tmp_path):
    config_path = write(tmp_path, "small.yaml", small_config(workdir))
    out = tmp_path / "run"
    db = out / "results.sqlite"
    command = cli("experiment", str(config_path), "--out", str(out), "--device", "cpu", "--no-progress")
    process = subprocess.Popen(command, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None and not (db.exists() and stored(db)):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "resume with: deepsava experiment" in output and str(out) in output
    count = len(stored(db))
    assert 0 < count < 24 and count % 2 == 0


def test_model_runs_only_that_models_cells_and_its_resume_command_says_so(workdir, tmp_path):
    from deepsava.models import create_model, save_checkpoint

    torch.manual_seed(1)
    save_checkpoint(create_model("cnn-gru", 2), tmp_path / "gru", {"classes": ["move-left", "move-right"]})
    config = small_config(workdir, repeats=1, examples=0)
    config["models"]["gru"] = {"checkpoint": str(tmp_path / "gru")}
    config["cells"] = config["cells"][:1]
    path = write(tmp_path, "two.yaml", config)
    with pytest.raises(InvalidArgumentError, match="--model gro: not a model of small .*lstm, gru"):
        run_experiment(path, out=tmp_path / "run", limit=2, device="cpu", progress=False, models=["gro"])
    outcome = run_experiment(path, out=tmp_path / "run", limit=2, device="cpu", progress=False, models=["gru"])
    assert [row["model"] for row in outcome.summary] == ["gru"] and outcome.videos_total == 2
    assert "--model gru --limit 2" in outcome.resume_command
    assert {r["model"] for r in stored(tmp_path / "run" / "results.sqlite")} == {"gru"}
    rest = run_experiment(path, out=tmp_path / "run", limit=2, device="cpu", progress=False)
    assert rest.batches_run == 1 and [row["model"] for row in rest.summary] == ["lstm", "gru"]


def test_limit_reuses_stored_videos_and_force_recomputes(workdir, tmp_path):
    config = small_config(workdir, repeats=1, examples=2)
    config["cells"] = config["cells"][:1]
    path = write(tmp_path, "one.yaml", config)
    first = run_experiment(path, out=tmp_path / "run", limit=2, device="cpu", progress=False)
    assert first.videos_total == 2 and first.batches_run == 1
    assert first.summary[0]["videos"] == 2 and first.summary[0]["expected"] == 2
    full = run_experiment(path, out=tmp_path / "run", device="cpu", progress=False)
    assert full.batches_run == 2 and full.videos_done == 6  # the first batch was not attacked again
    assert full.summary[0]["videos"] == 6
    forced = run_experiment(path, out=tmp_path / "run", device="cpu", force=True, progress=False)
    assert forced.batches_run == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary[0]["label"] == "Sparse" and summary[0]["videos"] == 6
    examples = sorted((tmp_path / "run" / "examples").rglob("*.npz"))
    assert len(examples) == 2
    import numpy as np

    example = np.load(examples[0])
    assert example["delta"].shape == (2, 3, 64, 64) and example["frames"].tolist() == [0, 1]
