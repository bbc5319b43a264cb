"""Experiment runner: config validation, the SQLite store, resume after SIGKILL, Ctrl-C, summaries."""

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
import yaml

from deepsava.errors import InvalidConfigError
from deepsava.evaluate.config import load_config, parse_config
from deepsava.evaluate.runner import run_experiment, summarize_repeats, summarize_store, video_order
from deepsava.evaluate.store import ResultStore

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
FROM_RUNS = sorted((ROOT / "configs" / "from-runs").glob("*.yaml"))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A cache for the generated data and a random tiny CNN+LSTM checkpoint over 2 synth-actions classes."""
    from deepsava.models import create_model, save_checkpoint

    root = tmp_path_factory.mktemp("runner")
    previous = os.environ.get("DEEPSAVA_CACHE")
    os.environ["DEEPSAVA_CACHE"] = str(root / "cache")
    torch.manual_seed(0)
    save_checkpoint(create_model("cnn-lstm", 2, "tiny"), root / "lstm",
                    {"classes": ["move-left", "move-right"], "dataset": "synth-actions"})
    yield root
    if previous is None:
        os.environ.pop("DEEPSAVA_CACHE", None)
    else:
        os.environ["DEEPSAVA_CACHE"] = previous


def small_config(root: Path, **changes) -> dict:
    """6 test videos of 4 frames, 2 cells (Sparse; DeepSAVA on random frames) on 2 frames, 2 repeats, batches of 2."""
    config = {
        "name": "small",
        "dataset": {"name": "synth-actions", "frames": 4, "size": 64,
                    "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}},
        "models": {"lstm": {"checkpoint": str(root / "lstm")}},
        "videos": 6, "repeats": 2, "batch_size": 2, "examples": 1,
        "cells": [
            {"label": "Sparse", "attack": {"method": "sparse", "frames": 2, "steps": 25, "lr": 0.1, "lam": 0.1}},
            {"label": "DeepSAVA (random)",
             "attack": {"method": "deepsava", "frames": 2, "selector": "random", "steps": 15, "lr": 0.1}},
        ],
    }
    config.update(changes)
    return config


def write(root: Path, name: str, config: dict) -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


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
    return [sys.executable, "-c", "from deepsava.cli import run; run()", *args]


def environment():
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["cells"].append({"attack": {"method": "sparse", "stpes": 5}}),
     "cells[2].attack.stpes: unknown key (did you mean steps?)"),
    (lambda c: c.update(vidoes=3), "vidoes: unknown key (did you mean videos?)"),
    (lambda c: c["dataset"].update(frams=8), "dataset.frams: unknown key (did you mean frames?)"),
    (lambda c: c.update(videos="ten"), "videos: must be an integer in [1, 100000], got 'ten'"),
    (lambda c: c.update(repeats=0), "repeats: must be an integer in [1, 1000], got 0"),
    (lambda c: c["cells"][0]["attack"].update(method="sparce"), "cells[0].attack.method: unknown method 'sparce' (did you mean sparse?)"),
    (lambda c: c["cells"][1]["attack"].update(ssim_budget=1.5), "cells[1].attack.ssim_budget: must be a number in (0.0, 1.0]"),
    (lambda c: c["cells"][0]["attack"].update(lr="1e-3"), "cells[0].attack.lr: must be a number > 0.0, got '1e-3' (YAML reads 1e-3 as text"),
    (lambda c: c["cells"][0]["attack"].update(frames=[1, "two"]), "cells[0].attack.frames[1]: must be an integer >= 1"),
    (lambda c: c["cells"][1]["attack"].update(selector="bayes"), "cells[1].attack.selector: must be one of"),
    (lambda c: c["cells"][0].update(model="lstn"), "cells[0].model: unknown model 'lstn' (did you mean lstm?)"),
    (lambda c: c["cells"][1]["attack"].update(selector_options={"evaluations": 3, "initial": 9}, selector="bo"),
     "cells[1].attack: need 1 <= initial"),
    (lambda c: c["cells"][0]["attack"].update(selector_options={"probes": 3}), "cells[0].attack.selector_options: selector first takes no options"),
    (lambda c: c["models"]["lstm"].update(checkpoint="shipped:lstm"), "models.lstm.checkpoint: no shipped checkpoint 'lstm'"),
    (lambda c: c["models"]["lstm"].update(checkpoint="/nowhere/model"), "models.lstm.checkpoint: no checkpoint file"),
    # Limits across fields: the clip length (dataset.frames, 4 here) and the SSIM window.
    (lambda c: c["cells"][1]["attack"].update(frames=[2, 8]),
     "cells[1].attack.frames[1]: 8 frames exceed the clip length 4 (dataset.frames)"),
    (lambda c: c["cells"].append({"attack": {"method": "pgd", "frames": 5}}),
     "cells[2].attack.frames: 5 frames exceed the clip length 4 (dataset.frames)"),
    (lambda c: (c["dataset"].pop("frames"), c["cells"].append({"attack": {"method": "sparse", "frames": 41}})),
     "cells[2].attack.frames: 41 frames exceed the clip length 40"),  # the default clip length
    (lambda c: c["dataset"].update(size=10), "dataset.size: must be at least 11 (the SSIM window"),
])
def test_bad_config_fails_before_any_work_naming_the_key(workdir, tmp_path, edit, message):
    config = small_config(workdir)
    edit(config)
    out = tmp_path / "run"
    with pytest.raises(InvalidConfigError) as caught:
        run_experiment(write(tmp_path, "bad.yaml", config), out=out, device="cpu", progress=False)
    assert message in str(caught.value)
    assert not out.exists()  # nothing written, nothing run


@pytest.mark.parametrize("text, message", [
    ("name: a\nvideos: 2\nvideos: 5\n", "videos: duplicate key at line 3 (first given at line 2)"),
    ("name: a\ndataset:\n  name: synth-actions\n  frames: 4\n  size: 64\n  frames: 8\n",
     "frames: duplicate key at line 6 (first given at line 4)"),
    ("cells:\n  - attack: {method: sparse, steps: 5, steps: 9}\n", "steps: duplicate key at line 2 (first given at line 2)"),
])
def test_duplicate_yaml_keys_are_refused_naming_key_and_line(tmp_path, text, message):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(InvalidConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}: give each key once"


def test_cli_reports_a_config_error_in_one_line(workdir, tmp_path, monkeypatch, capsys):
    from deepsava import cli

    config = small_config(workdir)
    config["cells"][1]["attack"]["stpes"] = 3
    monkeypatch.setattr(sys, "argv", ["deepsava", "experiment", str(write(tmp_path, "bad.yaml", config))])
    with pytest.raises(SystemExit) as exit_:
        cli.run()
    assert exit_.value.code == InvalidConfigError.exit_code
    assert capsys.readouterr().err.strip() == "error: cells[1].attack.stpes: unknown key (did you mean steps?)"


def test_sweeps_expand_into_cells():
    config = parse_config({
        "name": "sweep", "dataset": {"name": "synth-actions"}, "videos": 4,
        "models": {"a": {"checkpoint": "x"}, "b": {"checkpoint": "y"}},
        "cells": [{"label": "D", "model": "a", "attack": {"method": "deepsava", "lam": [0.8, 1.0], "frames": [1, 2]}},
                  {"attack": {"method": "flicker"}}],
    })
    assert [(c.model, c.label) for c in config.cells] == [
        ("a", "D (lam=0.8, frames=1)"), ("a", "D (lam=0.8, frames=2)"), ("a", "D (lam=1.0, frames=1)"),
        ("a", "D (lam=1.0, frames=2)"), ("a", "flicker"), ("b", "flicker")]
    assert config.cells[1].attack == {"method": "deepsava", "lam": 0.8, "frames": 2}
    assert config.dataset["split"] == "test" and config.repeats == 1


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_are_valid(path):
    config = load_config(path)
    assert config.cells and config.videos >= 20
    assert all(spec["checkpoint"].startswith("shipped:") for spec in config.models.values())


@pytest.mark.parametrize("path", FROM_RUNS, ids=[p.name for p in FROM_RUNS])
def test_configs_over_made_checkpoints_are_valid_and_say_how_to_make_them(path):
    config = load_config(path)
    assert config.cells and config.videos >= 20
    assert all(spec["checkpoint"].startswith("runs/") for spec in config.models.values())
    assert "deepsava " in path.read_text().split("name:")[0]  # the header gives the commands that make them


def test_shipped_configs_cover_the_paper_tables():
    names = {p.stem for p in CONFIGS}
    assert {"table3", "table5", "table6", "table7", "table9", "figure6", "table11", "tableB13", "table12",
            "compression", "saliency"} <= names
    assert {"table10", "defence_ablation", "table11-route"} <= {p.stem for p in FROM_RUNS}
    t3 = load_config(ROOT / "configs" / "table3.yaml")
    assert {c.model for c in t3.cells} == {"i3d", "inception-v3", "cnn-lstm"} and t3.repeats == 3
    assert {c.method for c in t3.cells} == {"sparse", "sparse-flicker", "deepsava"}
    t6 = load_config(ROOT / "configs" / "table6.yaml")  # AAP as the paper computes it: both budgets at once
    assert all(c.attack["l21_budget"] == 0.1 and c.attack["ssim_budget"] == 0.92 for c in t6.cells)
    assert {c.model for c in t6.cells} == {"i3d", "inception-v3", "cnn-lstm"} and len(t6.cells) == 9
    t5 = load_config(ROOT / "configs" / "table5.yaml")  # the paper's Table 5, B.14-B.16 budgets
    assert {c.attack.get("l21_budget") for c in t5.cells} == {None, 0.08, 0.09, 0.1}
    assert {c.attack.get("ssim_budget") for c in t5.cells} == {None, 0.98, 0.96, 0.94}
    f6 = load_config(ROOT / "configs" / "figure6.yaml")
    assert {c.attack.get("frames") for c in f6.cells} >= {1, 2, 4, 8}


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
    from deepsava.evaluate.runner import fr_text, wilson_text

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
