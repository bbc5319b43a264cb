"""Property-based tests over the public API: random shapes, frame counts, masks, budgets and values.

The strategies draw invalid inputs too: masks out of range, with duplicates or as floats; budgets
of 0, below 0, above 1, NaN and Inf; learning rates, steps and radii likewise; videos poisoned with
NaN or values outside [0, 1]. Every call either returns a valid result (values in range, frames
outside the mask bit-identical, budgets kept), and then its inputs were valid, or raises one of
deepsava's errors, never anything else.
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
from deepsava.perturb import apply_perturbation, frame_ssim, frames_to_mask, l21, ssim, warp
from deepsava.video import check_videos

FAST = settings(max_examples=40, deadline=None, derandomize=True)
SLOW = settings(max_examples=16, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
ODD = [0.0, -0.5, 1.5, math.nan, math.inf, -math.inf]  # numbers that are out of range for most settings


def tensor(shape, seed: int, low=0.0, high=1.0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * (high - low) + low


def distinct_frames(b: int, t: int, k: int, seed: int) -> torch.Tensor:
    """A random mask as frame indices (B, k), distinct within each row."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(t, generator=g)[:k] for _ in range(b)])


shapes = st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([1, 3]), st.integers(1, 20), st.integers(1, 20))
POISONS = [None, None, None, math.nan, math.inf, -0.25, 1.25]  # None: a valid video


