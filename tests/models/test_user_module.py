"""A user's own module through ``python:MODULE:FACTORY`` and ``path/to/file.py:FACTORY``, behind its input spec."""

import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from deepsava.errors import InvalidArgumentError, InvalidVideoError
from deepsava.models import create_model

NETWORKS = textwrap.dedent('''
    import torch
    from torch import nn

    class Clip3d(nn.Module):
        """(B, C, T, H, W) -> (B, 3): a 3D convolution, global pooling, a linear layer."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.conv(x).mean((2, 3, 4)))

    class Frames2d(nn.Module):
        """(B, T, C, H, W) -> (B, 3): per-frame convolution, averaged over frames."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3)

        def forward(self, x):
            return self.conv(x.flatten(0, 1)).mean((2, 3)).view(x.shape[0], x.shape[1], 3).mean(1)

    def clip3d():
        torch.manual_seed(0)
        return Clip3d()

    def frames2d():
        torch.manual_seed(0)
        return Frames2d()

    def per_frame_logits():
        return nn.Conv3d(3, 3, 1)   # (B, 3, T, H, W): not logits

    def not_a_module():
        return "a string"

    def broken():
        raise RuntimeError("the factory fails")

    NOT_CALLABLE = 3
''')


@pytest.fixture
def networks(tmp_path, monkeypatch):
    """The path of a Python file defining small networks and factories, also importable as ``user_networks``."""
    path = tmp_path / "user_networks.py"
    path.write_text(NETWORKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "user_networks", raising=False)  # imported afresh from this test's file
    return path


def test_a_file_factory_gets_frames_as_its_input_spec_says(networks):
    model = create_model(f"{networks}:clip3d", layout="BCTHW", size=(12, 16), frames=4, mean=[120.0] * 3,
                         std=[60.0, 50.0, 40.0], value_range=(0, 255))
    assert model.spec == f"{networks}:clip3d" and model.num_frames == 4 and model.classes is None
    assert model.input_options == {"layout": "BCTHW", "size": [12, 16], "frames": 4, "mean": [120.0] * 3,
                                   "std": [60.0, 50.0, 40.0], "value_range": [0, 255]}
    videos = torch.rand(2, 4, 3, 30, 41)
    resized = F.interpolate(videos.flatten(0, 1), size=(12, 16), mode="bilinear", antialias=True).view(2, 4, 3, 12, 16)
    expected = (resized * 255 - 120.0) / torch.tensor([60.0, 50.0, 40.0]).view(1, 1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(videos), model.net(expected.transpose(1, 2)), atol=1e-6)
    assert model.num_classes == 3  # from the first output
    with pytest.raises(InvalidVideoError, match="needs 4 frames, got 5"):
        model(torch.rand(2, 5, 3, 30, 41))


def test_a_module_factory_gets_deepsavas_videos_untouched_by_default(networks):
    model = create_model("python:user_networks:frames2d", 3)
    assert model.spec == "python:user_networks:frames2d" and model.input_options["layout"] == "BTCHW"
    videos = torch.rand(1, 5, 3, 9, 11)
    with torch.no_grad():
        assert torch.equal(model(videos), model.net(videos))


def test_weights_load_into_the_users_module(networks, tmp_path):
    trained = create_model(f"{networks}:clip3d", layout="BCTHW")
    with torch.no_grad():
        trained.net.fc.bias.add_(1.0)
    torch.save(trained.net.state_dict(), tmp_path / "clip3d.pth")  # the user's own state dict, without net.
    loaded = create_model(f"{networks}:clip3d", 3, weights=tmp_path / "clip3d.pth", layout="BCTHW")
    assert torch.equal(loaded.net.fc.bias, trained.net.fc.bias)


@pytest.mark.parametrize("factory,num_classes,message", [
    ("per_frame_logits", None, r"returned shape \(2, 3, 4, 8, 8\) for 2 videos: expected logits of shape \(2, K\)$"),
    ("clip3d", 5, r"returned shape \(2, 3\) for 2 videos: expected logits of shape \(2, 5\)$"),
])
def test_an_output_of_the_wrong_shape_is_refused(networks, factory, num_classes, message):
    model = create_model(f"python:user_networks:{factory}", num_classes, layout="BCTHW")
    with pytest.raises(InvalidArgumentError, match=f"^python:user_networks:{factory} {message}"):
        model(torch.rand(2, 4, 3, 8, 8))


@pytest.mark.parametrize("spec,message", [
    ("python:no_such_module_here:make", r"importing no_such_module_here failed: ModuleNotFoundError: No module named"),
    ("python:user_networks:missing", "user_networks has no missing"),
    ("python:user_networks:NOT_CALLABLE", "NOT_CALLABLE is a int, not a function or class"),
    ("python:user_networks:not_a_module", "returned a str, not a torch.nn.Module"),
    ("python:user_networks:broken", "calling the factory failed: RuntimeError: the factory fails"),
    ("python:user_networks", "write python:MODULE:FACTORY or path/to/file.py:FACTORY"),
    ("nowhere/net.py:make", "no such file"),
])
def test_a_factory_that_cannot_make_a_module_is_refused(networks, spec, message):
    with pytest.raises(InvalidArgumentError, match=message):
        create_model(spec)


def test_a_file_with_an_error_is_refused_naming_it(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def make(:\n")
    with pytest.raises(InvalidArgumentError, match=r"running bad.py failed: SyntaxError"):
        create_model(f"{path}:make")


@pytest.mark.parametrize("options,message", [
    ({"layout": "THWC"}, "layout must be one of BTCHW, BCTHW"),
    ({"size": 0}, "size must be a positive int"),
    ({"frames": 2.5}, "frames must be a positive int"),
    ({"mean": [0.5] * 3}, "mean and std go together"),
    ({"mean": [0.5] * 3, "std": [0, 1, 1]}, "std must be 1 or 3 positive numbers"),
    ({"value_range": (0, 2)}, r"value_range must be \(0, 1\) or \(0, 255\)"),
    ({"sise": 3}, "takes input options layout, size, frames, mean, std, value_range, not sise"),
])
def test_bad_input_options_are_refused(networks, options, message):
    with pytest.raises(InvalidArgumentError, match=message):
        create_model("python:user_networks:clip3d", **options)
