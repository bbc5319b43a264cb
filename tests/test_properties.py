"""Property-based tests over the public API: random shapes, frame counts, masks, budgets and values.

Every call either returns a valid result (values in range, frames outside the mask bit-identical,
budgets kept) or raises one of deepsava's errors, never anything else.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deepsava.attacks import PGD, DeepSAVA, Flicker, Sparse
from deepsava.attacks.deepsava import project_to_budget
from deepsava.errors import DeepSAVAError, InvalidVideoError
from deepsava.io import sample_indices
from deepsava.models import create_model
from deepsava.perturb import apply_perturbation, frame_ssim, l21, ssim, warp
from deepsava.video import check_videos

FAST = settings(max_examples=40, deadline=None, derandomize=True)
SLOW = settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def tensor(shape, seed: int, low=0.0, high=1.0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * (high - low) + low


def distinct_frames(b: int, t: int, k: int, seed: int) -> torch.Tensor:
    """A random mask as frame indices (B, k), distinct within each row."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(t, generator=g)[:k] for _ in range(b)])


shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([1, 3]), st.integers(1, 20), st.integers(1, 20))


@FAST
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=6), seed=st.integers(0, 9),
       low=st.floats(-2, 1), high=st.floats(0, 3), dtype=st.sampled_from([torch.float32, torch.float64, torch.int64]),
       poison=st.sampled_from([None, math.nan, math.inf]))
def test_check_videos_accepts_exactly_the_convention(shape, seed, low, high, dtype, poison):
    videos = tensor(shape, seed, low, max(low, high)).to(dtype)
    if poison is not None and videos.numel() and dtype != torch.int64:
        videos.view(-1)[0] = poison
    try:
        assert check_videos(videos) is videos
    except InvalidVideoError:
        return
    assert videos.dim() == 5 and videos.shape[2] in (1, 3) and videos.numel() > 0 and videos.is_floating_point()
    assert torch.isfinite(videos).all() and 0 <= videos.min() and videos.max() <= 1


@FAST
@given(shape=shapes, seed=st.integers(0, 99), noise=st.floats(0, 1))
def test_ssim_lies_in_minus_one_one_and_is_one_on_identical_frames(shape, seed, noise):
    b, t, c, h, w = shape
    x = tensor((b * t, c, h, w), seed)
    y = (x + noise * (tensor(x.shape, seed + 1) - 0.5)).clamp(0, 1)
    try:
        score = ssim(y, x)
    except DeepSAVAError:
        assert min(h, w) < 11
        return
    assert score.shape == (b * t,) and torch.isfinite(score).all()
    assert (score >= -1).all() and (score <= 1 + 1e-6).all()
    assert torch.allclose(ssim(x, x), torch.ones(b * t), atol=1e-6)


@FAST
@given(shape=shapes, seed=st.integers(0, 99), scale=st.floats(0, 50))
def test_warp_samples_within_the_frame_values(shape, seed, scale):
    b, t, c, h, w = shape
    frames = tensor((b, c, h, w), seed)
    flow = (tensor((b, 2, h, w), seed + 1) - 0.5) * scale
    out = warp(frames, flow)
    assert out.shape == frames.shape and torch.isfinite(out).all()
    lo, hi = frames.amin(dim=(1, 2, 3)), frames.amax(dim=(1, 2, 3))
    assert (out.amin(dim=(1, 2, 3)) >= lo - 1e-6).all() and (out.amax(dim=(1, 2, 3)) <= hi + 1e-6).all()
    with pytest.raises(DeepSAVAError):
        warp(frames, flow[..., :-1] if w > 1 else flow[:, :1])


@FAST
@given(shape=shapes, seed=st.integers(0, 99), k=st.integers(1, 6), scale=st.floats(0, 3), mode=st.sampled_from(["additive", "spatial", "combined"]))
def test_perturbation_stays_in_range_and_touches_only_the_mask(shape, seed, k, scale, mode):
    b, t, c, h, w = shape
    k = min(k, t)
    videos = tensor(shape, seed)
    frames = distinct_frames(b, t, k, seed)
    noise = (tensor((b, k, c, h, w), seed + 1) - 0.5) * scale if mode != "spatial" else None
    flow = (tensor((b, k, 2, h, w), seed + 2) - 0.5) * 4 * scale if mode != "additive" else None
    adv = apply_perturbation(videos, frames, noise, flow)
    assert adv.shape == videos.shape and 0 <= adv.min() and adv.max() <= 1
    outside = torch.ones(b, t, dtype=torch.bool).scatter(1, frames, False)
    assert torch.equal(adv[outside], videos[outside])


@FAST
@given(shape=shapes, seed=st.integers(0, 99), factor=st.floats(-10, 10))
def test_l21_is_a_norm(shape, seed, factor):
    d = tensor(shape, seed, -1, 1)
    e = tensor(shape, seed + 1, -1, 1)
    assert torch.equal(l21(torch.zeros(shape)), torch.zeros(shape[0]))
    assert (l21(d) >= 0).all()
    assert torch.allclose(l21(factor * d), abs(factor) * l21(d), rtol=1e-4, atol=1e-6)
    assert (l21(d + e) <= l21(d) + l21(e) + 1e-5).all()