def poisoned(videos: torch.Tensor, poison) -> torch.Tensor:
    """``videos`` with one value replaced by ``poison`` (None: unchanged)."""
    if poison is not None:
        videos = videos.clone()
        videos.view(-1)[videos.numel() // 2] = poison
    return videos


@st.composite
def masks(draw, b: int, t: int):
    """(frames (B, k), valid): distinct indices, or indices out of range, repeated, or of a float dtype."""
    k = draw(st.integers(1, t))
    frames = distinct_frames(b, t, k, draw(st.integers(0, 99)))
    kind = draw(st.sampled_from(["valid", "valid", "valid", "beyond", "negative", "repeated", "float"]))
    if kind == "beyond":
        frames[0, -1] = t + draw(st.integers(0, 3))
    elif kind == "negative":
        frames[-1, 0] = -1
    elif kind == "repeated" and k > 1:
        frames[0, 1] = frames[0, 0]
    elif kind == "float":
        frames = frames.float()
    return frames, kind == "valid" or (kind == "repeated" and k == 1)


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
@given(shape=shapes, seed=st.integers(0, 99), noise=st.floats(0, 1), poison=st.sampled_from(POISONS))
def test_ssim_lies_in_minus_one_one_and_is_one_on_identical_frames(shape, seed, noise, poison):
    b, t, c, h, w = shape
    x = tensor((b * t, c, h, w), seed)
    y = poisoned((x + noise * (tensor(x.shape, seed + 1) - 0.5)).clamp(0, 1), poison)
    try:
        per_frame = frame_ssim(y.view(b, t, c, h, w), x.view(b, t, c, h, w))  # checks both videos
        score = ssim(y, x)
    except DeepSAVAError:
        assert min(h, w) < 11 or poison is not None
        return
    assert poison is None and torch.equal(per_frame.flatten(), score)
    assert score.shape == (b * t,) and torch.isfinite(score).all()
    assert (score >= -1).all() and (score <= 1 + 1e-6).all()
    assert torch.allclose(ssim(x, x), torch.ones(b * t), atol=1e-6)


@FAST
@given(shape=shapes, seed=st.integers(0, 99), scale=st.floats(0, 50), poison=st.sampled_from([None, None, math.nan,
                                                                                           math.inf]))
def test_warp_samples_within_the_frame_values(shape, seed, scale, poison):
    b, t, c, h, w = shape
    frames = tensor((b, c, h, w), seed)
    flow = poisoned((tensor((b, 2, h, w), seed + 1) - 0.5) * scale, poison)
    try:
        out = warp(frames, flow)
    except DeepSAVAError:
        assert poison is not None
        return
    assert poison is None
    assert out.shape == frames.shape and torch.isfinite(out).all()
    lo, hi = frames.amin(dim=(1, 2, 3)), frames.amax(dim=(1, 2, 3))
    assert (out.amin(dim=(1, 2, 3)) >= lo - 1e-6).all() and (out.amax(dim=(1, 2, 3)) <= hi + 1e-6).all()
    with pytest.raises(DeepSAVAError):
        warp(frames, flow[..., :-1] if w > 1 else flow[:, :1])


@FAST
@given(data=st.data(), shape=shapes, seed=st.integers(0, 99), scale=st.floats(0, 3),
       mode=st.sampled_from(["additive", "spatial", "combined"]), poison=st.sampled_from(POISONS),
       noise_poison=st.sampled_from(POISONS[:5]))
def test_perturbation_stays_in_range_and_touches_only_the_mask(data, shape, seed, scale, mode, poison, noise_poison):
    b, t, c, h, w = shape
    frames, valid_mask = data.draw(masks(b, t))
    k = frames.shape[1]
    videos = poisoned(tensor(shape, seed), poison)
    noise = poisoned((tensor((b, k, c, h, w), seed + 1) - 0.5) * scale, noise_poison) if mode != "spatial" else None
    flow = (tensor((b, k, 2, h, w), seed + 2) - 0.5) * 4 * scale if mode != "additive" else None
    try:
        adv = apply_perturbation(videos, frames, noise, flow)
        mask = frames_to_mask(frames, t)
    except DeepSAVAError as err:
        event(type(err).__name__)
        assert not (valid_mask and poison is None and (noise is None or noise_poison is None))
        return
    assert valid_mask and poison is None and (noise is None or noise_poison is None)
    assert adv.shape == videos.shape and 0 <= adv.min() and adv.max() <= 1
    assert mask.sum(dim=1).tolist() == [k] * b
    assert torch.equal(adv[~mask], videos[~mask])


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
@given(count=st.integers(-2, 300), frames=st.one_of(st.integers(-2, 60), st.sampled_from([1.5, None, True])),
       sampling=st.sampled_from(["stride", "uniform", "random"]), short=st.sampled_from(["loop", "pad", "refuse"]),
       seed=st.one_of(st.integers(0, 5), st.sampled_from([-1, None])))
def test_sampled_indices_are_valid_frames(count, frames, sampling, short, seed):
    try:
        indices = sample_indices(count, frames, sampling, short, seed)
    except DeepSAVAError:
        usable = isinstance(frames, int) and not isinstance(frames, bool) and frames >= 1
        assert not usable or count < 1 or (count < frames and short == "refuse") or seed == -1
        return
    assert isinstance(frames, int) and not isinstance(frames, bool) and frames >= 1
    assert len(indices) == frames and 0 <= indices.min() and indices.max() < count
    if count >= frames:
        assert (indices[1:] > indices[:-1]).all()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("cnn-lstm", 4, "tiny").eval()


ATTACKS = {  # (model, k, steps, rate: the learning rate or PGD's alpha, eps, ssim budget, l2,1 budget) -> attack
    "deepsava": lambda m, k, n, rate, eps, sb, lb: DeepSAVA(m, frames=k, selector="random", steps=n, lr=rate,
                                                            ssim_budget=sb, l21_budget=lb),
    "deepsava-bo": lambda m, k, n, rate, eps, sb, lb: DeepSAVA(
        m, frames=k, selector="bo", steps=n, lr=rate, ssim_budget=sb, l21_budget=lb,
        selector_options={"evaluations": 2, "initial": 1, "probe_steps": 1}),
    "sparse": lambda m, k, n, rate, eps, sb, lb: Sparse(m, frames=k, selector="saliency", steps=n, lr=rate,
                                                        ssim_budget=sb, l21_budget=lb),
    "flicker": lambda m, k, n, rate, eps, sb, lb: Flicker(m, frames=k, steps=n, lr=rate, ssim_budget=sb,
                                                          l21_budget=lb),
    "pgd": lambda m, k, n, rate, eps, sb, lb: PGD(m, frames=k, eps=eps, alpha=rate, steps=n),
}
BUDGETED = ("deepsava", "deepsava-bo", "sparse", "flicker")


def accepted(method: str, steps, rate, eps, ssim_budget, l21_budget) -> bool:
    """Whether the attack's settings are valid (what its constructor must accept, and only that)."""
    if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1):
        return False
    used = [rate] + ([eps] if method == "pgd" else []) + ([ssim_budget, l21_budget] if method in BUDGETED else [])
    if not all(v is None or math.isfinite(v) for v in used):
        return False
    if method in BUDGETED and not ((ssim_budget is None or 0 < ssim_budget <= 1) and (l21_budget is None or l21_budget > 0)):
        return False
    if method == "pgd" and not 0 < eps <= 1:
        return False
    return rate >= 0 if method.startswith("deepsava") else rate > 0


FAULTS = [None] * 6 + ["size", "k", "dtype", "labels", "poison", "steps", "rate", "eps", "ssim_budget", "l21_budget"]


