"""The score-based black-box DeepSAVA: the white-box FR within a query budget, never a query over it, never a backward."""

import hashlib

import pytest
import torch
from toymodels import FrameMeans, OneFrame, videos_and_labels

from deepsava.attacks import BlackBoxDeepSAVA, DeepSAVA
from deepsava.errors import InvalidArgumentError


class Witness(torch.nn.Module):
    """Wraps a model: counts each clean video's forwards (a row belongs to the video whose frames it keeps but one),
    remembers every input it saw, and fails on a forward that could be differentiated or on any backward."""

    def __init__(self, model: torch.nn.Module, videos: torch.Tensor):
        super().__init__()
        self.model = model
        self.num_classes = model.num_classes
        self.videos = videos
        self.counts = torch.zeros(len(videos), dtype=torch.long)
        self.seen: dict[bytes, int] = {}
        self.backwards = 0
        model.register_full_backward_hook(self._backward)

    def _backward(self, *args):
        self.backwards += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert not torch.is_grad_enabled() and not x.requires_grad, "a forward the attack could differentiate"
        kept = (x.unsqueeze(1) == self.videos.unsqueeze(0)).flatten(3).all(dim=3).sum(dim=2)  # (n, B) frames kept
        owners = (kept >= self.videos.shape[1] - 1).int().argmax(dim=1)
        assert (kept >= self.videos.shape[1] - 1).sum(dim=1).eq(1).all(), "a row that is no video's"
        self.counts += torch.bincount(owners, minlength=len(self.videos))
        for row in x:
            key = hashlib.sha256(row.numpy().tobytes()).digest()
            self.seen[key] = self.seen.get(key, 0) + 1
        return self.model(x)


def fingerprint(video: torch.Tensor) -> bytes:
    return hashlib.sha256(video.contiguous().numpy().tobytes()).digest()


@pytest.fixture(scope="module")
def linear():
    """A model linear in the frames' channel means (its gradient is known) and 8 clips it classifies."""
    model = FrameMeans(frames=6, seed=1).eval()
    return model, *videos_and_labels(model, batch=8, frames=6, seed=1)


def test_black_box_reaches_the_white_box_fooling_rate_within_1500_queries(linear):
    model, videos, labels = linear
    white = DeepSAVA(model, frames=1, selector="brute")(videos, labels)
    assert white.fooling_rate == 1.0  # within at most 13 Adam steps on the exact gradient
    black = BlackBoxDeepSAVA(model, frames=1, selector="brute", queries=1500)(videos, labels)
    assert black.fooling_rate == white.fooling_rate
    assert (black.queries <= 1500).all()
    # The returned videos keep the perturbation DeepSAVA's way: one frame, in [0, 1].
    changed = (black.adversarial != videos).flatten(2).any(dim=2)
    assert torch.equal(changed, torch.zeros_like(changed).scatter(1, black.frames, True))


def test_no_video_queries_beyond_its_budget_and_the_model_gets_no_backward(linear):
    model, videos, labels = linear
    labels = labels.clone()
    labels[7] = (labels[7] + 1) % model.num_classes  # misclassified before the attack: not attacked
    witness = Witness(model, videos)
    budget = 300  # brute force probes 6 frames x 10 queries (5 pairs): 60 of its share of 75
    result = BlackBoxDeepSAVA(witness, frames=1, selector="brute", queries=budget)(videos, labels)
    assert witness.backwards == 0
    # Every forward counted: the records' queries are the witness's counts, less the base class's final check
    # of the returned video, which repeats an input already queried.
    assert torch.equal(witness.counts, result.queries + 1)
    assert all(witness.seen[fingerprint(v)] >= 2 for v in result.adversarial)
    assert result.queries[7] == 1 and not result.clean_correct[7]
    attacked = result.queries[:7]
    assert (attacked <= budget).all()
    failed = ~result.success[:7]
    assert failed.any() and result.success[:7].any()  # both kinds present at this budget
    # A video that is not fooled stops only when it cannot pay for another step (2 x 10 samples + its last query).
    assert (attacked[failed] > budget - 21).all()
    assert [r["queries"] for r in result.to_records()] == result.queries.tolist()


def test_query_only_probes_find_the_only_frame_the_model_sees():
    model = OneFrame(frame=5).eval()
    videos, labels = videos_and_labels(model, batch=4, frames=8)
    attack = BlackBoxDeepSAVA(model, frames=1, selector="brute", queries=400, steps=1)
    result = attack(videos, labels)
    assert (result.frames == 5).all()
    assert (result.queries == 1 + 8 * 10 + 2 * 10 + 1).all()  # clean, probes of the 8 frames, one step, its end


def test_a_selection_beyond_its_share_and_a_gradient_selector_are_refused(linear):
    model, videos, labels = linear
    with pytest.raises(InvalidArgumentError, match="share of the query budget"):
        BlackBoxDeepSAVA(model, frames=1, selector="brute", queries=200)(videos, labels)  # 60 > 50
    with pytest.raises(InvalidArgumentError, match="gradient"):
        BlackBoxDeepSAVA(model, selector="saliency")
    with pytest.raises(InvalidArgumentError, match="queries"):
        BlackBoxDeepSAVA(model, queries=1)
