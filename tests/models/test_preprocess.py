"""The preprocessing inside foreign models: output sizes and crops against torchvision's own functions."""

import pytest
import torch
import torchvision.transforms.functional as TF

from deepsava.models.preprocess import Preprocess, centre_crop, resized_size


@pytest.mark.parametrize("height,width", [(270, 303), (303, 270), (100, 100), (7, 300)])
@pytest.mark.parametrize("size", [256, 112, (128, 171)])
def test_resized_sizes_are_torchvisions(height, width, size):
    frame = torch.zeros(1, 3, height, width)
    expected = TF.resize(frame, [size] if isinstance(size, int) else list(size), antialias=False).shape[-2:]
    assert resized_size(height, width, size) == tuple(expected)


@pytest.mark.parametrize("height,width", [(40, 47), (41, 48), (30, 31), (20, 47)])  # odd, even and negative margins
def test_rounded_crops_are_torchvisions_and_pad_smaller_frames(height, width):
    frames = torch.rand(2, 3, height, width) + 0.5  # no zeros, so padding shows
    assert torch.equal(centre_crop(frames, (32, 32), "round"), TF.center_crop(frames, [32, 32]))


def test_floor_crops_leave_the_spare_pixel_at_the_end():
    frames = torch.arange(9.0).view(1, 1, 1, 9).expand(1, 1, 3, 9)
    assert centre_crop(frames, (3, 4), "floor")[0, 0, 0].tolist() == [2, 3, 4, 5]
    assert centre_crop(frames, (3, 4), "round")[0, 0, 0].tolist() == [2, 3, 4, 5]  # 2.5 rounds half to even: 2
    assert centre_crop(frames[..., :8], (3, 5), "round")[0, 0, 0].tolist() == [2, 3, 4, 5, 6]  # 1.5 -> 2
    assert centre_crop(frames[..., :8], (3, 5), "floor")[0, 0, 0].tolist() == [1, 2, 3, 4, 5]


def test_values_are_scaled_shifted_normalised_and_reordered():
    videos = torch.rand(2, 3, 3, 4, 5)
    out = Preprocess(scale=2.0, shift=-1.0, mean=[0.1, 0.2, 0.3], std=[0.5, 0.25, 2.0], layout="BCTHW")(videos)
    mean, std = torch.tensor([0.1, 0.2, 0.3]).view(3, 1, 1, 1), torch.tensor([0.5, 0.25, 2.0]).view(3, 1, 1, 1)
    assert out.shape == (2, 3, 3, 4, 5)
    assert torch.allclose(out[1], ((videos[1] * 2 - 1).transpose(0, 1) - mean) / std)
