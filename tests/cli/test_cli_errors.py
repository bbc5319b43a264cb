"""User errors on the command line: one line on stderr, a documented exit code, never a traceback.

Also the files a user points the commands at (configs, checkpoints, output folders): refused
before any work, naming what is wrong, and nothing written outside the output folder.
"""

import re
from pathlib import Path

import pytest
import torch
import yaml

from deepsava.cli.main import app
from deepsava.errors import EXIT_CODES, FILE_SYSTEM_EXIT_CODE, InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]
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
    for name, text in (("badjson", b"{'not': json"), ("latin1", '{"dataset": "caf\xe9"}'.encode("latin-1"))):
        save_checkpoint(create_model("cnn-lstm", 5, "tiny"), root / name, {})
        (root / f"{name}.json").write_bytes(text)
    _store(root / "no-clean-correct", {"attack": {"spec": {"method": "sparse"}}}, {"video_id": "x", "success": True})
    record = {"video_id": "x", "clean_correct": True, "success": False, "iterations": 3, "ssim": 1.0, "l21": 0.0,
              "seconds": 0.1}
    _store(root / "config-not-object", {"attack": 5}, record)
    ucf = root / "ucf"
    (ucf / "ucfTrainTestlist").mkdir(parents=True)
    (ucf / "ucfTrainTestlist" / "classInd.txt").write_text("1 Basketball\n2 Other\n")
    (ucf / "ucfTrainTestlist" / "testlist01.txt").write_text("v_Basketball_g01_c01.avi\n")
    if REAL.is_file():
        (ucf / "v_Basketball_g01_c01.avi").symlink_to(REAL)
    return root


def _store(folder: Path, config: dict, record: dict) -> None:
    from deepsava.experiment.store import ResultStore

    with ResultStore(folder / "results.sqlite") as store:
        store.add_cell("k", "label", config)
        store.add_results("k", 0, [record])


