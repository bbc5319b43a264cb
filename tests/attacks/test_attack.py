import pytest
import torch

from deepsava.attacks import DeepSAVA
from deepsava.attacks.deepsava import project_to_budget
from deepsava.perturb import ssim
from deepsava.errors import InvalidArgumentError, InvalidVideoError
from deepsava.select import make_selector
from toymodels import FramePooling, OneFrame, videos_and_labels


@pytest.fixture(scope="module")
def one_frame():
    model = OneFrame(frame=5).eval()
    videos, labels = videos_and_labels(model, batch=4, frames=8)
    return model, videos, labels


def changed_frames(adv, videos):
    """(B, T) bool: frames whose pixels differ at all."""
    return (adv != videos).flatten(2).any(dim=2)


@pytest.mark.parametrize("mode", ["additive", "spatial", "combined"])
def test_untouched_frames_identical_and_range_kept(one_frame, mode):
    model, videos, labels = one_frame
    result = DeepSAVA(model, frames=2, selector="random", mode=mode, steps=20)(videos, labels)
    selected = torch.zeros_like(changed_frames(result.adversarial, videos)).scatter(1, result.frames, True)
    assert not (changed_frames(result.adversarial, videos) & ~selected).any()
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1


@pytest.mark.parametrize("selector", ["first", "random", "saliency", "brute", "bo", "anneal", "genetic"])
def test_perturbed_frames_are_the_selected_ones(one_frame, selector):
    model, videos, labels = one_frame
    attack = DeepSAVA(model, frames=1, selector=selector, steps=30, seed=3)
    result = attack(videos, labels)
    # The selector, called again with the attack's seed, chooses the same frames ...
    chosen = make_selector(selector).select(attack, videos, labels, 1, torch.Generator().manual_seed(3))
    assert torch.equal(result.frames, chosen)
    # ... and those are the frames that changed (every attacked video's frame changes).
    changed = changed_frames(result.adversarial, videos)
    assert torch.equal(changed, torch.zeros_like(changed).scatter(1, result.frames, True))


@pytest.mark.parametrize("selector", ["brute", "bo", "saliency"])
def test_search_selectors_find_the_only_frame_the_model_sees(one_frame, selector):
    model, videos, labels = one_frame
    result = DeepSAVA(model, frames=1, selector=selector)(videos, labels)
    assert (result.frames == 5).all()
    assert result.fooling_rate == 1.0
    # Attacking frame 0, which the model ignores, can never work.
    assert DeepSAVA(model, frames=1, selector="first", steps=10)(videos, labels).fooling_rate == 0.0


def test_ani_is_the_step_at_which_each_video_first_fools(one_frame):
    model, videos, labels = one_frame
    for i in range(2):
        video, label = videos[i : i + 1], labels[i : i + 1]
        result = DeepSAVA(model, frames=1, selector="brute")(video, label)
        assert result.success.all()
        n = int(result.iterations[0])
        assert n >= 1
        attack = DeepSAVA(model, frames=1, selector="first", steps=n)
        exact = attack.optimise(video, label, result.frames, n)
        short = attack.optimise(video, label, result.frames, n - 1)
        assert exact.fooled.item() and not short.fooled.item()


def test_batched_attack_equals_attacking_each_video_alone(one_frame):
    model, videos, labels = one_frame
    together = DeepSAVA(model, frames=1, selector="brute")(videos, labels)
    for i in range(2):
        alone = DeepSAVA(model, frames=1, selector="brute")(videos[i : i + 1], labels[i : i + 1])
        # Batched convolutions round differently in the last bits, which can move a
        # decision that sits on the boundary by one step; nothing more.
        assert abs(alone.iterations.item() - together.iterations[i].item()) <= 1
        assert torch.equal(alone.frames[0], together.frames[i])
        assert alone.success.item() == together.success[i].item()


def test_same_seed_gives_identical_results(one_frame):
    model, videos, labels = one_frame
    options = {"evaluations": 5, "initial": 3, "probe_steps": 3}
    a = DeepSAVA(model, frames=2, selector="bo", seed=7, steps=20, selector_options=options)(videos, labels)
    b = DeepSAVA(model, frames=2, selector="bo", seed=7, steps=20, selector_options=options)(videos, labels)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.adversarial, b.adversarial)