@st.composite
def attack_cases(draw) -> dict:
    """An attack call with at most one fault: a too small frame, k out of range, another dtype, labels out of
    range, a poisoned video, or one setting drawn from odd values (which may or may not be valid for the method)."""
    fault = draw(st.sampled_from(FAULTS))

    def pick(name, valid, odd):
        return draw(odd if fault == name else valid)

    b, t, c = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
    shape = (b, t, c, pick("size", st.integers(11, 20), st.integers(5, 10)), draw(st.integers(11, 20)))
    return {
        "shape": shape, "seed": draw(st.integers(0, 99)),
        "k": pick("k", st.integers(1, t), st.sampled_from([0, t + 1, 8])),
        "dtype": pick("dtype", st.just(torch.float32), st.sampled_from([torch.float64, torch.float16])),
        "label_shift": pick("labels", st.just(0), st.just(9)),  # a shift of 9 makes labels out of range
        "poison": pick("poison", st.none(), st.sampled_from(POISONS[3:])),
        "steps": pick("steps", st.integers(1, 3), st.sampled_from([0, -1, 2.5, True])),
        "rate": pick("rate", st.floats(0.05, 0.3), st.sampled_from(ODD)),
        "eps": pick("eps", st.floats(0.01, 0.1), st.sampled_from(ODD)),
        "ssim_budget": pick("ssim_budget", st.one_of(st.none(), st.floats(0.5, 1)), st.sampled_from(ODD)),
        "l21_budget": pick("l21_budget", st.one_of(st.none(), st.floats(1e-3, 0.5)), st.sampled_from(ODD)),
    }


def mostly(valid):
    """A strategy drawing from ``valid`` three times in four, else one of the odd numbers."""
    return st.one_of(valid, valid, valid, st.sampled_from(ODD))


@pytest.mark.parametrize("method", sorted(ATTACKS))
@SLOW
@given(case=attack_cases())
def test_attacks_return_valid_results_or_our_errors(model, method, case):
    shape, k, ssim_budget, l21_budget = case["shape"], case["k"], case["ssim_budget"], case["l21_budget"]
    settings_ = (case["steps"], case["rate"], case["eps"], ssim_budget, l21_budget)
    b, t, c, h, w = shape
    videos = tensor(shape, case["seed"])
    with torch.no_grad():
        labels = model(videos).argmax(dim=1) + case["label_shift"]
    videos = poisoned(videos.to(case["dtype"]), case["poison"])
    try:
        result = ATTACKS[method](model, k, *settings_)(videos, labels)
    except DeepSAVAError as err:
        event(f"{method}: {type(err).__name__}")
        return
    event(f"{method}: result")
    assert min(h, w) >= 11 and 1 <= k <= t and case["label_shift"] == 0 and case["dtype"] == torch.float32
    assert case["poison"] is None and accepted(method, *settings_)
    adv = result.adversarial
    assert adv.shape == videos.shape and torch.isfinite(adv).all() and 0 <= adv.min() and adv.max() <= 1
    assert result.frames.shape[0] == b and ((0 <= result.frames) & (result.frames < t)).all()
    assert all(len(set(row)) == len(row) for row in result.frames.tolist())
    outside = torch.ones(b, t, dtype=torch.bool).scatter(1, result.frames, False)
    assert torch.equal(adv[outside], videos[outside])
    assert torch.equal(adv[~result.clean_correct], videos[~result.clean_correct])  # not attacked: untouched
    if ssim_budget is not None and method in BUDGETED:
        assert (frame_ssim(adv, videos).gather(1, result.frames) >= ssim_budget - 1e-6).all()
    if l21_budget is not None and method in BUDGETED:
        assert (l21(adv - videos) <= l21_budget + 1e-6).all()
    assert not (result.success & ~result.clean_correct).any()


@FAST
@given(method=st.sampled_from(sorted(ATTACKS)), steps=st.sampled_from([1, 3, 0, -1, 2.5, True]),
       rate=mostly(st.floats(0.05, 0.3)), eps=mostly(st.floats(0.01, 0.1)),
       ssim_budget=st.one_of(st.none(), mostly(st.floats(0.5, 1))),
       l21_budget=st.one_of(st.none(), mostly(st.floats(1e-3, 0.5))))
def test_attack_constructors_accept_exactly_the_valid_settings(model, method, steps, rate, eps, ssim_budget,
                                                               l21_budget):
    try:
        ATTACKS[method](model, 1, steps, rate, eps, ssim_budget, l21_budget)
    except DeepSAVAError:
        assert not accepted(method, steps, rate, eps, ssim_budget, l21_budget)
        return
    assert accepted(method, steps, rate, eps, ssim_budget, l21_budget)
