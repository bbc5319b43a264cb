"""Numerics: no NaN at zero perturbation or on constant frames (values and gradients), and bfloat16 autocast.

Stated tolerance of bfloat16 autocast (the model runs in bfloat16; SSIM, the perturbation, the
budgets and Adam stay float32): on the batch below, the fooling rate is within one video of
float32's, and for videos fooled under both, each video's perturbed-frame SSIM and l2,1 are
within 0.03 of float32's. The invariants (range, untouched frames, budgets) hold exactly.
"""

import pytest
import torch

from deepsava.attacks import DeepSAVA, Sparse
from deepsava.perturb import flow_smoothness, frame_rms, l21, ssim, warp
from toymodels import OneFrame, videos_and_labels

CONSTANTS = (0.0, 0.5, 1.0)


@pytest.mark.parametrize("value", CONSTANTS)
def test_ssim_of_constant_frames_is_finite_with_finite_gradients(value):
    frames = torch.full((2, 3, 16, 16), value)
    for reference in (frames.clone(), torch.full_like(frames, 1 - value), torch.rand(2, 3, 16, 16)):
        images = frames.clone().requires_grad_(True)
        score = ssim(images, reference)
        score.sum().backward()
        assert torch.isfinite(score).all() and torch.isfinite(images.grad).all()
        assert -1 <= score.min() and score.max() <= 1
    same = ssim(frames, frames)
    assert torch.equal(same, torch.ones(2))


def test_l21_and_frame_rms_have_zero_not_nan_gradients_at_zero():
    delta = torch.zeros(2, 4, 3, 8, 8)
    delta[0, 1] = 0.1  # one perturbed frame, the others exactly zero
    delta.requires_grad_(True)
    norm = l21(delta)
    norm.sum().backward()
    assert torch.isfinite(delta.grad).all()
    assert torch.equal(delta.grad[0, 0], torch.zeros(3, 8, 8)) and torch.equal(delta.grad[1], torch.zeros(4, 3, 8, 8))
    # d RMS / d x = x / (n RMS) on the perturbed frame: 0.1 / (192 * 0.1)
    assert torch.allclose(delta.grad[0, 1], torch.full((3, 8, 8), 1 / 192))
    assert norm.tolist() == pytest.approx([0.1, 0.0])
    zero = torch.zeros(1, 2, 3, 4, 4, requires_grad=True)
    frame_rms(zero, eps=0.0).sum().backward()
    assert torch.equal(zero.grad, torch.zeros_like(zero))


@pytest.mark.parametrize("value", CONSTANTS)
def test_flow_loss_and_warp_are_finite_at_zero_and_constant_flow(value):
    frames = torch.full((2, 3, 12, 12), value)
    for start in (torch.zeros(2, 2, 12, 12), torch.full((2, 2, 12, 12), 1.5)):
        flow = start.clone().requires_grad_(True)
        loss = flow_smoothness(flow).sum() + warp(frames, flow).sum() + ssim(warp(frames, flow), frames).sum()
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(flow.grad).all()


@pytest.mark.parametrize("value", CONSTANTS)
@pytest.mark.parametrize("attack", ["deepsava", "sparse"])
def test_attacks_on_constant_videos_stay_finite(value, attack):
    model = OneFrame(frame=0).eval()
    videos = torch.full((2, 4, 3, 16, 16), value)
    with torch.no_grad():
        labels = model(videos).argmax(dim=1)
    if attack == "deepsava":
        runner = DeepSAVA(model, frames=1, selector="first", steps=5, lr=0.05, ssim_budget=0.9)
    else:
        runner = Sparse(model, frames=1, steps=5, init=0.0)  # noise starts at exactly zero
    result = runner(videos, labels)  # the model validates every input: a NaN would raise InvalidVideoError
    for name in ("adversarial", "ssim", "video_ssim", "l21"):
        assert torch.isfinite(getattr(result, name)).all(), name
    assert result.ssim.min() >= 0.9 - 1e-6 or attack == "sparse"


def test_ssim_under_autocast_is_computed_in_float32():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32, generator=g)
    y = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    reference = ssim(y, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = ssim(y, x)
    assert under.dtype == torch.float32 and torch.equal(under, reference)


def attack_both(device: str, dtype: torch.dtype):
    """The same DeepSAVA run in float32 and under autocast to ``dtype`` -> (videos, float32 result, autocast result)."""
    model = OneFrame(frame=0, seed=3).eval().to(device)
    videos, labels = videos_and_labels(model.cpu(), batch=8, frames=4, size=24, seed=3)
    model.to(device)
    videos, labels = videos.to(device), labels.to(device)
    results = []
    for enabled in (False, True):
        attack = DeepSAVA(model, frames=1, selector="first", steps=40, lr=0.1, ssim_budget=0.8)
        with torch.autocast(device, dtype=dtype, enabled=enabled):
            results.append(attack(videos, labels))
    return videos.cpu(), *results


def check_within_tolerance(videos, full, low):
    assert abs(full.fooling_rate - low.fooling_rate) <= 1 / 8 + 1e-9
    assert full.fooling_rate > 0.5  # the comparison is about a working attack
    both = full.success & low.success
    assert (full.ssim[both] - low.ssim[both]).abs().max() <= 0.03
    assert (full.l21[both] - low.l21[both]).abs().max() <= 0.03
    adv = low.adversarial
    assert adv.dtype == torch.float32 and 0 <= adv.min() and adv.max() <= 1
    outside = torch.ones(adv.shape[:2], dtype=torch.bool).scatter(1, low.frames, False)
    assert torch.equal(adv[outside], videos[outside])
    assert low.ssim.min() >= 0.8 - 1e-6  # the budget, measured in float32


def test_attack_under_bfloat16_autocast_on_cpu_is_within_tolerance_of_float32():
    check_within_tolerance(*attack_both("cpu", torch.bfloat16))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_attack_under_autocast_on_cuda_is_within_tolerance_of_float32(dtype):
    check_within_tolerance(*attack_both("cuda", dtype))
