"""The learnt (Gumbel soft top-k) and middle-frame selectors on toy models."""

import pytest
import torch

from deepsava.attacks import DeepSAVA, Sparse
from deepsava.errors import InvalidArgumentError
from deepsava.select import make_selector
from deepsava.select.gumbel import soft_top_k
from toymodels import OneFrame, videos_and_labels

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sees_frame_5():
    model = OneFrame(frame=5).eval().requires_grad_(False)
    videos, labels = videos_and_labels(model, batch=4, frames=8)
    return model, videos, labels


def test_soft_top_k_is_a_relaxed_k_hot_mask():
    scores = torch.randn(3, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64, requires_grad=True)
    for tau in (2.0, 0.5, 0.01):
        mask = soft_top_k(scores, 3, tau)
        assert ((mask >= 0) & (mask <= 1)).all()
        assert torch.allclose(mask.sum(dim=1), torch.full((3,), 3.0, dtype=torch.float64), atol=1e-6)
    hard = torch.zeros(3, 10, dtype=torch.float64).scatter(1, scores.topk(3, dim=1).indices, 1.0)
    assert torch.equal(soft_top_k(scores, 3, 0.01) > 0.5, hard.bool())  # low temperature: the top-k indicator ...
    spaced = torch.arange(10.0).flip(0).view(1, 10) * 0.1  # ... and close to it where scores are 20 tau apart
    assert torch.allclose(soft_top_k(spaced, 3, 0.005), (torch.arange(10) < 3).float().view(1, 10), atol=1e-4)
    # The gradient keeps the sum at k: d(sum m)/d scores = 0, while single entries do move.
    mask = soft_top_k(scores, 3, 1.0)
    (grad,) = torch.autograd.grad(mask.sum(), scores, retain_graph=True)
    assert grad.abs().max() < 1e-8
    (grad,) = torch.autograd.grad(mask[:, 0].sum(), scores)
    assert grad[:, 0].min() > 0


def test_gumbel_finds_the_only_frame_the_model_sees(sees_frame_5):
    model, videos, labels = sees_frame_5
    selector = make_selector("gumbel")
    frames = selector.select(DeepSAVA(model, frames=1), videos, labels, 1, torch.Generator().manual_seed(0))
    assert (frames == 5).all()
    assert selector.chosen_loss.shape == (4,) and torch.isfinite(selector.chosen_loss).all()


def test_gumbel_returns_k_distinct_sorted_frames_and_is_seeded(sees_frame_5):
    model, videos, labels = sees_frame_5
    attack = DeepSAVA(model, frames=3, mode="additive")
    runs = []
    for seed in (0, 0, 1):
        selector = make_selector("gumbel", steps=4, probe_steps=1)
        frames = selector.select(attack, videos, labels, 3, torch.Generator().manual_seed(seed))
        assert frames.shape == (4, 3) and frames.dtype == torch.long
        assert (frames.diff(dim=1) > 0).all() and frames.min() >= 0 and frames.max() < 8
        runs.append((frames, selector.chosen_loss))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])  # the Gumbel draws depend on the seed


def test_gumbel_refuses_an_attack_without_a_per_frame_perturbation(sees_frame_5):
    model, videos, labels = sees_frame_5
    with pytest.raises(InvalidArgumentError, match="selector gumbel needs an attack with"):
        make_selector("gumbel").select(Sparse(model), videos, labels, 1, torch.Generator().manual_seed(0))
    with pytest.raises(InvalidArgumentError, match="tau0 must be a positive number"):
        make_selector("gumbel", tau0=0.0)


@pytest.mark.parametrize(("frames", "k", "expected"), [(8, 1, [3]), (8, 2, [3, 4]), (9, 3, [3, 4, 5]), (4, 4, [0, 1, 2, 3])])
def test_middle_frames_are_centred(frames, k, expected):
    videos = torch.zeros(2, frames, 3, 12, 12)
    chosen = make_selector("middle").select(None, videos, torch.zeros(2, dtype=torch.long), k, torch.Generator())
    assert chosen.tolist() == [expected, expected]


def test_middle_selector_drives_the_attack(sees_frame_5):
    model, videos, labels = sees_frame_5
    result = DeepSAVA(model, frames=2, selector="middle", steps=3)(videos, labels)
    changed = (result.adversarial != videos).flatten(2).any(dim=2)
    assert result.frames.tolist() == [[3, 4]] * 4
    assert not changed[:, [0, 1, 2, 5, 6, 7]].any() and changed[:, 3:5].any()
