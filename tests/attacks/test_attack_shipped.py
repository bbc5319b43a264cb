"""DeepSAVA on the shipped tiny models: it does what it claims on a small real setting."""

import pytest
import torch

from deepsava.attacks import DeepSAVA
from deepsava.data import load_dataset
from deepsava.models import load_shipped
from deepsava.perturb import frames_to_mask

# (frames perturbed, selector, fooling-rate floor) of the combined attack at the paper's settings on
# 12 correctly classified test videos. CNN+LSTM, the most robust model (as in the paper), is
# attacked on its first 4 frames (the paper's "Mask4"): one frame fools it about 10% of the time,
# too few to test a floor on 12 videos. Measured values are in docs/RESULTS.md.
SETTINGS = {"i3d": (1, "bo", 0.3), "inception-v3": (1, "bo", 0.3), "cnn-lstm": (4, "first", 0.3)}


@pytest.fixture(scope="module")
def test_split():
    return load_dataset("synth-actions", split="test")


def correctly_classified(model, dataset, count: int):
    """The first ``count`` test videos the model classifies correctly: (B, T, C, H, W), (B,)."""
    videos, labels = [], []
    with torch.no_grad():
        for i in range(len(dataset)):
            clip, label = dataset[i]
            if model(clip[None]).argmax().item() == label:
                videos.append(clip)
                labels.append(label)
            if len(videos) == count:
                break
    return torch.stack(videos), torch.tensor(labels)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETTINGS))
def test_combined_attack_fools_each_shipped_model(name, test_split):
    frames, selector, floor = SETTINGS[name]
    model, _ = load_shipped(name)
    videos, labels = correctly_classified(model, test_split, 12)
    result = DeepSAVA(model, frames=frames, selector=selector)(videos, labels)
    assert result.clean_correct.all()
    assert result.fooling_rate >= floor, f"{name}: FR {result.fooling_rate:.2f}"
    # Exactly the selected frames changed; everything stays a valid video.
    changed = (result.adversarial != videos).flatten(2).any(dim=2)
    assert torch.equal(changed[result.success], frames_to_mask(result.frames, videos.shape[1])[result.success])
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    # ANI: every success took at least one step and at most the limit.
    assert ((result.iterations[result.success] >= 1) & (result.iterations[result.success] <= 100)).all()
