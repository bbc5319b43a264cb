"""`deepsava attack` on the real Kinetics clip with a model of each foreign family, classes named in the output."""

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest

CLIP = (Path(__file__).parents[2] / "../shared/data/clips/abseiling_k400.mp4").resolve()

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not CLIP.is_file(), reason="real clip not available")]


def records(out: Path) -> list[dict]:
    with sqlite3.connect(out / "results.sqlite") as db:
        return [json.loads(text) for (text,) in db.execute("SELECT record FROM results")]


def attack(cli_run, out: Path, *model: str, extra=()) -> tuple[str, dict]:
    code, stdout, err = cli_run(["attack", *model, "--video", CLIP, "--frames", "1", "--selector", "first", "--steps",
                                 "2", "--device", "cpu", "--no-save-videos", "--out", out, *extra])
    assert code == 0, err
    [record] = records(out)
    assert record["source"]["video"] == str(CLIP) and record["label_source"] == "clean prediction"
    return " ".join(stdout.split()), record


def test_a_torchvision_model_is_attacked_in_kinetics_class_names(torchvision_file, tmp_path, cli_run):
    from torchvision.models import get_model_weights

    _, weights = torchvision_file("r3d_18")
    out = tmp_path / "run"
    stdout, record = attack(cli_run, out, "--model", "torchvision:r3d_18", "--weights", weights, extra=("--length", "8",
                                                                                                        "--size", "112"))
    categories = get_model_weights("r3d_18").DEFAULT.meta["categories"]
    assert f"abseiling_k400.mp4: true class {categories[record['label']]} (the clean prediction, no label given)" in stdout
    assert f"→ {categories[record['adv_pred']]}" in stdout
    code, _, err = cli_run(["report", out, "--videos", "1", "--no-mp4"])
    assert code == 0, err
    assert categories[record["label"]] in (out / "report" / "report.md").read_text()


def test_a_hugging_face_folder_is_attacked_with_its_frame_count_and_label_names(hf_folder, tmp_path, cli_run):
    folder, net, _ = hf_folder("videomae")
    stdout, record = attack(cli_run, tmp_path / "run", "--model", f"hf:{folder}", extra=("--size", "48"))
    assert record["frames"] == [0]
    [(key, value)] = [(k, v) for k, v in json.loads((Path(folder) / "config.json").read_text())["id2label"].items()
                      if int(k) == record["label"]]
    assert f"true class {value}" in stdout
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "frames: 4" in config  # the clip length the model needs (its config's num_frames), not the default 40


def test_a_user_module_is_attacked_through_its_input_spec(tmp_path, cli_run):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv3d(3, 4, 3, padding=1)
                self.head = torch.nn.Linear(4, 3)

            def forward(self, x):  # (B, C, T, H, W), normalised
                return self.head(self.conv(x).mean(dim=(2, 3, 4)))

        def make():
            torch.manual_seed(0)
            return Net()
    """))
    stdout, record = attack(cli_run, tmp_path / "run", "--model", f"{tmp_path / 'mine.py'}:make",
                            extra=("--input", "layout=BCTHW", "--input", "size=32", "--input", "mean=[0.5,0.5,0.5]",
                                   "--input", "std=[0.25,0.25,0.25]", "--length", "6"))
    assert f"true class class {record['label']}" in stdout and 0 <= record["label"] < 3
    code, _, err = cli_run(["attack", "--model", f"{tmp_path / 'mine.py'}:missing", "--video", CLIP, "--device", "cpu"])
    assert code == 3 and "has no missing" in err and "Traceback" not in err