@FAST
@given(shape=shapes, seed=st.integers(0, 99), scale=st.floats(0, 1),
       ssim_budget=st.one_of(st.none(), st.floats(0.05, 1)), l21_budget=st.one_of(st.none(), st.floats(1e-4, 2)))
def test_projection_keeps_every_budget(shape, seed, scale, ssim_budget, l21_budget):
    b, t, c, h, w = shape
    h, w = max(h, 11), max(w, 11)  # SSIM needs 11x11 frames
    clean = tensor((b, t, c, h, w), seed)
    perturbed = (clean + scale * (tensor(clean.shape, seed + 1) - 0.5)).clamp(0, 1)
    out = project_to_budget(perturbed, clean, ssim_budget, l21_budget)
    assert 0 <= out.min() and out.max() <= 1
    if ssim_budget is not None:
        assert (frame_ssim(out, clean) >= ssim_budget - 1e-6).all()
    if l21_budget is not None:
        assert (l21(out - clean) <= l21_budget + 1e-6).all()


@FAST
@given(count=st.integers(-2, 300), frames=st.integers(1, 60), sampling=st.sampled_from(["stride", "uniform", "random"]),
       short=st.sampled_from(["loop", "pad", "refuse"]), seed=st.integers(0, 5))
def test_sampled_indices_are_valid_frames(count, frames, sampling, short, seed):
    try:
        indices = sample_indices(count, frames, sampling, short, seed)
    except DeepSAVAError:
        assert count < 1 or (count < frames and short == "refuse")
        return
    assert len(indices) == frames and 0 <= indices.min() and indices.max() < count
    if count >= frames:
        assert (indices[1:] > indices[:-1]).all()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("cnn-lstm", 4, "tiny").eval()


ATTACKS = {
    "deepsava": lambda m, k, sb, lb: DeepSAVA(m, frames=k, selector="random", steps=3, lr=0.2, ssim_budget=sb,
                                              l21_budget=lb),
    "deepsava-bo": lambda m, k, sb, lb: DeepSAVA(m, frames=k, selector="bo", steps=2, lr=0.2, ssim_budget=sb,
                                                 l21_budget=lb, selector_options={"evaluations": 2, "initial": 1,
                                                                                  "probe_steps": 1}),
    "sparse": lambda m, k, sb, lb: Sparse(m, frames=k, selector="saliency", steps=3, lr=0.2, ssim_budget=sb,
                                          l21_budget=lb),
    "flicker": lambda m, k, sb, lb: Flicker(m, frames=k, steps=3),
    "pgd": lambda m, k, sb, lb: PGD(m, frames=k, eps=0.05, steps=2),
}


@st.composite
def attack_cases(draw):
    """(shape, k): mostly valid (k <= T, frames of 11x11 or more), sometimes not."""
    b, t, c = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
    h, w = draw(st.integers(10, 20)), draw(st.integers(10, 20))
    k = draw(st.one_of(st.integers(1, t), st.integers(1, t), st.integers(0, 8)))
    dtype = draw(st.sampled_from([torch.float32] * 4 + [torch.float64]))
    return (b, t, c, h, w), k, dtype


@pytest.mark.parametrize("method", sorted(ATTACKS))
@SLOW
@given(case=attack_cases(), seed=st.integers(0, 99),
       ssim_budget=st.one_of(st.none(), st.floats(0.5, 1)), l21_budget=st.one_of(st.none(), st.floats(1e-3, 0.5)),
       label_shift=st.sampled_from([0, 0, 0, 9]))
def test_attacks_return_valid_results_or_our_errors(model, case, seed, method, ssim_budget, l21_budget, label_shift):
    (b, t, c, h, w), k, dtype = shape, k, dtype = case
    videos = tensor(shape, seed).to(dtype)
    with torch.no_grad():
        labels = model(videos).argmax(dim=1) + label_shift  # a shift of 9 makes labels out of range
    try:
        result = ATTACKS[method](model, k, ssim_budget, l21_budget)(videos, labels)
    except DeepSAVAError as err:
        event(f"{method}: {type(err).__name__}")
        return
    event(f"{method}: result")
    assert min(h, w) >= 11 and 1 <= k <= t and label_shift == 0 and dtype == torch.float32
    adv = result.adversarial
    assert adv.shape == videos.shape and torch.isfinite(adv).all() and 0 <= adv.min() and adv.max() <= 1
    assert result.frames.shape[0] == b and ((0 <= result.frames) & (result.frames < t)).all()
    assert all(len(set(row)) == len(row) for row in result.frames.tolist())
    outside = torch.ones(b, t, dtype=torch.bool).scatter(1, result.frames, False)
    assert torch.equal(adv[outside], videos[outside])
    assert torch.equal(adv[~result.clean_correct], videos[~result.clean_correct])  # not attacked: untouched
    if ssim_budget is not None and method in ("deepsava", "deepsava-bo", "sparse"):
        assert (frame_ssim(adv, videos).gather(1, result.frames) >= ssim_budget - 1e-6).all()
    if l21_budget is not None and method in ("deepsava", "deepsava-bo", "sparse"):
        assert (l21(adv - videos) <= l21_budget + 1e-6).all()
    assert not (result.success & ~result.clean_correct).any()
