"""Next-frame prediction (Appendix C): the ConvLSTM predictor, its shipped checkpoint, and DeepSAVA against it."""

import json

import pytest
import torch

from deepsava.attacks import DeepSAVA, PredictionError
from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
from deepsava.studies.prediction import L2_BUDGET, SSIM_BUDGET, attack_predictor
from deepsava.models.convlstm import NextFramePredictor, load_predictor, save_predictor

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def held_out():
    """Six sequences of the moving-digits test split (never seen in training), (6, 20, 1, 64, 64)."""
    from deepsava.data import load_dataset

    test = load_dataset("moving-digits", split="test", sequences=6, progress=False)
    return torch.stack([test[i][0] for i in range(6)])


def test_predictor_is_causal_and_keeps_the_shape():
    torch.manual_seed(0)
    model = NextFramePredictor(hidden=8).eval()
    frames = torch.rand(2, 5, 1, 32, 32)
    changed = frames.clone()
    changed[:, 3] = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        before, after = model(frames), model(changed)
    assert before.shape == frames.shape and 0 <= before.min() and before.max() <= 1
    assert torch.equal(before[:, :3], after[:, :3])  # a frame reaches only its own and later predictions
    assert not torch.equal(before[:, 3], after[:, 3])


def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = NextFramePredictor(hidden=8).eval()
    stem = save_predictor(model, tmp_path / "p", {"dataset": "none"})
    loaded, meta = load_predictor(stem)
    frames = torch.rand(1, 3, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(frames), loaded(frames))
    assert meta["hidden"] == 8 and meta["model"] == "convlstm"
    meta_path = tmp_path / "p.json"
    meta_path.write_text(json.dumps({**meta, "hidden": 16}))
    with pytest.raises(InvalidCheckpointError, match="shape mismatches"):
        load_predictor(stem)
    meta_path.write_text(json.dumps({**meta, "model": "i3d"}))
    with pytest.raises(InvalidCheckpointError, match="not a convlstm predictor"):
        load_predictor(stem)


def test_shipped_predictor_beats_repeating_the_last_frame(held_out):
    model, meta = load_predictor()
    assert meta["dataset"] == "moving-digits" and meta["command"].startswith("deepsava train-predictor ")
    inputs, targets = held_out[:, :-1], held_out[:, 1:]
    with torch.no_grad():
        mse = (model(inputs) - targets).pow(2).mean().item()
    repeat_last = (inputs - targets).pow(2).mean().item()
    assert mse < 0.8 * repeat_last
    assert meta["test_mse"] < 0.8 * meta["test_mse_repeat_last_frame"]


@pytest.mark.parametrize("budget", ["l2", "ssim"])
def test_attack_raises_the_prediction_error_within_the_budget(held_out, budget):
    model, _ = load_predictor()
    outcome = attack_predictor(model, held_out[:3, :11], "first", budget, steps=6, batch_size=3)
    clean, adversarial = outcome.per_sequence["clean"], outcome.per_sequence["adversarial"]
    assert all(a > c for a, c in zip(adversarial, clean))
    assert outcome.step_mse[0] == pytest.approx(outcome.clean_mse, rel=1e-5)  # step 0 scores the clean input
    assert outcome.attacked_frames == [0, 0, 0]
    if budget == "l2":
        assert outcome.largest_rms <= L2_BUDGET + 1e-6
    else:
        assert outcome.smallest_ssim >= SSIM_BUDGET - 1e-6


