"""Saliency maps (Appendix D): the frame's shape, non-negative, zero where the model looks away; the least-salient selector."""

import torch
from toymodels import OneFrame, videos_and_labels

from deepsava.attacks import DeepSAVA
from deepsava.evaluate.saliency import SaliencyView, curve_figure, overlay_figure, saliency_maps, temporal_saliency


def test_maps_have_the_frame_shape_are_non_negative_and_zero_on_ignored_frames():
    model = OneFrame(frame=3, num_classes=4).eval()
    videos, labels = videos_and_labels(model, batch=2, frames=6, size=24)
    maps = saliency_maps(model, videos, labels)
    assert maps.shape == (2, 6, 24, 24)  # (B, T, H, W): one map per frame, the frame's size
    assert (maps >= 0).all()
    ignored = [t for t in range(6) if t != 3]
    assert (maps[:, ignored] == 0).all()
    assert (maps[:, 3].flatten(1).sum(dim=1) > 0).all()
    curve = temporal_saliency(maps)
    assert torch.allclose(curve.sum(dim=1), torch.ones(2))
    assert torch.equal(curve.argmax(dim=1), torch.tensor([3, 3]))


def test_saliency_selector_picks_the_most_or_least_salient_frame():
    model = OneFrame(frame=2, num_classes=4).eval()
    videos, labels = videos_and_labels(model, batch=2, frames=5, size=24)
    most = DeepSAVA(model, frames=1, selector="saliency").select_frames(videos, labels)
    least = DeepSAVA(model, frames=1, selector="saliency", selector_options={"least": True}).select_frames(videos, labels)
    assert most.flatten().tolist() == [2, 2]
    assert all(frame != 2 for frame in least.flatten().tolist())


def test_views_round_trip_and_draw(tmp_path):
    model = OneFrame(frame=1, num_classes=4).eval()
    videos, labels = videos_and_labels(model, batch=1, frames=4, size=24)
    maps = saliency_maps(model, videos, labels)
    view = SaliencyView("clip/0", "a", videos[0].permute(0, 2, 3, 1).numpy(), ["toy"], maps.numpy(),
                        temporal_saliency(maps).numpy(), ["a"])
    loaded = SaliencyView.load(view.save(tmp_path))
    assert loaded.models == ["toy"] and loaded.maps.shape == (1, 4, 24, 24) and loaded.video == "clip/0"
    for png in (overlay_figure(loaded), curve_figure(loaded)):
        assert png.startswith(b"\x89PNG")


def test_cli_draws_shipped_and_defended_models_side_by_side(tmp_path, cli_run):
    code, out, err = cli_run(["saliency", "--model", "inception-v3", "--model", "shipped:inception-v3-pgd",
                              "--index", "0", "--columns", "3", "--out", tmp_path, "--device", "cpu"])
    assert code == 0, err
    (npz,) = tmp_path.glob("*.npz")
    view = SaliencyView.load(npz)
    assert view.models == ["inception-v3", "inception-v3-pgd"] and view.maps.shape[:2] == (2, 40)
    assert (view.maps >= 0).all() and not torch.allclose(torch.from_numpy(view.maps[0]), torch.from_numpy(view.maps[1]))
    code, out, err = cli_run(["saliency", "--model", "shipped:no-such-model", "--out", tmp_path])
    assert code != 0 and "no shipped checkpoint" in err + out
