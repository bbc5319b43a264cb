import json

import torch

from deepsava.models.i3d import Unit3D, _windows, temporal_paths
from deepsava.studies.frame_sensitivity import frame_sensitivity
from toymodels import OneFrame, videos_and_labels


def test_time_windows_are_the_models_own_same_padded_convolution():
    """Column t of the window matrix = what a one-hot frame t gives through I3D's Unit3D with all-ones weights."""
    for length, kernel, stride in ((40, 7, 2), (20, 3, 2), (9, 3, 1), (5, 2, 2)):
        unit = Unit3D(1, 1, (kernel, 1, 1), (stride, 1, 1), bn_relu=False)
        with torch.no_grad():
            unit.conv3d.weight.fill_(1.0)
            unit.conv3d.bias.zero_()
            seen = unit(torch.eye(length).view(length, 1, length, 1, 1)).view(length, -1).T.double()
        assert torch.equal(seen, _windows(length, kernel, stride))


def test_i3d_reaches_its_edge_frames_through_fewer_paths_and_even_frames_through_more():
    for preset in ("paper", "tiny"):
        paths = temporal_paths(preset, 40)
        paths = paths / paths.mean()
        assert paths[0] < 0.25 * paths[20] and paths[-1] < 0.35 * paths[20]
        assert paths[::2].mean() > paths[1::2].mean()
    unstrided = torch.eye(16, dtype=torch.float64)  # a model with no temporal window at all would be flat
    assert torch.equal(_windows(16, 1, 1), unstrided)


def test_sensitivity_is_all_on_the_only_frame_a_model_sees():
    model = OneFrame(frame=3).eval()
    videos, labels = videos_and_labels(model, batch=3, frames=6, size=16)
    labels = (labels + 1) % 4  # a loss with a gradient
    sensitivity = frame_sensitivity(model, videos, labels)
    assert sensitivity.shape == (3, 6)
    assert torch.allclose(sensitivity[:, 3], torch.full((3,), 6.0)) and sensitivity[:, [0, 1, 2, 4, 5]].abs().max() == 0


def test_sensitivity_command_writes_the_curves_and_the_structural_one(cli_run, tmp_path):
    code, out, err = cli_run(["sensitivity", "--model", "i3d", "--videos", "2", "--batch-size", "2", "--length", "16",
                              "--out", tmp_path, "--device", "cpu"])
    assert code == 0, err
    saved = json.loads((tmp_path / "sensitivity.json").read_text())
    curve = saved["sensitivity"]["i3d"]
    assert len(curve) == 16 and min(curve) >= 0 and saved["about"]["videos"] == 2
    assert "i3d (paper preset): paths along time (architecture)" in saved["structural"]
    assert "| i3d | " in out and (tmp_path / "sensitivity.png").stat().st_size > 1000
