"""torchvision video models: published state dicts load strictly, and our logits are torchvision's transforms + model."""

import pytest
import torch
from torchvision.models import get_model_weights

from deepsava.errors import InvalidCheckpointError, InvalidVideoError
from deepsava.models import create_model
from deepsava.models.torchvision_video import ARCHITECTURES

# 270x303 frames: every preset shrinks them (so the antialias setting matters), and the margins left for the
# centre crop are odd and differ between rounding half to even (torchvision) and rounding down.
HEIGHT, WIDTH = 270, 303
HEAVY = {"mvit_v1_b", "mvit_v2_s", "swin3d_b"}  # 3 to 8 s each on 2 cores


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).norm() / reference.norm()).item()


def test_every_torchvision_video_model_is_covered():
    assert set(ARCHITECTURES) == {"r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v1_b", "mvit_v2_s", "swin3d_t",
                                  "swin3d_s", "swin3d_b"}


@pytest.mark.parametrize("arch", [pytest.param(a, marks=pytest.mark.slow) if a in HEAVY else a for a in ARCHITECTURES])
def test_logits_equal_torchvision_transforms_then_model(arch, torchvision_file):
    reference, path = torchvision_file(arch)
    model = create_model(f"torchvision:{arch}", weights=path).eval()
    weights = get_model_weights(arch).DEFAULT
    assert model.num_classes == 400 and model.classes == weights.meta["categories"]
    frames = model.num_frames or max(model.min_frames, 2)
    torch.manual_seed(1)
    videos = torch.rand(1, frames, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        expected = reference(weights.transforms()(videos))
        assert relative_error(model(videos), expected) <= 1e-5


def test_clip_lengths_follow_the_weights_and_the_architecture():
    mvit = create_model("torchvision:mvit_v2_s")
    assert (mvit.num_frames, mvit.min_frames) == (16, 16)
    with pytest.raises(InvalidVideoError, match="^torchvision:mvit_v2_s needs 16 frames, got 8$"):
        mvit(torch.rand(1, 8, 3, 32, 32))
    s3d = create_model("torchvision:s3d")
    assert (s3d.num_frames, s3d.min_frames) == (None, 14)
    with pytest.raises(InvalidVideoError, match="^torchvision:s3d needs at least 14 frames, got 8$"):
        s3d(torch.rand(1, 8, 3, 32, 32))
    r3d = create_model("torchvision:r3d_18", 10)
    assert (r3d.num_frames, r3d.min_frames, r3d.classes) == (None, 1, None)  # no names for 10 classes


def test_weights_of_another_architecture_are_refused_naming_them(torchvision_file):
    _, path = torchvision_file("mc3_18")
    with pytest.raises(InvalidCheckpointError, match=r"weights do not fit model torchvision:r3d_18: .*shape mismatches"
                       r".*they are the weights of torchvision:mc3_18 \(400 classes\)$"):
        create_model("torchvision:r3d_18", weights=path)


@pytest.mark.parametrize("arch", ["r2plus1d_18", "s3d"])  # heads fc. and classifier.1. (a Conv3d)
def test_another_class_count_is_refused_unless_fine_tuning(arch, torchvision_file):
    reference, path = torchvision_file(arch, num_classes=10)
    with pytest.raises(InvalidCheckpointError, match=f"the weights are a torchvision:{arch} for 10 classes, not 400"):
        create_model(f"torchvision:{arch}", weights=path)
    assert create_model(f"torchvision:{arch}", 10, weights=path).classes is None
    tuned = create_model(f"torchvision:{arch}", 101, weights=path, fine_tune=True)
    own, theirs = tuned.state_dict(), reference.state_dict()
    head = [k for k in own if k.startswith(tuned.head_prefix)]
    assert head and all(own[k].shape[0] == 101 for k in head)
    assert all(torch.equal(own[f"net.{k}"], v) for k, v in theirs.items() if f"net.{k}" not in head)


class Payload:
    """Unpickling this would create a marker file: what a malicious weights file does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_with_objects_is_refused_without_running(tmp_path):
    path, marker = tmp_path / "r3d_18-evil.pth", tmp_path / "ran"
    torch.save({"fc.bias": torch.zeros(400), "payload": Payload(marker)}, path)
    with pytest.raises(InvalidCheckpointError, match="refusing .*r3d_18-evil.pth: the safe unpickler rejected it"):
        create_model("torchvision:r3d_18", weights=path)
    assert not marker.exists()
