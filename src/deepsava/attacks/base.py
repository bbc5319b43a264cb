"""What every video attack shares: the call shape, input checks, frame selection, the result.

An attack is called like a torchattacks attack, ``result = attack(videos, labels)``,
on videos (B, T, C, H, W) in [0, 1]. Videos the model already misclassifies are
not attacked and never count as successes. Subclasses implement ``optimise``:
the iterative generator on given frames, used both for the attack itself and as
the short probe that frame selectors score candidate masks with. What the
generator aims at (its loss and its success test) is the attack's ``criterion``
(:mod:`deepsava.attacks.criteria`): misclassification unless another is given.
"""

import math
import numbers
import time
from dataclasses import dataclass, field

import torch

from deepsava.attacks.criteria import Misclassification
from deepsava.errors import InvalidArgumentError, InvalidVideoError
from deepsava.perturb import frame_ssim, gather_frames, l21, scatter_frames
from deepsava.perturb.ssim import WINDOW
from deepsava.video import check_videos, trusted_videos

# Steps between compactions of the generator's batch on a GPU (on a CPU: every step). Compacting asks the host
# whether any video has left, which waits for the GPU; in between, fooled videos ride along at no extra wait.
GPU_COMPACT_EVERY = 8


def check_finite(**values) -> None:
    """Raise InvalidArgumentError naming the first value that is not a finite real number (None is skipped)."""
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not math.isfinite(value)):
            raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}")


def check_budgets(ssim_budget: float | None, l21_budget: float | None) -> bool:
    """Raise InvalidArgumentError for a budget out of range (SSIM in (0, 1], l2,1 > 0); True when either is set."""
    check_finite(ssim_budget=ssim_budget, l21_budget=l21_budget)
    if ssim_budget is not None and not 0.0 < ssim_budget <= 1.0:
        raise InvalidArgumentError(f"ssim_budget must lie in (0, 1], got {ssim_budget}")
    if l21_budget is not None and not l21_budget > 0.0:
        raise InvalidArgumentError(f"l21_budget must be positive, got {l21_budget}")
    return ssim_budget is not None or l21_budget is not None


def step_limit(steps: int | None, budgeted: bool) -> int:
    """The iteration limit: ``steps`` if given, else 100, or 500 with a budget (paper Section 4.2.1)."""
    return (500 if budgeted else 100) if steps is None else steps


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass
class Optimised:
    """What one run of a generator returns for a batch of B videos."""

    adversarial: torch.Tensor  # (B, T, C, H, W)
    iterations: torch.Tensor  # (B,) steps taken when the video first fooled the model, else the step limit
    fooled: torch.Tensor  # (B,) bool
    loss: torch.Tensor  # (B,) the attack objective at the last evaluation (lower = more adversarial)
    flow: torch.Tensor | None = None  # (B, k, 2, H, W) pixels: the flow of the returned frames (flow attacks)
    queries: torch.Tensor | None = None  # (B,) model queries each video used (query-counting attacks)