def test_misclassified_videos_are_not_attacked_nor_counted(one_frame):
    model, videos, labels = one_frame
    wrong = (labels + 1) % model.num_classes
    mixed = torch.cat([labels[:2], wrong[2:]])
    result = DeepSAVA(model, frames=1, selector="brute")(videos, mixed)
    assert result.clean_correct.tolist() == [True, True, False, False]
    assert not result.success[2:].any() and (result.iterations[2:] == 0).all()
    assert torch.equal(result.adversarial[2:], videos[2:])
    assert result.fooling_rate == 1.0


@pytest.mark.parametrize("budget", [0.98, 0.95])
def test_ssim_budget_always_respected(one_frame, budget):
    model, videos, labels = one_frame
    result = DeepSAVA(model, frames=2, selector="random", ssim_budget=budget, lam=0.0, steps=60)(videos, labels)
    assert (result.ssim.min() >= budget) and result.adversarial.max() <= 1


@pytest.mark.parametrize("budget", [0.99, 0.95, 0.9])
def test_projection_lands_on_the_ssim_budget_from_a_large_change(budget):
    clean = torch.rand(2, 3, 3, 24, 24)
    wild = (clean + 0.5 * torch.randn_like(clean)).clamp(0, 1)
    projected = project_to_budget(wild, clean, ssim_budget=budget, l21_budget=None)
    scores = ssim(projected.flatten(0, 1), clean.flatten(0, 1))
    assert (scores >= budget).all() and (scores < budget + 0.01).all()
    assert projected.min() >= 0 and projected.max() <= 1


@pytest.mark.parametrize("budget", [0.01, 0.05])
def test_l21_budget_always_respected(one_frame, budget):
    model, videos, labels = one_frame
    result = DeepSAVA(model, frames=2, selector="random", l21_budget=budget, lam=0.0, steps=60)(videos, labels)
    assert (result.l21 <= budget).all()


def test_targeted_attack_reaches_the_target(one_frame):
    model, videos, labels = one_frame
    with torch.no_grad():
        targets = model(videos).topk(2, dim=1).indices[:, 1]  # the runner-up class of each video
    result = DeepSAVA(model, frames=1, selector="brute", targeted=True, lam=0.0, steps=200)(videos, labels, targets)
    assert torch.equal(result.adv_pred[result.success], targets[result.success])
    assert result.success.float().mean() >= 0.5


def test_records_carry_every_field(one_frame):
    model, videos, labels = one_frame
    records = DeepSAVA(model, frames=1, selector="first", steps=5)(videos, labels).to_records([f"v{i}" for i in range(4)])
    assert [r["video_id"] for r in records] == ["v0", "v1", "v2", "v3"]
    assert {"success", "iterations", "frames", "ssim", "l21", "seconds", "clean_correct"} <= set(records[0])


def test_more_frames_on_a_temporal_average_model_fool_more():
    model = FramePooling().eval()
    videos, labels = videos_and_labels(model, batch=6, frames=8, seed=1)
    one = DeepSAVA(model, frames=1, selector="first", lam=0.1, steps=60)(videos, labels)
    four = DeepSAVA(model, frames=4, selector="first", lam=0.1, steps=60)(videos, labels)
    assert four.success.sum() >= one.success.sum()
    assert four.l21.mean() > one.l21.mean()


@pytest.mark.parametrize("kwargs,message", [
    ({"frames": 0}, "frames"), ({"frames": 9}, "exceeds"), ({"selector": "nope"}, "unknown selector"),
    ({"mode": "nope"}, "unknown mode"), ({"ssim_budget": 1.5}, "ssim_budget"), ({"ssim_budget": 0.0}, "ssim_budget"),
    ({"l21_budget": -1.0}, "l21_budget"),
])
def test_bad_arguments_give_clear_errors(one_frame, kwargs, message):
    model, videos, labels = one_frame
    with pytest.raises(InvalidArgumentError, match=message):
        DeepSAVA(model, **kwargs)(videos, labels)


