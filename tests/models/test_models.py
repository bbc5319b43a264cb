"""Models: the reference I3D naming, the (B, T, C, H, W) -> (B, K) contract, input validation, weight loading."""

import json
import math
from pathlib import Path

import pytest
import torch
from torchvision.models import inception_v3

from deepsava.errors import InvalidArgumentError, InvalidCheckpointError, InvalidVideoError
from deepsava.models import MODELS, create_model
from deepsava.models.i3d import same_padding

I3D_SPEC = (Path(__file__).parents[2] / "../shared/spec/i3d_rgb_state_dict.json").resolve()


def reference_i3d_state(seed: int = 0) -> dict:
    """Random tensors with the keys and shapes of the public I3D RGB checkpoints (400 classes)."""
    if not I3D_SPEC.is_file():
        pytest.skip(f"I3D reference spec {I3D_SPEC} is not available")
    gen = torch.Generator().manual_seed(seed)
    keys = json.loads(I3D_SPEC.read_text())["keys"]
    state = {}
    for key, shape in keys.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.05
    return state


def test_reference_i3d_checkpoint_loads_strictly():
    state = reference_i3d_state()
    model = create_model("i3d", 400, "paper")
    assert len(model.state_dict()) == len(state) == 344
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 8, 3, 64, 64))  # resized to 224 inside
    assert logits.shape == (1, 400) and torch.isfinite(logits).all()


def test_reference_i3d_file_with_other_class_count_replaces_only_the_head(tmp_path):
    state = reference_i3d_state()
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(state, path)
    model = create_model("i3d", 101, "paper", weights=path, fine_tune=True)
    own = model.state_dict()
    assert own["logits.conv3d.weight"].shape == (101, 1024, 1, 1, 1)
    assert torch.equal(own["Mixed_5c.b1b.conv3d.weight"], state["Mixed_5c.b1b.conv3d.weight"])
    assert torch.equal(own["Conv3d_1a_7x7.bn.running_var"], state["Conv3d_1a_7x7.bn.running_var"])
    same = create_model("i3d", 400, "paper", weights=path).state_dict()
    assert torch.equal(same["logits.conv3d.bias"], state["logits.conv3d.bias"])


@pytest.mark.parametrize("size,kernel,stride", [(224, 7, 2), (225, 7, 2), (40, 3, 1), (7, 2, 2), (5, 3, 2), (1, 3, 2)])
def test_same_padding_matches_tensorflow(size, kernel, stride):
    before, after = same_padding((size,), (kernel,), (stride,))
    out = math.ceil(size / stride)
    assert before + after == max((out - 1) * stride + kernel - size, 0)  # TensorFlow's total "same" padding
    assert after - before in (0, 1)  # the odd pixel goes at the end
    assert (size + before + after - kernel) // stride + 1 == out


@pytest.mark.parametrize("name", MODELS)
def test_tiny_model_maps_videos_to_logits_with_input_gradients(name):
    torch.manual_seed(0)
    model = create_model(name, 7)
    assert (model.name, model.preset, model.num_classes) == (name, "tiny", 7)
    videos = torch.rand(2, 12, 3, 64, 64, requires_grad=True)
    logits = model(videos)
    assert logits.shape == (2, 7)
    logits[:, 0].sum().backward()
    assert videos.grad is not None and videos.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert model(torch.rand(1, 5, 1, 48, 40)).shape == (1, 7)  # grey, odd sizes


def _checkerboard(size: int) -> torch.Tensor:
    """+-1 alternating pixel by pixel: what a 2x bilinear downscale (a 2x2 mean) removes entirely."""
    rows = torch.arange(size)
    return ((rows.view(-1, 1) + rows.view(1, -1)) % 2 * 2 - 1).float()


@pytest.mark.parametrize("name", MODELS)
def test_small_preset_sees_the_detail_that_tiny_averages_away(name):
    """tiny resizes 64x64 frames to 32x32 (a 2x2 mean), so a pixel-level checkerboard cannot change its logits;
    small reads the native pixels, so the same pattern does."""
    torch.manual_seed(0)
    videos = torch.rand(2, 8, 3, 64, 64) * 0.8 + 0.1
    detail = videos + 0.05 * _checkerboard(64)
    for preset, changes in (("tiny", False), ("small", True)):
        model = create_model(name, 5, preset).eval()
        assert model.preset == preset
        with torch.no_grad():
            moved = (model(detail) - model(videos)).abs().max().item()
        assert (moved > 1e-5) == changes, (preset, moved)  # tiny: float rounding (< 1e-7); small: 2e-4 to 1e-2