def _yaml(root: Path, name: str, text: str | bytes, **changes) -> Path:
    """A config file: ``text`` as is, or the minimal config with ``changes`` when ``text`` is empty."""
    path = root / f"{name}.yaml"
    content = text or yaml.safe_dump(minimal_config(**changes))
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def cases(root: Path) -> list[tuple[list, int, str]]:
    video = ["--video", REAL, "--length", "8", "--steps", "1", "--device", "cpu"]
    (root / "not-records").mkdir(exist_ok=True)
    (root / "not-records" / "records.jsonl").write_text('{"foo": 1}\n[1, 2]\n')  # the former attack format: no store
    cell = {"attack": {"method": "sparse", "steps": 2}}
    dataset = {"name": "synth-actions", "frames": 4}
    return [
        # configs: refused before any work, naming the key
        (["experiment", _yaml(root, "latin1", b"name: caf\xe9\n")], 7, "latin1.yaml: not UTF-8 text"),
        (["experiment", _yaml(root, "model", "", cells=[{**cell, "model": [[1]]}])], 7,
         "cells[0].model[0]: unknown model [1]"),
        (["experiment", _yaml(root, "method", "", cells=[{"attack": {"method": ["deepsava"]}}])], 7,
         "cells[0].attack.method: unknown method ['deepsava']"),
        (["experiment", _yaml(root, "transfer", "", transfer=[["x"]])], 7, "transfer[0]: unknown model ['x']"),
        (["experiment", _yaml(root, "seed", "", dataset={**dataset, "seed": -1})], 7,
         "dataset.seed: must be an integer in [0, 4294967295], got -1"),
        (["experiment", _yaml(root, "size", "", dataset={**dataset, "size": 6400})], 7,
         "dataset.size: must be an integer in [8, 512], got 6400"),
        (["experiment", _yaml(root, "options", "", dataset={**dataset, "options": {"num_classes": "x"}})], 7,
         "dataset.options.num_classes: must be an integer in [2, 12], got 'x'"),
        (["experiment", _yaml(root, "probe", "", cells=[{"attack": {"method": "deepsava", "selector_options":
                                                                     {"probe_steps": -5}}}])], 7,
         "cells[0].attack.selector_options.probe_steps: must be an integer in [1, 100000], got -5"),
        (["experiment", _yaml(root, "classes", "", dataset={**dataset, "options": {"num_classes": 6}})], 7,
         "models.m.checkpoint: the model's classes"),  # found before the 6-class dataset is generated
        (["experiment", _yaml(root, "limit", ""), "--limit", "0"], 3, "--limit must be a positive integer"),
        (["demo", "--videos", "-1"], 3, "--videos must be at least 1"),
        (["data", "synth-actions", "--seed", "-1"], 3, "seed must be an integer in [0, 2**32 - 1], got -1"),
        # checkpoints: the metadata beside --weights
        (["train", "--model", "cnn-lstm", "--dataset", "synth-actions", "--out", root / "new", "--weights",
          root / "badjson.safetensors"], 5, "badjson.json is not valid JSON"),
        (["train", "--model", "cnn-lstm", "--dataset", "synth-actions", "--out", root / "new", "--weights",
          root / "latin1"], 5, "latin1.json is not valid JSON"),
        (["attack", "--model", "cnn-lstm", "--weights", root / "five.safetensors", "--num-classes", "7", "--preset",
          "tiny", *video], 5, "the weights are a cnn-lstm for 5 classes, not 7"),
        # numeric options: finite, in range, before any work
        *[(["attack", "--model", "cnn-lstm", option, value, *video], 3, f"{name} must be a finite number")
          for option, value, name in (("--lr", "inf", "lr"), ("--flow-lr", "nan", "flow_lr"), ("--lam", "inf", "lam"),
                                      ("--l21-budget", "inf", "l21_budget"))],
        (["attack", "--model", "cnn-lstm", "--seed", "-1", *video], 3, "seed must be an integer in [0, 4294967295]"),
        (["saliency", "--model", "cnn-lstm", "--columns", "0"], 3, "--columns must be at least 1"),
        (["prediction-attack", "--batch-size", "0", "--out", root / "pred"], 3, "--batch-size must be at least 1"),
        (["prediction-attack", "--lr", "nan", "--out", root / "pred"], 3, "lr must be a finite number"),
        # stores the metrics cannot read
        (["report", root / "no-clean-correct"], 3, "a record of cell k is not an attack result"),
        (["report", root / "config-not-object"], 3, "cell k has no configuration object"),
        (["report", root / "nothing"], 3, "does not exist"),
        (["report", root / "not-records"], 3, "holds no results"),
        (["experiment", root / "missing.yaml"], 7, "does not exist"),
        (["attack", "--model", "cnn-lstm", "--video", root / "none.mp4"], 4, "video file not found"),
        (["attack", "--model", "cnn-lstm", "--video", root], 4, "not a file"),
        (["attack", "--model", "cnn-lstm", "--video", CLIPS / "corrupted.mp4"], 4, "corrupted video"),
        (["attack", "--model", "no-such-model", *video], 3, "no shipped checkpoint"),
        (["attack", "--model", "cnn-lstm", "--batch-size", "0", *video], 3, "--batch-size must be at least 1"),
        (["attack", "--model", "cnn-lstm", "--video", REAL, "--length", "40", "--frames", "41", "--out", root / "f41"], 3,
         "frames: 41 frames exceed the clip length 40 (--length)"),  # before the model loads or the video decodes
        (["attack", "--model", "cnn-lstm", "--steps", "0", "--video", REAL], 3, "steps must be a positive"),
        (["attack", "--model", "cnn-lstm", "--precision", "fp8", *video], 3, "unknown precision"),
        (["attack", "--checkpoint", root / "listmeta", *video], 5, "must be a JSON object"),
        (["attack", "--checkpoint", root / "five", "--dataset", "ucf101", "--root", root / "ucf", "--device", "cpu"],
         7, "the model's classes (5) do not match ucf101's"),
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
def test_user_errors_are_one_line_with_their_exit_code(workspace, cli_run, cache_dir):
    for args, expected, needle in cases(workspace):
        code, _, err = cli_run(args)
        assert_one_line(code, err, expected, needle)
    assert not (workspace / "new.safetensors").exists() and not (workspace / "f41").exists()
    assert not cache_dir.exists() or not any(cache_dir.rglob("*.npy"))  # refused before any dataset was made


def test_debug_shows_the_traceback(tmp_path, cli_run):
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        cli_run(["--debug", "report", tmp_path / "nothing"])


def test_every_command_rejects_an_unknown_option_as_a_usage_error(cli_run):
    names = [command.name for command in app.registered_commands]
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
    from deepsava.experiment.store import ResultStore

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
    from deepsava.experiment.artifacts import save_video, video_stem

    assert video_stem("../../etc/passwd", False) == "etc_passwd" and video_stem("..", False) == "video"
    assert "/" not in video_stem("/a/b", False) and video_stem("/clips/v_Basketball.avi", True) == "v_Basketball"
    out = tmp_path / "nested" / "out"
    for vid in ("../../outside", "/tmp/absolute"):
        save_video(out / "videos" / "cell", video_stem(vid, False), torch.zeros(3, 3, 16, 16))
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.startswith("nested/out/") for p in written), written
    assert {p for p in written if p.endswith(".mkv")} == {"nested/out/videos/cell/outside.mkv",
                                                         "nested/out/videos/cell/tmp_absolute.mkv"}


# --- result stores that cannot be opened or written, interruption --------------------------------