def test_bad_inputs_give_clear_errors(one_frame):
    model, videos, labels = one_frame
    attack = DeepSAVA(model, frames=1, selector="first", steps=2)
    with pytest.raises(InvalidArgumentError, match="labels for a batch"):
        attack(videos, labels[:2])
    with pytest.raises(InvalidArgumentError, match="labels must lie"):
        attack(videos, labels + 10)
    with pytest.raises(InvalidVideoError, match=r"\[0, 1\]"):
        attack(videos * 2, labels)
    nan = videos.clone()
    nan[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(InvalidVideoError, match="NaN"):
        attack(nan, labels)
    with pytest.raises(InvalidVideoError, match="shape"):
        attack(videos[0], labels)


def test_attack_runs_in_eval_mode_and_restores_the_callers_mode(one_frame):
    model, videos, labels = one_frame
    model.train()
    seen = []
    hook = model.register_forward_pre_hook(lambda m, _: seen.append(m.training))
    try:
        DeepSAVA(model, frames=1, selector="first", steps=2)(videos, labels)
    finally:
        hook.remove()
        training_after = model.training
        model.eval()
    assert seen and not any(seen)
    assert training_after


def test_result_holds_the_flow_that_made_the_adversarial_frames():
    from deepsava.perturb import apply_perturbation

    model = FramePooling(num_classes=3).eval()
    videos, labels = videos_and_labels(model, batch=3, frames=5, size=24)
    result = DeepSAVA(model, frames=2, selector="first", mode="spatial", flow_lr=0.5, steps=6, seed=0)(videos, labels)
    assert result.flow.shape == (3, 2, 2, 24, 24)
    attacked = result.clean_correct
    assert result.flow[attacked].abs().sum() > 0 and (result.flow[~attacked] == 0).all()
    rebuilt = apply_perturbation(videos, result.frames, None, result.flow)  # the flow alone gives the frames back
    assert torch.allclose(rebuilt[attacked], result.adversarial[attacked], atol=1e-6)
    assert DeepSAVA(model, frames=1, mode="additive", steps=2)(videos, labels).flow is None


def test_an_attack_leaves_the_model_as_it_found_it():
    """Weights frozen during the attack (only the input's gradient is computed), then restored; no .grad left."""
    model = FramePooling(num_classes=3).train()
    frozen = next(model.parameters())
    frozen.requires_grad_(False)  # the caller's own frozen parameter stays frozen
    videos, labels = videos_and_labels(model.eval(), batch=2, frames=4, size=16)
    model.train()
    seen = []
    hook = model.register_forward_hook(lambda *_: seen.append(any(p.requires_grad for p in model.parameters())))
    DeepSAVA(model, frames=1, selector="bo", steps=3)(videos, labels)
    hook.remove()
    assert seen and not any(seen)  # every forward of the attack (BO's probes included) ran on frozen weights
    assert model.training and not frozen.requires_grad
    assert all(p.requires_grad and p.grad is None for p in model.parameters() if p is not frozen)


def test_an_attack_scans_video_values_a_fixed_number_of_times_not_per_step(monkeypatch):
    """The inputs are checked once and the result once; the inner loop's forwards (and warps) scan nothing."""
    import deepsava.video as video

    scans = []
    real = video.torch.isfinite
    monkeypatch.setattr(video.torch, "isfinite", lambda x: scans.append(x.shape) or real(x))
    model = FramePooling(num_classes=3).eval()
    videos, labels = videos_and_labels(model, batch=2, frames=4, size=16)
    counts = []
    for steps in (2, 12):
        scans.clear()
        DeepSAVA(model, frames=1, selector="first", steps=steps, early_stop=False)(videos, labels)
        counts.append(len(scans))
    assert counts[0] == counts[1] <= 6
    with video.trusted_videos():
        video.check_videos(torch.full((1, 2, 3, 4, 4), float("nan")))  # trusted: shapes only
    with pytest.raises(InvalidVideoError, match="NaN"):
        video.check_videos(torch.full((1, 2, 3, 4, 4), float("nan")))


def test_progress_is_reported_during_the_attacks_own_run_not_its_probes():
    model = FramePooling(num_classes=3).eval()
    videos, labels = videos_and_labels(model, batch=2, frames=4, size=16)
    attack = DeepSAVA(model, frames=1, selector="bo", steps=6, early_stop=False, selector_options={"evaluations": 3,
                                                                                                    "initial": 2})
    seen = []
    attack.progress = seen.append
    attack(videos, labels)
    assert seen == [pytest.approx(s / 6) for s in range(1, 7)]  # the 6 steps of the attack; BO's 3 probes say nothing


@pytest.mark.parametrize("method, options", [("deepsava", {"lr": 0.003, "lam": 0.1}), ("sparse", {"lr": 0.01, "lam": 0.01}),
                                             ("flicker", {})])
def test_compacting_the_batch_less_often_changes_no_videos_result(method, options):
    """On a GPU fooled videos leave the batch every few steps (one synchronisation), not at once: same results."""
    from deepsava.attacks import make_attack

    model = FramePooling(num_classes=3).eval()
    videos, labels = videos_and_labels(model, batch=6, frames=4, size=16, seed=2)
    frames = torch.arange(4).expand(6, 4).clone()
    results = []
    for every in (1, 5):
        attack = make_attack(method, model, frames=4, selector="first", steps=30, **options)
        attack.compact_every = every
        results.append(attack.optimise(videos, labels, frames, 30))
    one, five = results
    assert one.fooled.all() and len(set(one.iterations.tolist())) > 1  # videos left at different steps
    assert torch.equal(one.iterations, five.iterations)
    assert torch.allclose(one.adversarial, five.adversarial, atol=1e-6)
    assert torch.allclose(one.loss, five.loss, atol=1e-5)


@pytest.mark.parametrize("selector, options, per_video", [("first", {}, 0), ("bo", {"evaluations": 3, "initial": 2,
                                                                                   "probe_steps": 2}, 6),
                                                          ("brute", {"probe_steps": 2}, 4 * 2), ("saliency", {}, 1)])
def test_each_record_counts_the_gradient_steps_its_frame_selection_spent(selector, options, per_video):
    model = FramePooling(num_classes=3).eval()
    videos, labels = videos_and_labels(model, batch=3, frames=4, size=16)
    labels[0] = (labels[0] + 1) % 3  # misclassified: not attacked, no selection
    result = DeepSAVA(model, frames=1, selector=selector, steps=3, selector_options=options)(videos, labels)
    assert result.selection_steps.tolist() == [0.0, per_video, per_video]
    assert [r["selection_steps"] for r in result.to_records()] == [0.0, per_video, per_video]


def test_the_flow_regulariser_is_off_by_default_and_shrinks_the_flow_when_on():
    from deepsava.attacks.deepsava import flow_regulariser

    ramp = torch.arange(16.0).view(1, 1, 1, 1, 16).expand(2, 3, 2, 16, 16)  # U grows by 1 px per column
    assert torch.allclose(flow_regulariser(ramp, "l1"), torch.full((2, 3), 7.5))
    # TV: sqrt(1 + 1) wherever both channels step right (15 of 16 columns), sqrt(eps) on the padded last column
    assert torch.allclose(flow_regulariser(ramp, "tv"), torch.full((2, 3), 15 / 16 * 2 ** 0.5), atol=1e-4)
    model = FramePooling(num_classes=3).eval()
    videos, labels = videos_and_labels(model, batch=3, frames=4, size=16)
    frames = torch.zeros(3, 1, dtype=torch.long)
    sizes = {}
    for weight in (0.0, 5.0):
        attack = DeepSAVA(model, frames=1, selector="first", mode="spatial", lr=0.2, flow_weight=weight,
                          flow_penalty="l1", early_stop=False, steps=15)
        assert ("flow_weight" in attack.params()) == (weight > 0)
        sizes[weight] = attack.optimise(videos, labels, frames, 15, early_stop=False).flow.abs().mean()
    assert sizes[5.0] < 0.5 * sizes[0.0]
    with pytest.raises(InvalidArgumentError, match="flow_penalty"):
        DeepSAVA(model, flow_penalty="l2")