@dataclass
class AttackResult:
    """Per-video outcome of an attack on a batch of B videos (all tensors on the CPU)."""

    attack: str
    adversarial: torch.Tensor  # (B, T, C, H, W)
    labels: torch.Tensor  # (B,)
    clean_pred: torch.Tensor  # (B,)
    adv_pred: torch.Tensor  # (B,)
    clean_correct: torch.Tensor  # (B,) bool: attacked at all
    success: torch.Tensor  # (B,) bool: was correct, now fooled
    iterations: torch.Tensor  # (B,) iterations used (0 for videos not attacked)
    frames: torch.Tensor  # (B, k) frames perturbed
    ssim: torch.Tensor  # (B,) mean SSIM of the perturbed frames
    video_ssim: torch.Tensor  # (B,) SSIM averaged over all T frames
    l21: torch.Tensor  # (B,) l2,1 norm of the perturbation
    seconds: torch.Tensor  # (B,) the batch's wall time shared equally among its attacked videos; 0.0 if not attacked
    selection_steps: torch.Tensor | None = None  # (B,) gradient steps the frame selection spent per attacked video
    targets: torch.Tensor | None = None  # (B,) target classes in targeted mode
    params: dict = field(default_factory=dict)
    flow: torch.Tensor | None = None  # (B, k, 2, H, W) pixels, for attacks with a flow field (zero if not attacked)
    queries: torch.Tensor | None = None  # (B,) model queries used per video, for black-box attacks (clean forward included)

    @property
    def fooling_rate(self) -> float:
        """Successes over videos that were correctly classified before the attack."""
        n = int(self.clean_correct.sum())
        return float(self.success.sum()) / n if n else float("nan")

    def to_records(self, video_ids: list[str] | None = None) -> list[dict]:
        """One plain dict per video, for tables, JSON and the result store."""
        ids = video_ids if video_ids is not None else [str(i) for i in range(len(self.labels))]
        records = []
        for i, vid in enumerate(ids):
            records.append({
                "video_id": vid,
                "attack": self.attack,
                "label": int(self.labels[i]),
                "target": None if self.targets is None else int(self.targets[i]),
                "clean_pred": int(self.clean_pred[i]),
                "adv_pred": int(self.adv_pred[i]),
                "clean_correct": bool(self.clean_correct[i]),
                "success": bool(self.success[i]),
                "iterations": int(self.iterations[i]),
                "frames": [int(f) for f in self.frames[i]],
                "ssim": float(self.ssim[i]),
                "video_ssim": float(self.video_ssim[i]),
                "l21": float(self.l21[i]),
                "seconds": float(self.seconds[i]),
                "selection_steps": 0.0 if self.selection_steps is None else float(self.selection_steps[i]),
            })
            if self.queries is not None:  # only query-counting attacks: the records of the others are unchanged
                records[-1]["queries"] = int(self.queries[i])
        return records