@pytest.fixture
def tiny_experiment(tmp_path, cache_dir):
    """A config whose dataset (2 classes x 2 videos of 2 frames) is generated in a moment, over a 2-class model."""
    from deepsava.models import create_model, save_checkpoint

    save_checkpoint(create_model("inception-v3", 2, "tiny"), tmp_path / "two", {"classes": ["move-left", "move-right"]})
    config = minimal_config(dataset={"name": "synth-actions", "frames": 2,
                                     "options": {"num_classes": 2, "videos_per_class": 2, "progress": False}},
                            models={"m": {"checkpoint": str(tmp_path / "two")}}, videos=1, examples=0)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_result_store_that_cannot_be_opened_or_written_is_a_file_error(tiny_experiment, tmp_path, cli_run,
                                                                         monkeypatch):
    import sqlite3

    from deepsava.experiment.store import ResultStore

    def experiment(out: str) -> tuple[int, str, str]:
        return cli_run(["experiment", tiny_experiment, "--out", tmp_path / out, "--device", "cpu", "--no-progress"])

    (tmp_path / "folder" / "results.sqlite").mkdir(parents=True)  # a folder where the database should be
    code, _, err = experiment("folder")
    assert_one_line(code, err, FILE_SYSTEM_EXIT_CODE, "cannot open the result database (unable to open database file)")
    def raising(error):
        def add_results(*args):
            raise error
        return add_results

    for message in ("database or disk is full", "attempt to write a readonly database"):
        monkeypatch.setattr(ResultStore, "add_results", raising(sqlite3.OperationalError(message)))
        code, _, err = experiment("full")
        assert_one_line(code, err, FILE_SYSTEM_EXIT_CODE, f"result database cannot be read or written: {message}")
    monkeypatch.setattr(ResultStore, "add_results", raising(sqlite3.ProgrammingError("a bug keeps its traceback")))
    with pytest.raises(sqlite3.ProgrammingError):
        experiment("bug")


def test_an_edited_config_rerun_keeps_the_earlier_config(tiny_experiment, tmp_path, cli_run):
    out = tmp_path / "run"
    assert cli_run(["experiment", tiny_experiment, "--out", out, "--device", "cpu", "--no-progress"])[0] == 0
    first = (out / "config.yaml").read_text()
    edited = yaml.safe_load(first)
    edited["cells"][0]["attack"]["steps"] = 3
    tiny_experiment.write_text(yaml.safe_dump(edited))
    assert cli_run(["experiment", tiny_experiment, "--out", out, "--device", "cpu", "--no-progress"])[0] == 0
    assert (out / "config.1.yaml").read_text() == first and yaml.safe_load((out / "config.yaml").read_text()) == edited
    assert cli_run(["experiment", tiny_experiment, "--out", out, "--device", "cpu", "--no-progress"])[0] == 0
    assert not (out / "config.2.yaml").exists()  # the same config again: nothing to keep


def test_a_corrupted_defend_state_is_refused_in_one_line(tmp_path, cli_run, monkeypatch):
    import deepsava.data
    from toymodels import BrightnessClips

    monkeypatch.setattr(deepsava.data, "load_dataset", lambda *a, **k: BrightnessClips(n=6))
    (tmp_path / "d.state.safetensors").write_bytes(b"\xff" * 64)  # a header length beyond the file
    code, out, err = cli_run(["defend", "--method", "none", "--model", "cnn-gru", "--dataset", "bright", "--out",
                              tmp_path / "d", "--epochs", "1", "--device", "cpu", "--no-progress"])
    assert_one_line(code, err, 5, "the interrupted run's state cannot be read")
    assert out.startswith("resuming the interrupted run")


def test_ctrl_c_says_interrupted_and_exits_130(tmp_path, cli_run, monkeypatch):
    import deepsava.report.write

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(deepsava.report.write, "write_report", interrupt)
    code, _, err = cli_run(["report", tmp_path])
    assert code == 130 and err == "interrupted\n"


@pytest.mark.skipif(not REAL.is_file(), reason="real clips not available")
def test_saliency_refuses_to_overwrite_its_files_unless_forced(tmp_path, cli_run):
    args = ["saliency", "--model", "inception-v3", "--video", REAL, "--length", "4", "--size", "32", "--columns", "2",
            "--out", tmp_path, "--device", "cpu"]
    assert cli_run(args)[0] == 0
    (npz,) = tmp_path.glob("*.npz")
    before = npz.read_bytes()
    code, _, err = cli_run(args)
    assert_one_line(code, err, 3, f"{npz} exists: pass --force")
    assert npz.read_bytes() == before
    assert cli_run([*args, "--force"])[0] == 0


def test_help_texts_are_rewrapped_to_the_terminal(cli_run):
    """A docstring's hard line breaks are not kept: a paragraph is refilled, so no line of it but its last is short."""
    code, out, _ = cli_run(["defend", "--help"])
    assert code == 0
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Alone: `deepsava defend"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    paragraph = [line.rstrip() for line in lines[start:end]]
    assert len(paragraph) >= 3 and all(55 <= len(line) <= 80 for line in paragraph[:-1]), paragraph
