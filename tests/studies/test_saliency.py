"""Saliency maps (Appendix D): the frame's shape, non-negative, zero where the model looks away; the least-salient selector."""

import numpy as np
import pytest
import torch
from toymodels import FramePooling, OneFrame, videos_and_labels

from deepsava.attacks import DeepSAVA
from deepsava.report.study_figures import saliency_curve_figure, saliency_overlay_figure
from deepsava.studies.saliency import SaliencyView, saliency_maps, temporal_saliency, top_share, total_saliency


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


@pytest.mark.parametrize("score", ["logit", "loss"])
def test_selector_picks_the_curves_largest_and_smallest_frame(score):
    """The selector ranks by the very curve the report draws: its pick is the curve's argmax (argmin with least)."""
    model = FramePooling(num_classes=4).eval()  # every frame counts, each by its own content
    videos, labels = videos_and_labels(model, batch=6, frames=7, size=24, seed=3)
    curve = temporal_saliency(saliency_maps(model, videos, labels, score))
    for least, expected in ((False, curve.argmax(dim=1)), (True, curve.argmin(dim=1))):
        options = {"least": least, "score": score}
        picked = DeepSAVA(model, frames=1, selector="saliency", selector_options=options).select_frames(videos, labels)
        assert torch.equal(picked.squeeze(1), expected)
    assert len(set(curve.argmax(dim=1).tolist())) > 1  # the frames differ between videos: the test can fail


def test_logit_saliency_is_free_of_the_confidence_the_loss_saliency_carries():
    """Linear two-class logits z = W x: d z_y/dx = w_y, while d CE/dx = -(1 - p_y)(w_y - w_other)."""

    class Linear(torch.nn.Module):
        num_classes = 2

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(2, 3 * 4 * 8 * 8, generator=torch.Generator().manual_seed(0)))

        def forward(self, videos):
            return videos.flatten(1) @ self.weight.T

    model = Linear()
    videos = torch.rand(3, 4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 0])
    p = model(videos).softmax(dim=1).gather(1, labels[:, None]).squeeze(1)
    logit, loss = saliency_maps(model, videos, labels, "logit"), saliency_maps(model, videos, labels, "loss")
    margin = (model.weight[labels] - model.weight[1 - labels]).detach().view(3, 4, 3, 8, 8).abs().amax(dim=2)
    assert torch.allclose(loss, (1 - p)[:, None, None, None] * margin, rtol=1e-5)
    assert torch.allclose(logit, model.weight[labels].detach().view(3, 4, 3, 8, 8).abs().amax(dim=2))


def test_views_round_trip_and_draw(tmp_path):
    model = OneFrame(frame=1, num_classes=4).eval()
    videos, labels = videos_and_labels(model, batch=1, frames=4, size=24)
    maps = saliency_maps(model, videos, labels)
    view = SaliencyView("clip/0", "a", videos[0].permute(0, 2, 3, 1).numpy(), ["toy"], maps.numpy(),
                        temporal_saliency(maps).numpy(), ["a"], np.array([0.75]), "logit")
    loaded = SaliencyView.load(view.save(tmp_path))
    assert loaded.models == ["toy"] and loaded.maps.shape == (1, 4, 24, 24) and loaded.video == "clip/0"
    assert loaded.confidence.tolist() == [0.75] and loaded.score == "logit"
    for png in (saliency_overlay_figure(loaded), saliency_curve_figure(loaded)):
        assert png.startswith(b"\x89PNG")


def test_concentration_measures():
    maps = np.zeros((2, 10, 10))
    maps[0, :2, :5] = 1.0  # 10 of 200 pixels (5%) hold all of it
    assert total_saliency(maps) == 10.0 and top_share(maps) == 1.0
    assert top_share(np.ones((2, 10, 10))) == pytest.approx(0.05)
    assert np.isnan(top_share(np.zeros((2, 10, 10))))


def test_cli_draws_shipped_and_defended_models_side_by_side(tmp_path, cli_run):
    code, out, err = cli_run(["saliency", "--model", "inception-v3", "--model", "shipped:inception-v3-pgd",
                              "--index", "0", "--columns", "3", "--out", tmp_path, "--device", "cpu"])
    assert code == 0, err
    (npz,) = tmp_path.glob("*.npz")
    view = SaliencyView.load(npz)
    assert view.models == ["inception-v3", "inception-v3-pgd"] and view.maps.shape[:2] == (2, 40)
    assert (view.maps >= 0).all() and not torch.allclose(torch.from_numpy(view.maps[0]), torch.from_numpy(view.maps[1]))
    assert view.score == "logit" and ((0 <= view.confidence) & (view.confidence <= 1)).all()
    code, out, err = cli_run(["saliency", "--model", "shipped:no-such-model", "--out", tmp_path])
    assert code != 0 and "no shipped checkpoint" in err + out


def test_cli_draws_a_torchvision_model_beside_one_of_ours(tmp_path, cli_run, torchvision_file, real_clip):
    """`saliency` takes foreign specs too: a torchvision model with its published-format weights, class names shown."""
    clip = real_clip("abseiling_k400.mp4")
    _, weights = torchvision_file("r3d_18")
    args = ["saliency", "--model", "torchvision:r3d_18", "--video", clip, "--length", "8", "--size", "64",
            "--columns", "4", "--out", tmp_path, "--device", "cpu"]
    code, _, err = cli_run(args)
    assert code == 3 and "give one --weights per torchvision: --model, in order: 1 model(s), 0 --weights" in err
    code, out, err = cli_run([*args, "--weights", weights])
    assert code == 0, err
    view = SaliencyView.load(next(tmp_path.glob("saliency-*.npz")))
    assert view.models == ["torchvision:r3d_18"] and view.maps.shape == (1, 8, 64, 64)
    from torchvision.models import get_model_weights

    assert view.label in get_model_weights("r3d_18").DEFAULT.meta["categories"]  # a Kinetics class, by name