def test_small_i3d_has_the_layout_of_tiny_and_names_both_presets():
    """small adds only a weightless max-pool to tiny I3D: its shapes are tiny's, so a weights file is named as
    either; the frame models' small stem pool shifts their keys, so theirs are told apart."""
    from deepsava.models.i3d import temporal_paths
    from deepsava.models.registry import identify
    from deepsava.models.weights import shapes_of

    assert shapes_of(create_model("i3d", 12, "small").state_dict()) == shapes_of(create_model("i3d", 12).state_dict())
    small_i3d = shapes_of(create_model("i3d", 12, "small").state_dict())
    assert identify(small_i3d) == "i3d (tiny or small preset, 12 classes)"
    assert identify(shapes_of(create_model("cnn-gru", 6, "small").state_dict())) == "cnn-gru (small preset, 6 classes)"
    assert torch.equal(temporal_paths("small", 40), temporal_paths("tiny", 40))  # the pool is 1 frame along time


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception-v3", "cnn-lstm"])
def test_paper_frame_models_run(name):
    model = create_model(name, 5, "paper").eval()
    assert model.cnn.out_features == 2048
    with torch.no_grad():
        assert model(torch.rand(1, 2, 3, 64, 64)).shape == (1, 5)


@pytest.mark.slow
def test_torchvision_imagenet_inception_file_loads(tmp_path):
    reference = inception_v3(weights=None, aux_logits=True, init_weights=False)
    path = tmp_path / "inception_v3_google.pth"
    torch.save(reference.state_dict(), path)
    frame_wise = create_model("inception-v3", 10, "paper", weights=path, fine_tune=True)
    expected = reference.state_dict()["Mixed_7c.branch_pool.conv.weight"]
    assert torch.equal(frame_wise.state_dict()["cnn.body.Mixed_7c.branch_pool.conv.weight"], expected)
    lstm = create_model("cnn-lstm", 10, "paper", weights=path, fine_tune=True)
    assert torch.equal(lstm.state_dict()["cnn.body.Mixed_7c.branch_pool.conv.weight"], expected)


@pytest.mark.parametrize(
    "videos,message",
    [
        (torch.rand(40, 3, 64, 64), "dimensions"),
        (torch.full((1, 4, 3, 16, 16), float("nan")), "NaN"),
        (torch.rand(1, 4, 3, 16, 16) * 255, "[0, 1]"),
        (torch.rand(1, 4, 3, 16, 16) - 0.5, "[0, 1]"),
        (torch.rand(1, 4, 4, 16, 16), "channels"),
    ],
)
def test_bad_input_gives_clear_error(videos, message):
    model = create_model("cnn-lstm", 3)
    with pytest.raises(InvalidVideoError, match=message.replace("[", r"\[").replace("]", r"\]")):
        model(videos)


def test_unknown_model_preset_or_class_count_is_refused():
    with pytest.raises(InvalidArgumentError, match="i3d, inception-v3, cnn-lstm"):
        create_model("resnet", 10)
    with pytest.raises(InvalidArgumentError, match="preset"):
        create_model("i3d", 10, preset="huge")
    with pytest.raises(InvalidArgumentError, match="num_classes"):
        create_model("i3d", 1)


def test_weights_of_another_architecture_are_refused_with_a_summary(tmp_path):
    path = tmp_path / "i3d.pt"
    torch.save(create_model("i3d", 4).state_dict(), path)
    with pytest.raises(InvalidCheckpointError, match="cnn-lstm: .* missing keys: .*unexpected keys: .*Conv3d_1a"):
        create_model("cnn-lstm", 4, weights=path)
    model = create_model("cnn-gru", 4)
    state = model.state_dict()
    state["rnn.weight_ih_l0"] = state["rnn.weight_ih_l0"][:1]
    with pytest.raises(InvalidCheckpointError, match="1 shape mismatches .*rnn.weight_ih_l0"):
        model.load_pretrained(state)


def test_frame_cnn_weights_initialise_a_recurrent_model(tmp_path):
    frame_wise = create_model("inception-v3", 12)
    path = tmp_path / "frames.pt"
    torch.save(frame_wise.state_dict(), path)
    lstm = create_model("cnn-lstm", 5, weights=path, fine_tune=True)
    for key, value in frame_wise.cnn.state_dict().items():
        assert torch.equal(lstm.cnn.state_dict()[key], value)
