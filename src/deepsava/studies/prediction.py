"""Next-frame prediction case study (paper Appendix C, Figure C.9): DeepSAVA against a ConvLSTM predictor.

The attack is :class:`~deepsava.attacks.DeepSAVA` itself with the
:class:`~deepsava.attacks.criteria.PredictionError` criterion: on one input frame
it minimises Eq. C.1, λ·Σ(1 − SSIM) minus the mean squared error between the
predicted next frames and the true ones, within a budget: the paper's "l2 ball of
0.03", read as the per-pixel RMS of the frame's change (which for one frame is
its l2,1 norm; the Euclidean norm of a 64×64 frame's change would be 64 times
larger), or an SSIM floor. By default λ = 0: the budget alone bounds the change
(the constrained form of Eq. C.1; the paper gives no λ for this study, and with
the classifiers' λ = 1 the SSIM term, whose gradient is not small next to that of
an MSE near 0.02, holds the frame close to clean). The perturbed frame is the
first one, or the one Bayesian optimisation picks.

The frames are chosen by the attack's own selector (:meth:`VideoAttack.select_frames`)
and perturbed by its own generator (:meth:`DeepSAVA.optimise`); the attack's
``__call__`` is not used because what it adds is classification bookkeeping
(integer labels, clean predictions, success) that a predictor has no use for.

Sequences of ``T + 1`` frames give inputs ``x_1..x_T`` and targets ``x_2..x_{T+1}``.
Recorded per setting: the MSE at every attack step (Figure C.9's curves), the
error of each predicted frame before and after, which frame was attacked, and
the budget actually used.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepsava.attacks import DeepSAVA
from deepsava.attacks.criteria import PredictionError
from deepsava.data.moving_digits import prediction_split
from deepsava.models.convlstm import load_predictor
from deepsava.perturb import frame_ssim, l21
from deepsava.runtime import resolve_device, seed_everything

L2_BUDGET = 0.03  # the paper's "l2 ball" (Figure C.9): per-pixel RMS of the frame's change (= its l2,1)
SSIM_BUDGET = 0.95  # the paper gives no value; 0.95 is the image-attack budget it cites (Fezza et al., 2019)
BUDGETS = {"l2": L2_BUDGET, "ssim": SSIM_BUDGET}  # the study's budgets by name
RESULT_FILE = "prediction.json"


class RecordedCriterion:
    """A criterion that also keeps the per-video value of every evaluation: ``history`` is a list of (B,) tensors."""

    def __init__(self, criterion):
        self.criterion = criterion
        self.history: list[torch.Tensor] = []

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        value = self.criterion.loss(output, target)
        self.history.append(value.detach().cpu())
        return value

    def is_fooled(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.criterion.is_fooled(output, target)

    def check(self, target, videos: torch.Tensor, model, name: str = "targets") -> torch.Tensor:
        return self.criterion.check(target, videos, model, name)

    def attackable(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.criterion.attackable(output, target)

    def predicted_class(self, output: torch.Tensor) -> torch.Tensor:
        return self.criterion.predicted_class(output)


@dataclass
class PredictionOutcome:
    """One setting (selector x budget) of the study over B sequences of T input frames."""

    label: str
    selector: str
    budget: str  # "l2" (per-pixel RMS, = l2,1 of the frame) or "ssim"
    budget_value: float
    steps: int
    clean_mse: float  # mean over sequences
    adversarial_mse: float
    step_mse: list[float]  # mean MSE after each attack step, step 0 = clean (steps + 1 values)
    clean_frame_mse: list[float]  # (T,) mean error of each predicted frame, clean inputs
    adversarial_frame_mse: list[float]  # (T,) the same, adversarial inputs
    attacked_frames: list[int]  # (B,) the frame perturbed in each sequence
    raised: float  # share of sequences whose MSE rose
    largest_rms: float  # largest per-pixel RMS change (l2,1) of the perturbed frame over the sequences
    smallest_ssim: float  # smallest SSIM of the perturbed frame
    per_sequence: dict = field(default_factory=dict)  # {"clean": [...], "adversarial": [...]}
    lam: float = 0.0  # weight of Eq. C.1's SSIM term


def attack_predictor(predictor, sequences: torch.Tensor, selector: str, budget: str, steps: int = 100,
                     seed: int = 0, lr: float = 0.01, batch_size: int = 25, lam: float = 0.0) -> PredictionOutcome:
    """Run one setting on sequences (B, T + 1, C, H, W), ``batch_size`` at a time: one perturbed input frame,
    ``budget`` "l2" (per-pixel RMS change ≤ 0.03) or "ssim" (SSIM ≥ 0.95), ``lam`` the SSIM weight of Eq. C.1."""
    value = BUDGETS[budget]
    bounds = {"l21_budget": value} if budget == "l2" else {"ssim_budget": value}
    predictor.eval()
    parts = []
    for chunk in sequences.split(batch_size):
        inputs, targets = chunk[:, :-1], chunk[:, 1:]
        recorder = RecordedCriterion(PredictionError())
        attack = DeepSAVA(predictor, frames=1, selector=selector, mode="combined", lam=lam, steps=steps, lr=lr,
                          seed=seed, criterion=recorder, **bounds)
        result = attack(inputs, targets)
        adversarial, frames = result.adversarial.to(inputs.device), result.frames.to(inputs.device)
        recorder.history = recorder.history[-(steps + 1):]  # the final run's steps, not the selector's probes
        with torch.no_grad():
            parts.append({
                "clean": (predictor(inputs) - targets).pow(2).flatten(2).mean(dim=2),  # (b, T)
                "adversarial": (predictor(adversarial) - targets).pow(2).flatten(2).mean(dim=2),
                "steps": -torch.stack(recorder.history, dim=1),  # (b, steps + 1)
                "frames": frames.squeeze(1),
                "rms": l21(adversarial - inputs),
                "ssim": frame_ssim(adversarial, inputs).gather(1, frames).squeeze(1),
            })
    whole = {key: torch.cat([p[key] for p in parts]).cpu() for key in parts[0]}
    clean, adv = whole["clean"].mean(dim=1), whole["adversarial"].mean(dim=1)
    limit = f"RMS ≤ {value}" if budget == "l2" else f"SSIM ≥ {value}"
    return PredictionOutcome(
        label=f"{'BO' if selector == 'bo' else selector} frame, {limit}" + (f", λ = {lam:g}" if lam else ""),
        selector=selector, budget=budget, budget_value=value, steps=steps,
        clean_mse=clean.mean().item(), adversarial_mse=adv.mean().item(), step_mse=whole["steps"].mean(dim=0).tolist(),
        clean_frame_mse=whole["clean"].mean(dim=0).tolist(),
        adversarial_frame_mse=whole["adversarial"].mean(dim=0).tolist(),
        attacked_frames=whole["frames"].tolist(), raised=(adv > clean).float().mean().item(),
        largest_rms=whole["rms"].max().item(), smallest_ssim=whole["ssim"].min().item(),
        per_sequence={"clean": clean.tolist(), "adversarial": adv.tolist()}, lam=lam,
    )


def prediction_study(checkpoint: str | None, selectors: list[str], budgets: list[str], *, moving_mnist=None,
                     sequences: int = 100, steps: int = 100, lam: float = 0.0, lr: float = 0.01, batch_size: int = 25,
                     seed: int = 0, device: str = "auto", command: str = "",
                     report=None) -> tuple[list[PredictionOutcome], dict]:
    """Appendix C: every selector x budget on the held-out sequences; saved as ``prediction.json`` by the caller.

    ``report(outcome)`` is called after each setting (e.g. to print it). Returns the outcomes and what they
    are about (the checkpoint, its test MSE, the data, the settings and ``command``).
    """
    dev = resolve_device(device)
    predictor, meta = load_predictor(checkpoint, dev)
    test = prediction_split("test", moving_mnist, sequences, seed)
    count = min(sequences, len(test))
    data = torch.stack([test[i][0] for i in range(count)]).to(dev)
    outcomes = []
    for selector in selectors:
        for budget in budgets:
            seed_everything(seed)
            outcomes.append(attack_predictor(predictor, data, selector, budget, steps, seed, lr, batch_size, lam))
            if report is not None:
                report(outcomes[-1])
    about = {"checkpoint": checkpoint or "shipped:convlstm-moving-digits", "predictor_test_mse": meta.get("test_mse"),
             "dataset": "mnist_test_seq.npy" if moving_mnist else "moving-digits", "sequences": count,
             "frames": data.shape[1], "seed": seed, "lr": lr, "lam": lam, "command": command}
    return outcomes, about


def save_outcomes(folder: str | Path, outcomes: list[PredictionOutcome], about: dict) -> Path:
    """Write ``prediction.json`` (settings and their outcomes, plus ``about``: checkpoint, data, command)."""
    path = Path(folder) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**about, "outcomes": [asdict(o) for o in outcomes]}, indent=1) + "\n")
    return path


def load_outcomes(folder: str | Path) -> tuple[dict, list[PredictionOutcome]]:
    """Read ``prediction.json`` (files written before the rename call the largest RMS change ``largest_l2``)."""
    data = json.loads((Path(folder) / RESULT_FILE).read_text())
    outcomes = [PredictionOutcome(**{"largest_rms" if k == "largest_l2" else k: v for k, v in o.items()})
                for o in data.pop("outcomes")]
    return data, outcomes


def summary_rows(outcomes: list[PredictionOutcome]) -> list[list[str]]:
    """One table row per setting: clean and adversarial MSE, relative rise, share raised, most attacked frame, budget used."""
    rows = []
    for o in outcomes:
        counts = np.bincount(o.attacked_frames)
        rise = o.adversarial_mse / o.clean_mse - 1 if o.clean_mse > 0 else math.nan
        rows.append([o.label, f"{o.clean_mse:.5f}", f"{o.adversarial_mse:.5f}", f"{rise:+.2%}", f"{o.raised:.0%}",
                     f"x_{int(counts.argmax()) + 1} ({counts.max() / len(o.attacked_frames):.0%})",
                     f"{o.largest_rms:.4f}", f"{o.smallest_ssim:.4f}", str(len(o.attacked_frames))])
    return rows


SUMMARY_COLUMNS = ["setting", "clean MSE", "adversarial MSE", "rise", "raised", "attacked frame (mode)",
                   "largest RMS change (l2,1)", "smallest SSIM", "n"]
