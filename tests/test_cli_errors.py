"""User errors on the command line: one line on stderr, a documented exit code, never a traceback.

Also the files a user points the commands at (configs, checkpoints, output folders): refused
before any work, naming what is wrong, and nothing written outside the output folder.
"""

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from deepsava import cli
from deepsava.errors import EXIT_CODES, FILE_SYSTEM_EXIT_CODE, InvalidArgumentError

ROOT = Path(__file__).resolve().parents[1]
CLIPS = (ROOT / "../shared/data/clips").resolve()
REAL = CLIPS / "v_Basketball_g01_c01.avi"


def assert_one_line(code: int, err: str, expected: int, needle: str) -> None:
    assert code == expected, err
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err, err


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A 5-class checkpoint, a checkpoint whose metadata is not an object, and a 2-class UCF101-layout root."""
    from deepsava.models import create_model, save_checkpoint

    root = tmp_path_factory.mktemp("cli")
    save_checkpoint(create_model("cnn-lstm", 5, "tiny"), root / "five", {"dataset": "none"})
    save_checkpoint(create_model("cnn-lstm", 5, "tiny"), root / "listmeta", {})
    (root / "listmeta.json").write_text("[1, 2]")
    ucf = root / "ucf"
    (ucf / "ucfTrainTestlist").mkdir(parents=True)
    (ucf / "ucfTrainTestlist" / "classInd.txt").write_text("1 Basketball\n2 Other\n")
    (ucf / "ucfTrainTestlist" / "testlist01.txt").write_text("v_Basketball_g01_c01.avi\n")
    if REAL.is_file():
        (ucf / "v_Basketball_g01_c01.avi").symlink_to(REAL)
    return root


def cases(root: Path) -> list[tuple[list, int, str]]:
    video = ["--video", REAL, "--length", "8", "--steps", "1", "--device", "cpu"]
    (root / "not-records").mkdir(exist_ok=True)
    (root / "not-records" / "records.jsonl").write_text('{"foo": 1}\n[1, 2]\n')
    return [
        (["report", root / "nothing"], 3, "does not exist"),
        (["report", root / "not-records"], 3, "holds no results yet"),
        (["experiment", root / "missing.yaml"], 7, "does not exist"),
        (["attack", "--model", "cnn-lstm", "--video", root / "none.mp4"], 4, "video file not found"),
        (["attack", "--model", "cnn-lstm", "--video", root], 4, "not a file"),
        (["attack", "--model", "cnn-lstm", "--video", CLIPS / "corrupted.mp4"], 4, "corrupted video"),
        (["attack", "--model", "no-such-model", *video], 3, "no shipped checkpoint"),
        (["attack", "--model", "cnn-lstm", "--batch-size", "0", *video], 3, "batch size must be a positive"),
        (["attack", "--model", "cnn-lstm", "--steps", "0", "--video", REAL], 3, "steps must be a positive"),
        (["attack", "--model", "cnn-lstm", "--precision", "fp8", *video], 3, "unknown precision"),
        (["attack", "--checkpoint", root / "listmeta", *video], 5, "must be a JSON object"),
        (["attack", "--checkpoint", root / "five", "--dataset", "ucf101", "--root", root / "ucf", "--device", "cpu"],
         5, "the model has 5 classes but ucf101 has 2"),
        (["attack", "--model", "cnn-lstm", "--out", "/proc/deepsava-cannot-write", *video], FILE_SYSTEM_EXIT_CODE,
         "/proc/deepsava-cannot-write"),
        (["data", "no-such-dataset"], 3, "unknown dataset"),
        (["data", "moving-digits", "--root", root / "five.json"], 6, "not a .npy array file"),
        (["train", "--model", "resnet", "--dataset", "synth-actions", "--out", root / "new"], 3, "unknown model"),
        (["train", "--model", "cnn-lstm", "--dataset", "synth-actions", "--out", root / "five"], 3,
         "five.safetensors already exists: pass --force"),
        (["evaluate", "--checkpoint", root / "nothing"], 5, "does not exist"),
        (["evaluate", "--model", "cnn-lstm", "--checkpoint", root / "five"], 3, "exactly one of"),
        (["evaluate", "--model", "cnn-lstm", "--frames", "0"], 3, "frames must be at least 2"),
    ]


@pytest.mark.skipif(not REAL.is_file(), reason="real clips not available")
def test_user_errors_are_one_line_with_their_exit_code(workspace, cli_run):
    for args, expected, needle in cases(workspace):
        code, _, err = cli_run(args)
        assert_one_line(code, err, expected, needle)
    assert not (workspace / "new.safetensors").exists()


def test_debug_shows_the_traceback(tmp_path, cli_run):
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        cli_run(["--debug", "report", tmp_path / "nothing"])


def test_every_command_rejects_an_unknown_option_as_a_usage_error(cli_run):
    names = [command.name for command in cli.app.registered_commands]
    assert {"attack", "experiment", "report", "train", "evaluate", "data", "demo"} <= set(names)
    for name in names:
        code, _, err = cli_run([name, "--no-such-option"])
        assert code == 2 and "No such option" in err and "Traceback" not in err, name


def test_exit_codes_are_documented_in_help_and_readme(cli_run):
    code, out, _ = cli_run(["--help"])
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    readme = (ROOT / "README.md").read_text()
    for number, meaning in EXIT_CODES.items():
        assert f"{number} {meaning}" in text, number
        assert re.search(rf"^\| {number} \| .+ \|$", readme, re.M), f"README lacks exit code {number}"


# --- configs ----------------------------------------------------------------------------------


def minimal_config(**changes) -> dict:
    config = {"name": "small", "dataset": {"name": "synth-actions"}, "models": {"m": {"checkpoint": "shipped:i3d"}},
              "videos": 2, "cells": [{"attack": {"method": "sparse", "steps": 2}}]}
    return {**config, **changes}


def test_yaml_that_would_run_code_is_refused_without_running_it(tmp_path, cli_run):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(minimal_config()) +
                    f"description: !!python/object/apply:os.system ['touch {marker}']\n")
    code, _, err = cli_run(["experiment", path, "--out", tmp_path / "run"])
    assert_one_line(code, err, 7, "not valid YAML")
    assert not marker.exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", ""])
def test_a_config_name_cannot_lead_outside_the_runs_folder(tmp_path, cli_run, name):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(minimal_config(name=name)))
    code, _, err = cli_run(["experiment", path])
    assert_one_line(code, err, 7, "name: must be a plain folder name")


def test_experiment_refuses_a_folder_holding_another_experiment(tmp_path, cli_run):
    from deepsava.evaluate.store import ResultStore

    with ResultStore(tmp_path / "run" / "results.sqlite") as store:
        store.set_meta("config_name", "table9")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(minimal_config()))
    code, _, err = cli_run(["experiment", path, "--out", tmp_path / "run"])
    assert_one_line(code, err, 7, "holds the results of experiment 'table9', not 'small'")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["results.sqlite"]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.sqlite").write_text("not a database, " * 100)
    code, _, err = cli_run(["experiment", path, "--out", tmp_path / "broken"])
    assert_one_line(code, err, 3, "results.sqlite is not a readable result database")


# --- output folders -----------------------------------------------------------------------------


def test_video_ids_cannot_write_outside_the_output_folder(tmp_path):
    from deepsava.attacks import DeepSAVA
    from deepsava.data import ArrayVideoDataset
    from deepsava.evaluate.attack_job import attack_dataset, file_name, prepare_output
    from toymodels import OneFrame

    assert file_name("../../etc/passwd") == "etc_passwd" and file_name("..") == "video" and "/" not in file_name("/a/b")
    clips = torch.zeros(2, 3, 3, 16, 16, dtype=torch.uint8).numpy()
    ids = ["../../outside", "/tmp/absolute"]
    data = ArrayVideoDataset(clips, range(2), ["a", "b", "c", "d"], ids, [0, 1])
    out = prepare_output(tmp_path / "nested" / "out", force=False)
    attack_dataset(DeepSAVA(OneFrame(frame=0), frames=1, selector="first", steps=1), data, [0, 1], 2,
                   torch.device("cpu"), out, save_videos=True, progress=False)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.startswith("nested/out/") for p in written), written
    assert {p for p in written if p.endswith(".mkv")} == {"nested/out/videos/outside.mkv",
                                                         "nested/out/videos/tmp_absolute.mkv"}
    assert json.loads((out / "summary.json").read_text())["summary"]["videos"] == 2