class VideoAttack:
    """Base of every video attack: ``attack(videos, labels[, targets]) -> AttackResult``."""

    name = "attack"

    def __init__(self, model: torch.nn.Module, frames: int = 1, selector="first", steps: int = 100,
                 targeted: bool = False, seed: int = 0, selector_options: dict | None = None, criterion=None,
                 early_stop: bool = True):
        from deepsava.select import make_selector

        if not _is_count(frames):
            raise InvalidArgumentError(f"frames must be a positive integer, got {frames!r}")
        if not _is_count(steps):
            raise InvalidArgumentError(f"steps must be a positive integer, got {steps!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise InvalidArgumentError(f"seed must be an integer in [0, 2**63), got {seed!r}")
        if not isinstance(targeted, bool):
            raise InvalidArgumentError(f"targeted must be True or False, got {targeted!r}")
        if not isinstance(early_stop, bool):
            raise InvalidArgumentError(f"early_stop must be true or false, got {early_stop!r}")
        if criterion is not None and targeted:
            raise InvalidArgumentError("targeted=True is a classification setting: pass"
                                       " criterion=Misclassification(targeted=True) instead")
        self.model = model
        self.frames = frames
        self.steps = steps
        self.targeted = targeted
        self.seed = seed
        self.early_stop = early_stop  # False: every video runs all ``steps`` (no stop at the first success)
        self.criterion = criterion if criterion is not None else Misclassification(targeted)
        self.selector = make_selector(selector, **(selector_options or {})) if isinstance(selector, str) else selector
        self.progress = None  # progress(fraction): called after each step of the attack's own run (not of its probes)
        self._main_run = False  # True while that run (not a selector's probe) is in the generator
        self.selection_steps = 0  # gradient steps (video x step) spent by frame selection in the current call
        self.compact_every = None  # steps between compactions of the generator's batch; None: 1 on a CPU, else GPU's

    # -- what subclasses provide -------------------------------------------------------

    def optimise(self, videos: torch.Tensor, labels: torch.Tensor, frames: torch.Tensor,
                 steps: int, early_stop: bool = True) -> Optimised:
        """Run the generator on frames (B, k) of videos (B, T, C, H, W) for at most ``steps``."""
        raise NotImplementedError

    def params(self) -> dict:
        """The attack's settings, recorded with every result."""
        params = {"frames": self.frames, "steps": self.steps, "targeted": self.targeted, "seed": self.seed,
                  "selector": getattr(self.selector, "name", type(self.selector).__name__)}
        if not self.early_stop:  # absent by default, so that the cell keys of earlier runs stay the same
            params["early_stop"] = False
        return params

    # -- shared machinery --------------------------------------------------------------

    def adversarial_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-video loss to *minimise* (B,), from the criterion: by default -CE(true label), or +CE(target) when targeted."""
        return self.criterion.loss(logits, labels)

    def is_fooled(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B,) bool, from the criterion: by default the prediction differs from the label (or equals the target)."""
        return self.criterion.is_fooled(logits, labels)

    def select_frames(self, videos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The selector's ``frames`` key frames for each video (B, T, C, H, W) -> (B, k), seeded by the attack's seed."""
        generator = torch.Generator().manual_seed(self.seed)
        return self.selector.select(self, videos, labels, self.frames, generator)

    def generate(self, videos: torch.Tensor, labels: torch.Tensor, frames: torch.Tensor, steps: int, early_stop: bool,
                 optimizer: torch.optim.Optimizer, perturb, objective, after_step=None,
                 flow: torch.Tensor | None = None) -> Optimised:
        """The iterative generator every optimisation attack shares (paper Algorithm 2's loop).

        ``perturb(rows)`` returns the perturbed selected frames (n, k, C, H, W) of
        videos[rows]; ``objective(rows, perturbed, logits)`` the per-video loss (n,)
        to minimise; ``after_step()`` runs after each optimiser step (e.g. a
        projection); ``flow`` (B, k, 2, H, W), when the attack has one, is kept
        alongside the frames it produced. Step 0 scores the initial perturbation. With ``early_stop``
        each video's result is fixed the moment it fools the model, and that step is its iteration
        count; the fooled videos leave the batch at the next compaction (every step on a CPU, every
        ``GPU_COMPACT_EVERY`` steps elsewhere, so that a GPU is not waited for at every step). Adam
        is element-wise, so rows never interact and when a video leaves changes no other video's result.
        """
        b = frames.shape[0]
        clean = gather_frames(videos, frames)
        best = clean.clone()  # (B, k, C, H, W): the perturbed frames returned
        best_flow = None if flow is None else torch.zeros_like(flow, requires_grad=False)
        iterations = torch.full((b,), steps, dtype=torch.long, device=videos.device)
        fooled = torch.zeros(b, dtype=torch.bool, device=videos.device)
        loss = torch.zeros(b, device=videos.device)
        rows = torch.arange(b, device=videos.device)  # the videos still in the batch
        every = self.compact_every or (1 if videos.device.type == "cpu" else GPU_COMPACT_EVERY)
        for step in range(steps + 1):
            perturbed = perturb(rows)
            whole = len(rows) == b  # no video has left yet: no copy of the batch to index it
            logits = self.model(scatter_frames(videos if whole else videos[rows], frames if whole else frames[rows],
                                               perturbed))
            value = objective(rows, perturbed, logits)
            last = step == steps
            # Bookkeeping on the device, without a host-device synchronisation: a video fooled at an earlier step that
            # has not left the batch yet (between compactions) keeps what it had when it was first fooled.
            done = fooled[rows]
            now = self.is_fooled(logits, labels[rows]).detach()
            new = now & ~done if early_stop else torch.zeros_like(now)
            keep = new | (~done & last)
            best[rows] = torch.where(keep.view(-1, 1, 1, 1, 1), perturbed.detach(), best[rows])
            if flow is not None:
                best_flow[rows] = torch.where(keep.view(-1, 1, 1, 1, 1), flow[rows].detach(), best_flow[rows])
            loss[rows] = torch.where(done, loss[rows], value.detach())
            iterations[rows] = torch.where(new, step, iterations[rows])
            fooled[rows] = done | new | (now & last & (not early_stop))
            if last:
                break
            if early_stop and (step + 1) % every == 0:  # compaction: the one synchronisation
                left = ~fooled[rows]
                if not left.any():
                    break
                if not left.all():
                    value, rows = value[left], rows[left]
            optimizer.zero_grad(set_to_none=True)
            value.sum().backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            if self._main_run and self.progress is not None:
                self.progress((step + 1) / steps)
        return Optimised(scatter_frames(videos, frames, best), iterations, fooled, loss, best_flow)

    def probe(self, videos: torch.Tensor, labels: torch.Tensor, frames: torch.Tensor, steps: int) -> torch.Tensor:
        """Objective (B,) after a short generator run on candidate frames; lower = better mask (counted in
        ``selection_steps``)."""
        self.selection_steps += steps * len(videos)
        return self.optimise(videos, labels, frames, steps, early_stop=False).loss

    def _check(self, videos: torch.Tensor, labels, targets) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Validate a call's inputs; return labels (and targets) as long tensors (B,)."""
        check_videos(videos)
        b, t = videos.shape[:2]
        if videos.dtype != torch.float32:
            raise InvalidVideoError(f"attacks take float32 videos (the tensor convention), got {videos.dtype}:"
                                    " convert them with videos.float()")
        if min(videos.shape[-2:]) < WINDOW:
            raise InvalidVideoError(f"frames must be at least {WINDOW}x{WINDOW} pixels (the SSIM window every result"
                                    f" reports), got {tuple(videos.shape[-2:])}")
        if self.frames > t:
            raise InvalidArgumentError(f"frames={self.frames} exceeds the video length T={t}")
        if self.targeted and targets is None:
            raise InvalidArgumentError("a targeted attack needs targets=... (one class per video)")
        labels = self.criterion.check(labels, videos, self.model, "labels")
        return labels, self.criterion.check(targets, videos, self.model, "targets") if self.targeted else None

    def __call__(self, videos: torch.Tensor, labels, targets=None) -> AttackResult:
        """Attack a batch with the model in eval mode and its weights frozen (both restored afterwards).

        Frozen weights: backward passes compute the gradient of the input only, not of every weight
        (a third of a backward pass on a 3D CNN), and leave no ``.grad`` on the model.
        """
        was_training = self.model.training
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.model.eval()
        for parameter in trainable:
            parameter.requires_grad_(False)
        try:
            labels, targets = self._check(videos, labels, targets)
            with trusted_videos():  # checked once here; every video the attack makes is clipped to [0, 1]
                result = self._attack(videos, labels, targets)
            check_videos(result.adversarial, "the adversarial videos")  # a diverged optimiser (NaN) is caught here
            return result
        finally:
            for parameter in trainable:
                parameter.requires_grad_(True)
            self.model.train(was_training)

    def _attack(self, videos: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> AttackResult:
        start = time.perf_counter()
        goal = targets if self.targeted else labels
        with torch.no_grad():
            clean_output = self.model(videos)
        clean_pred = self.criterion.predicted_class(clean_output)
        clean_correct = self.criterion.attackable(clean_output, labels)
        b = videos.shape[0]
        frames = torch.arange(self.frames, device=videos.device).expand(b, -1).clone()
        adversarial = videos.clone()
        iterations = torch.zeros(b, dtype=torch.long, device=videos.device)
        flow = None
        todo = clean_correct.nonzero().flatten()
        selection_steps = torch.zeros(b)
        self.selection_steps = 0
        if len(todo):
            frames[todo] = self.select_frames(videos[todo], goal[todo])
            selection_steps[clean_correct.cpu()] = self.selection_steps / len(todo)
            self._main_run = True
            try:
                out = self.optimise(videos[todo], goal[todo], frames[todo], self.steps, early_stop=self.early_stop)
            finally:
                self._main_run = False
            adversarial[todo], iterations[todo] = out.adversarial, out.iterations
            if out.flow is not None:
                flow = out.flow.new_zeros(b, *out.flow.shape[1:])
                flow[todo] = out.flow
        seconds = torch.zeros(b)  # the time of a video not attacked is 0: its clean forward counts to the attacked
        if len(todo):
            seconds[clean_correct.cpu()] = (time.perf_counter() - start) / len(todo)
        with torch.no_grad():
            adv_output = self.model(adversarial)
            adv_pred = self.criterion.predicted_class(adv_output)
            ssim_all = frame_ssim(adversarial, videos)
            perturbed_ssim = ssim_all.gather(1, frames).mean(dim=1)
            norm = l21(adversarial - videos)
        success = clean_correct & self.criterion.is_fooled(adv_output, goal)
        cpu = lambda x: x.detach().cpu()  # noqa: E731
        return AttackResult(
            attack=self.name, adversarial=cpu(adversarial), labels=cpu(labels), clean_pred=cpu(clean_pred),
            adv_pred=cpu(adv_pred), clean_correct=cpu(clean_correct), success=cpu(success),
            iterations=cpu(iterations), frames=cpu(frames), ssim=cpu(perturbed_ssim),
            video_ssim=cpu(ssim_all.mean(dim=1)), l21=cpu(norm), seconds=seconds, selection_steps=selection_steps,
            targets=None if targets is None else cpu(targets), params=self.params(),
            flow=None if flow is None else cpu(flow),
        )
