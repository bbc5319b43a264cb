"""Checkpoints of foreign models: they record what rebuilds them, load strictly, and are checked before loading."""

import json

import pytest
import torch

from deepsava.errors import InvalidCheckpointError
from deepsava.models import create_model, load_checkpoint, save_checkpoint
from deepsava.models.checkpoint import inspect_checkpoint


def _metadata(stem) -> dict:
    return json.loads(stem.with_name(stem.name + ".json").read_text())


def _edit_metadata(stem, **changes):
    path = stem.with_name(stem.name + ".json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_a_fine_tuned_torchvision_checkpoint_round_trips_with_the_datasets_classes(torchvision_file, tmp_path):
    _, path = torchvision_file("r3d_18")
    model = create_model("torchvision:r3d_18", 3, weights=path, fine_tune=True).eval()
    classes = ["basketball", "biking", "diving"]
    stem = save_checkpoint(model, tmp_path / "r3d", {"dataset": "ucf-like", "classes": classes})
    meta = _metadata(stem)
    assert (meta["model"], meta["preset"], meta["num_classes"], meta["classes"]) == ("torchvision:r3d_18", None, 3, classes)
    assert "input_options" not in meta
    loaded, _ = load_checkpoint(stem)
    videos = torch.rand(1, 2, 3, 40, 50)
    with torch.no_grad():
        assert torch.equal(loaded(videos), model(videos))
    assert loaded.classes == classes and not loaded.training


def test_a_torchvision_checkpoint_that_does_not_fit_its_metadata_is_refused_naming_it(tmp_path):
    stem = save_checkpoint(create_model("torchvision:r3d_18"), tmp_path / "r3d", {})
    assert _metadata(stem)["classes"][0] == "abseiling"  # the model's own names when the caller records none
    _edit_metadata(stem, num_classes=10)
    with pytest.raises(InvalidCheckpointError, match=r"metadata: torchvision:r3d_18, 10 classes\).*net.fc.weight"
                       r" \(400, 512\) vs \(10, 512\).*they are the weights of torchvision:r3d_18 \(400 classes\)$"):
        load_checkpoint(stem)
    _edit_metadata(stem, model="torchvision:mc3_18", num_classes=400)
    with pytest.raises(InvalidCheckpointError, match=r"they are the weights of torchvision:r3d_18 \(400 classes\)$"):
        inspect_checkpoint(stem)


def test_an_hf_checkpoint_records_the_folder_and_round_trips(hf_folder, tmp_path):
    folder, _, _ = hf_folder("vivit")
    model = create_model(f"hf:{folder}", 3, fine_tune=True).eval()
    stem = save_checkpoint(model, tmp_path / "vivit", {"command": "made in a test"})
    meta = _metadata(stem)
    assert meta["model"] == f"hf:{folder.resolve()}" and meta["num_classes"] == 3 and "classes" not in meta
    loaded, _ = load_checkpoint(stem)
    videos = torch.rand(2, 4, 3, 36, 36)
    with torch.no_grad():
        assert torch.equal(loaded(videos), model(videos))
    assert loaded.num_frames == 4


def test_a_user_module_checkpoint_round_trips_and_inspecting_it_runs_no_user_code(tmp_path):
    marker = tmp_path / "imported"
    path = tmp_path / "counted.py"
    path.write_text(f"from torch import nn\nopen({str(marker)!r}, 'a').write('x')\n\n"
                    "def make():\n    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 3 * 8 * 8, 2))\n")
    model = create_model(f"{path}:make", layout="BCTHW", size=8, frames=3, value_range=(0, 255)).eval()
    videos = torch.rand(2, 3, 3, 10, 10)
    with torch.no_grad():
        logits = model(videos)
    assert marker.read_text() == "x"
    stem = save_checkpoint(model, tmp_path / "counted", {})
    meta = _metadata(stem)
    assert meta["model"] == f"{path}:make" and meta["input_options"] == model.input_options and meta["num_classes"] == 2
    inspect_checkpoint(stem)
    assert marker.read_text() == "x"  # inspecting does not import the user's code ...
    loaded, _ = load_checkpoint(stem)
    assert marker.read_text() == "xx"  # ... loading does
    with torch.no_grad():
        assert torch.equal(loaded(videos), logits)
