import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from deepsava.io import read_frames
from deepsava.models import create_model, save_checkpoint

CLIP = (Path(__file__).parents[2] / "../shared/data/clips/v_Basketball_g01_c01.avi").resolve()


def deepsava(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepsava", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "cnn-lstm"
    save_checkpoint(create_model("cnn-lstm", 5, "tiny"), path, {"dataset": "none", "classes": [str(i) for i in range(5)]})
    return path


def test_attack_one_real_video_writes_records_summary_and_a_lossless_video(checkpoint, tmp_path):
    if not CLIP.is_file():
        pytest.skip("real clip not available")
    out = tmp_path / "run"
    done = deepsava("attack", "--checkpoint", str(checkpoint), "--video", str(CLIP), "--length", "16",
                    "--frames", "1", "--selector", "first", "--steps", "3", "--out", str(out), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert "FR" in done.stdout
    with sqlite3.connect(out / "results.sqlite") as db:
        records = [json.loads(text) for (text,) in db.execute("SELECT record FROM results")]
    assert len(records) == 1 and records[0]["frames"] == [0] and records[0]["clean_correct"]
    assert records[0]["source"] == {"video": str(CLIP), "frames": 16, "size": 64, "sampling": "stride", "short": "loop"}
    assert records[0]["label_source"] == "clean prediction"
    assert "(the clean prediction, no label given)" in done.stdout  # and the classes by name
    assert f"{CLIP.name}: true class {records[0]['label']}" in done.stdout.replace("\n", " ")
    summary = json.loads((out / "summary.json").read_text())
    assert summary[0]["videos"] == 1 and summary[0]["attack"]["selector"] == "first"
    videos = list((out / "videos").glob("*/*.mkv"))
    assert [v.name for v in videos] == ["v_Basketball_g01_c01.mkv"] and read_frames(videos[0]).shape == (16, 3, 64, 64)
    preview = videos[0].with_suffix(".mp4")
    assert preview.is_file() and read_frames(preview).shape[0] == 16  # the H.264 preview beside the lossless file
    # A second run into the same folder refuses to overwrite it, with a one-line error.
    again = deepsava("attack", "--checkpoint", str(checkpoint), "--video", str(CLIP), "--length", "16", "--out", str(out))
    assert again.returncode == 3
    assert again.stderr.startswith("error:") and "--force" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize("args,code,needle", [
    (["--model", "no-such-model"], 3, "no shipped checkpoint"),
    (["--selector", "nope"], 3, "unknown selector"),
    (["--mode", "sideways"], 3, "unknown mode"),
    (["--frames", "0"], 3, "frames"),
    (["--ssim-budget", "1.5"], 3, "ssim_budget"),
])
def test_attack_bad_options_fail_with_one_line(checkpoint, args, code, needle):
    if not CLIP.is_file():
        pytest.skip("real clip not available")
    base = ["attack", "--video", str(CLIP), "--length", "8", "--steps", "1", "--device", "cpu"]
    if "--model" not in args:
        base += ["--checkpoint", str(checkpoint)]
    done = deepsava(*base, *args)
    assert done.returncode == code, done.stderr
    assert needle in done.stderr and "Traceback" not in done.stderr


def test_black_box_attack_records_the_queries_each_video_used(tmp_path, cli_run):
    from deepsava.report.plots import query_plots
    from deepsava.report.run import load_run
    from deepsava.report.tables import cell_table

    if not CLIP.is_file():
        pytest.skip("real clip not available")
    base = ["attack", "--model", "cnn-lstm", "--video", CLIP, "--length", "4", "--size", "32", "--selector", "brute",
            "--device", "cpu"]
    code, _, err = cli_run([*base, "--queries", "50"])
    assert code == 3 and "--queries is the budget of the black-box attack: add --black-box" in err
    out = tmp_path / "run"
    code, shown, err = cli_run([*base, "--black-box", "--queries", "300", "--out", out, "--no-save-videos"])
    assert code == 0, err
    assert "black-box DeepSAVA (300 queries a video" in " ".join(shown.split())
    with sqlite3.connect(out / "results.sqlite") as db:
        (record,), = [[json.loads(text) for (text,) in db.execute("SELECT record FROM results")]]
    # The clean forward, brute force's probes of the 4 frames (5 antithetic pairs each), the attack's steps.
    assert record["attack"] == "deepsava-bb" and 1 + 4 * 10 < record["queries"] <= 300
    assert record["success"]  # the shipped CNN+LSTM on this clip: fooled within the budget
    run = load_run(out)
    assert run.cells[0].params["queries"] == 300
    table = cell_table(run)
    assert table.rows[0][table.columns.index("queries")] == str(record["queries"])
    assert [image.path for image in query_plots(run)] == ["figures/fr-queries.png"]  # FR against queries
