"""The same attack on CUDA: skipped without a GPU (CI has none; run on a GPU machine)."""

import pytest
import torch

from deepsava.attacks import DeepSAVA
from deepsava.models import create_model
from deepsava.perturb import ssim, warp

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_ssim_and_warp_agree_between_cpu_and_cuda():
    x = torch.rand(4, 3, 32, 32)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    flow = torch.randn(4, 2, 32, 32)
    assert torch.allclose(ssim(y, x), ssim(y.cuda(), x.cuda()).cpu(), atol=1e-5)
    assert torch.allclose(warp(x, flow), warp(x.cuda(), flow.cuda()).cpu(), atol=1e-5)


@pytest.mark.parametrize("selector", ["first", "bo", "brute"])
def test_attack_on_cuda_keeps_the_invariants(selector):
    torch.manual_seed(0)
    model = create_model("i3d", 12, "tiny").cuda().eval()
    videos = torch.rand(4, 16, 3, 64, 64, device="cuda")
    with torch.no_grad():
        labels = model(videos).argmax(dim=1)
    result = DeepSAVA(model, frames=1, selector=selector, steps=20)(videos, labels)
    adv = result.adversarial
    assert adv.min() >= 0 and adv.max() <= 1
    changed = (adv != videos.cpu()).flatten(2).any(dim=2)
    assert not (changed & ~torch.zeros_like(changed).scatter(1, result.frames, True)).any()


def test_a_torchvision_model_runs_on_cuda_as_on_the_cpu():
    """The wrapper's preprocessing and the network move to the GPU with the model: the same logits, and an attack."""
    torch.manual_seed(0)
    model = create_model("torchvision:r3d_18", 5).eval()
    videos = torch.rand(2, 8, 3, 72, 96)
    with torch.no_grad():
        expected = model(videos)
        model = model.cuda()
        logits = model(videos.cuda())
    assert torch.allclose(logits.cpu(), expected, rtol=1e-3, atol=1e-3)
    result = DeepSAVA(model, frames=1, selector="first", steps=3)(videos.cuda(), logits.argmax(dim=1))
    assert result.adversarial.shape == videos.shape and result.clean_correct.all()
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again after the attack
