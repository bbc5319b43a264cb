import pytest
import torch
from skimage.metrics import structural_similarity

from deepsava.errors import InvalidArgumentError
from deepsava.perturb import apply_perturbation, flow_smoothness, frame_ssim, frames_to_mask, l21, ssim, video_ssim, warp


def sk_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    return structural_similarity(a.numpy(), b.numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1.0, channel_axis=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_scikit_image_on_random_frames(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 3, 37, 45, generator=g)
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = ssim(y, x)
    for i in range(3):
        assert abs(ours[i].item() - sk_ssim(x[i], y[i])) < 1e-4


def test_ssim_matches_scikit_image_on_natural_frames(natural_frames):
    x = natural_frames[:4]
    shifted = warp(x, torch.full((4, 2, *x.shape[-2:]), 0.7)) + 0.02 * torch.randn_like(x)
    y = shifted.clamp(0, 1)
    ours = ssim(y, x)
    for i in range(4):
        assert abs(ours[i].item() - sk_ssim(x[i], y[i])) < 1e-4


def test_ssim_of_identical_and_constant_frames_is_one_and_gradients_finite():
    x = torch.rand(2, 3, 16, 16)
    const = torch.full((2, 3, 16, 16), 0.5, requires_grad=True)
    assert torch.allclose(ssim(x, x), torch.ones(2))
    s = ssim(const, const.detach())
    s.sum().backward()
    assert torch.allclose(s, torch.ones(2)) and torch.isfinite(const.grad).all()


def test_video_ssim_averages_frames():
    x = torch.rand(2, 5, 3, 16, 16)
    y = x.clone()
    y[:, 2] = (y[:, 2] + 0.3).clamp(0, 1)
    per_frame = frame_ssim(y, x)
    assert torch.allclose(per_frame[:, [0, 1, 3, 4]], torch.ones(2, 4))
    assert torch.allclose(video_ssim(y, x), per_frame.mean(dim=1))


@pytest.mark.parametrize("dx,dy", [(2, 0), (0, -3), (1, 1), (-4, 2)])
def test_integer_flow_shifts_frame_exactly(dx, dy):
    img = torch.rand(2, 3, 20, 24)
    flow = torch.zeros(2, 2, 20, 24)
    flow[:, 0], flow[:, 1] = dx, dy
    out = warp(img, flow)
    h, w = 20, 24
    rows = slice(max(0, -dy), min(h, h - dy))
    cols = slice(max(0, -dx), min(w, w - dx))
    src_rows = slice(rows.start + dy, rows.stop + dy)
    src_cols = slice(cols.start + dx, cols.stop + dx)
    assert torch.equal(out[..., rows, cols], img[..., src_rows, src_cols])


def test_zero_flow_is_identity_and_half_pixel_flow_interpolates():
    img = torch.rand(1, 3, 8, 8)
    assert torch.equal(warp(img, torch.zeros(1, 2, 8, 8)), img)
    out = warp(img, torch.full((1, 2, 8, 8), 0.5))
    expected = (img[..., :-1, :-1] + img[..., :-1, 1:] + img[..., 1:, :-1] + img[..., 1:, 1:]) / 4
    assert torch.allclose(out[..., :-1, :-1], expected, atol=1e-6)


def test_flow_gradient_and_smoothness_are_finite_at_zero():
    flow = torch.zeros(2, 2, 10, 10, requires_grad=True)
    (warp(torch.rand(2, 3, 10, 10), flow).sum() + flow_smoothness(flow).sum()).backward()
    assert torch.isfinite(flow.grad).all() and flow.grad.abs().sum() > 0


def test_l21_matches_hand_computation():
    delta = torch.zeros(1, 3, 1, 2, 2)
    delta[0, 0] = 0.5  # RMS 0.5
    delta[0, 2, 0, 0, 0] = 0.4  # RMS sqrt(0.16 / 4) = 0.2
    assert l21(delta).item() == pytest.approx(0.7)


def test_combined_perturbation_touches_only_selected_frames_and_stays_in_range():
    videos = torch.rand(2, 6, 3, 12, 12)
    frames = torch.tensor([[1, 4], [0, 5]])
    noise = torch.randn(2, 2, 3, 12, 12)
    flow = torch.randn(2, 2, 2, 12, 12)
    adv = apply_perturbation(videos, frames, noise, flow)
    mask = frames_to_mask(frames, 6)
    assert torch.equal(adv[~mask], videos[~mask])
    assert not torch.equal(adv[mask], videos[mask])
    assert adv.min() >= 0 and adv.max() <= 1
    # Order: warp first, then noise, then clip.
    expected = (warp(videos[0, 1:2], flow[0, :1]) + noise[0, :1]).clamp(0, 1)
    assert torch.allclose(adv[0, 1:2], expected)


@pytest.fixture(scope="module")
def natural_frames():
    """Frames (T, 3, 64, 64) of a real UCF101 clip."""
    from pathlib import Path

    from deepsava.io import load_video

    path = (Path(__file__).parents[2] / "../shared/data/clips/v_Basketball_g01_c01.avi").resolve()
    if not path.is_file():
        pytest.skip("real clip not available")
    return load_video(path, frames=8, size=64)


def test_ssim_with_the_references_moments_computed_once_is_the_same_ssim():
    g = torch.Generator().manual_seed(0)
    references = torch.rand(3, 3, 20, 24, generator=g)
    images = (references + 0.1 * torch.randn(3, 3, 20, 24, generator=g)).clamp(0, 1).requires_grad_(True)
    from deepsava.perturb.ssim import reference_moments

    moments = reference_moments(references)
    assert moments.shape == (3, 6, 10, 14)
    direct = ssim(images, references)
    cached = ssim(images, references, moments=moments)
    assert torch.allclose(direct, cached, atol=1e-7)
    (direct_grad,) = torch.autograd.grad(direct.sum(), images)
    (cached_grad,) = torch.autograd.grad(cached.sum(), images)
    assert torch.allclose(direct_grad, cached_grad, atol=1e-7)
    with pytest.raises(InvalidArgumentError, match="moments must be"):
        ssim(images, references, moments=moments[:, :3])
