"""Training and attack evaluation on two CPU processes (torchrun, gloo) match one process; SIGKILL, then resume.

One reference job (``defend_worker.py``: PGD training, then a small experiment)
runs as a single process; the same job runs under ``torchrun --nproc_per_node 2``
and, separately, is killed with SIGKILL after its first epoch and started again.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from deepsava.evaluate.store import ResultStore

WORKER = Path(__file__).resolve().parent / "defend_worker.py"
EPOCHS = 4
VOLATILE = ("seconds", "device", "created")  # record fields that may differ between runs


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """Environment of the worker processes, with a prepared dataset cache and experiment config."""
    from deepsava.data import load_dataset
    from deepsava.models import create_model, save_checkpoint

    root = tmp_path_factory.mktemp("distributed")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(DEEPSAVA_CACHE=str(root / "cache"), OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    dataset = {"name": "synth-actions", "frames": 4, "size": 64,
               "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}}
    previous = os.environ.get("DEEPSAVA_CACHE")
    os.environ["DEEPSAVA_CACHE"] = env["DEEPSAVA_CACHE"]
    try:
        load_dataset("synth-actions", split="test", frames=4, size=64, **dataset["options"])  # generated once, here
    finally:
        os.environ.pop("DEEPSAVA_CACHE") if previous is None else os.environ.update(DEEPSAVA_CACHE=previous)
    torch.manual_seed(0)
    save_checkpoint(create_model("cnn-lstm", 2, "tiny"), root / "lstm",
                    {"classes": ["move-left", "move-right"], "dataset": "synth-actions"})
    config = {
        "name": "sharded", "dataset": dataset, "models": {"lstm": {"checkpoint": str(root / "lstm")}},
        "videos": 6, "repeats": 2, "batch_size": 2, "examples": 0,
        "cells": [{"label": "Sparse", "attack": {"method": "sparse", "frames": 2, "steps": 10, "lr": 0.1}},
                  {"label": "DeepSAVA", "attack": {"method": "deepsava", "frames": 1, "selector": "random",
                                                   "steps": 8, "lr": 0.1}}],
    }
    (root / "experiment.json").write_text(json.dumps(config))
    return env, root


def worker_command(out: Path, processes: int, *extra: str) -> list[str]:
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return [*launcher, str(WORKER), str(out), "--epochs", str(EPOCHS), *extra]


def run_worker(env, out: Path, processes: int, *extra: str) -> None:
    done = subprocess.run(worker_command(out, processes, *extra), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def single(environment):
    env, root = environment
    run_worker(env, root / "single", 1, "--plain", "--experiment", str(root / "experiment.json"))
    return root / "single"


def stored_records(run: Path) -> dict:
    with ResultStore(run / "experiment" / "results.sqlite") as store:
        return {(key, r["video_id"], r["repeat"]): {k: v for k, v in r.items() if k not in VOLATILE}
                for key in store.cells() for r in store.records(key)}


def test_two_processes_train_and_evaluate_like_one(environment, single):
    """Plain training matches to float precision; PGD training to the precision its sign steps allow.

    PGD steps by the sign of a gradient: a gradient summed in another order (a batch
    of 4 per process instead of 8) can flip the sign of a near-zero entry, and Adam
    then magnifies the change in weights whose gradients are tiny. The losses and
    accuracies still agree closely; the plain run shows the data-parallel machinery
    itself is exact.
    """
    env, root = environment
    run_worker(env, root / "two", 2, "--plain", "--experiment", str(root / "experiment.json"))
    one, two = load_file(single / "plain.safetensors"), load_file(root / "two" / "plain.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5), key
    for name in ("plain", "model"):
        meta_one = json.loads((single / f"{name}.json").read_text())
        meta_two = json.loads((root / "two" / f"{name}.json").read_text())
        assert meta_two["training"]["processes"] == 2 and meta_one["training"]["processes"] == 1
        for a, b in zip(meta_one["history"], meta_two["history"], strict=True):
            assert a["train_top1"] == b["train_top1"] and a["test_top1"] == b["test_top1"]
            assert a["loss"] == pytest.approx(b["loss"], abs=1e-5 if name == "plain" else 2e-3)
    # Sharded evaluation: one store with every result, and the results a single process got.
    records = stored_records(root / "two")
    assert len(records) == 2 * 6 * 2  # cells x videos x repeats
    assert records == stored_records(single)
    assert not list((root / "two" / "experiment" / "shards").glob("*.sqlite"))


def test_training_killed_with_sigkill_resumes_to_the_same_model(environment, single):
    env, root = environment
    out = root / "killed"
    state = out / "model.state.safetensors"
    process = subprocess.Popen(worker_command(out, 1), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert state.exists() and not (out / "model.safetensors").exists(), "the run was not caught mid-training"
    run_worker(env, out, 1)
    meta = json.loads((out / "model.json").read_text())
    assert [r["epoch"] for r in meta["history"]] == list(range(1, EPOCHS + 1))
    resumed, uninterrupted = load_file(out / "model.safetensors"), load_file(single / "model.safetensors")
    for key in uninterrupted:
        assert torch.equal(resumed[key], uninterrupted[key]), key
    assert meta["history"] == json.loads((single / "model.json").read_text())["history"]