def test_bo_picks_the_frame_whose_probe_raises_the_error_most(held_out):
    """The paper's case: BO with the PredictionError criterion. With 5 input frames its 5 probes try every frame, so
    its pick must be brute force's (up to ties), and the attack on it raises the error within the budget."""
    from deepsava.select.brute import BruteForce

    model, _ = load_predictor()
    sequences = held_out[:3, 4:10]  # 5 input frames, the digits already moving
    outcome = attack_predictor(model, sequences, "bo", "l2", steps=4, batch_size=3)
    assert all(a > c for a, c in zip(outcome.per_sequence["adversarial"], outcome.per_sequence["clean"]))
    assert outcome.largest_rms <= L2_BUDGET + 1e-6
    attack = DeepSAVA(model, frames=1, selector="bo", lam=0.0, steps=4, l21_budget=L2_BUDGET, criterion=PredictionError())
    losses = torch.stack([attack.probe(sequences[:, :-1], sequences[:, 1:], torch.full((3, 1), t), 5) for t in range(5)],
                         dim=1)  # (3, 5): the probe loss of each single-frame mask, lower = larger error
    chosen = losses.gather(1, torch.tensor(outcome.attacked_frames).view(3, 1)).squeeze(1)
    assert torch.allclose(chosen, losses.min(dim=1).values, rtol=1e-5, atol=1e-9)
    assert BruteForce().select(attack, sequences[:, :-1], sequences[:, 1:], 1, None).squeeze(1).tolist() == \
        losses.argmin(dim=1).tolist()


def test_lam_weighs_eq_c1_similarity_term(held_out):
    """Eq. C.1 with λ > 0: the SSIM term holds the frame closer to the clean one than the budget alone (λ = 0)."""
    model, _ = load_predictor()
    free, held = (attack_predictor(model, held_out[:2, :8], "first", "ssim", steps=8, batch_size=2, lam=lam)
                  for lam in (0.0, 1.0))
    assert held.lam == 1.0 and "λ = 1" in held.label
    assert held.smallest_ssim > free.smallest_ssim
    assert held.adversarial_mse < free.adversarial_mse


def test_prediction_attack_is_the_classifier_attack_with_another_criterion(held_out):
    model, _ = load_predictor()
    attack = DeepSAVA(model, frames=1, selector="first", lam=0.0, steps=3, criterion=PredictionError())
    out = attack.optimise(held_out[:2, :-1], held_out[:2, 1:], torch.zeros(2, 1, dtype=torch.long), 3)
    assert not out.fooled.any() and out.iterations.tolist() == [3, 3]  # no success test: every step runs
    with pytest.raises(InvalidArgumentError, match="targeted=True is a classification setting"):
        DeepSAVA(model, targeted=True, criterion=PredictionError())


def test_the_appendix_c_attack_runs_through_the_public_call(held_out):
    """``DeepSAVA(predictor, criterion=PredictionError())(videos, next_frames)``: every sequence attacked, no class."""
    model, _ = load_predictor()
    inputs, targets = held_out[:2, :7], held_out[:2, 1:8]
    attack = DeepSAVA(model, frames=1, selector="bo", lam=0.0, steps=4, l21_budget=L2_BUDGET, criterion=PredictionError())
    result = attack(inputs, targets)
    with torch.no_grad():
        clean, adversarial = ((model(x) - targets).pow(2).flatten(1).mean(1) for x in (inputs, result.adversarial))
    assert (adversarial > clean).all() and result.clean_correct.all() and not result.success.any()
    assert result.clean_pred.tolist() == [-1, -1] and result.l21.max() <= L2_BUDGET + 1e-6
    changed = (result.adversarial != inputs).flatten(2).any(2)  # (B, T): only the selected frame differs
    assert changed.sum(1).tolist() == [1, 1] and changed.float().argmax(1).tolist() == result.frames.squeeze(1).tolist()
    with pytest.raises(InvalidArgumentError, match="next frames must be a tensor of the videos' shape"):
        attack(inputs, torch.tensor([0, 1]))


def test_cli_never_overwrites_a_previous_run(tmp_path, cli_run):
    (tmp_path / "old.safetensors").write_bytes(b"a previous checkpoint")
    code, out, err = cli_run(["train-predictor", "--out", tmp_path / "old", "--sequences", "4", "--epochs", "1"])
    assert code != 0 and "--force" in err + out and (tmp_path / "old.safetensors").read_bytes() == b"a previous checkpoint"
    (tmp_path / "prediction.json").write_text("{}")
    code, out, err = cli_run(["prediction-attack", "--out", tmp_path, "--sequences", "2", "--steps", "1"])
    assert code != 0 and "--force" in err + out and (tmp_path / "prediction.json").read_text() == "{}"
