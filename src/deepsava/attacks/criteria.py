"""Attack criteria: what an attack aims at, as the adversarial loss its generator minimises and a test of success.

The attack's call (:meth:`VideoAttack.__call__`), the generator loop, the probes and
the frame selectors reach the model's output only through the criterion:
``check(targets, videos, model)``, ``attackable(output, target)`` (which videos to
attack), ``predicted_class(output)``, ``loss(output, target)`` and
``is_fooled(output, target)``. So the same attack runs on another task with another
criterion and nothing else changed: :class:`Misclassification` for classifiers (the
default), :class:`PredictionError` for next-frame predictors (paper Appendix C, Eq. C.1).
"""

import torch
import torch.nn.functional as F

from deepsava.errors import InvalidArgumentError


class Misclassification:
    """Classifier output: logits (B, K) against labels (B,) (or target classes when ``targeted``).

    loss: -CE(logits, label), or +CE(logits, target) when targeted -> (B,).
    Fooled: the predicted class differs from the label, or equals the target.
    """

    name = "misclassification"

    def __init__(self, targeted: bool = False):
        self.targeted = targeted

    def check(self, labels, videos: torch.Tensor, model, name: str = "labels") -> torch.Tensor:
        """Labels (or targets) as long class indices (B,) on the videos' device; InvalidArgumentError otherwise."""
        try:
            y = torch.as_tensor(labels, device=videos.device)
        except (TypeError, ValueError, RuntimeError):
            y = None
        if y is None or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise InvalidArgumentError(f"{name} must be integer class indices")
        y = y.long().view(-1)
        if y.numel() != videos.shape[0]:
            raise InvalidArgumentError(f"got {y.numel()} {name} for a batch of {videos.shape[0]} videos")
        num_classes = getattr(model, "num_classes", None)
        if num_classes is not None and ((y < 0).any() or (y >= num_classes).any()):
            raise InvalidArgumentError(f"{name} must lie in [0, {num_classes - 1}] for this model, got {y.tolist()}")
        return y

    def attackable(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the videos classified correctly before the attack (the others are not attacked)."""
        return logits.argmax(dim=1) == labels

    def predicted_class(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=1)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits, labels, reduction="none")
        return ce if self.targeted else -ce

    def is_fooled(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        pred = logits.argmax(dim=1)
        return pred == labels if self.targeted else pred != labels


class PredictionError:
    """Next-frame predictor output: predicted frames (B, T, C, H, W) against the true next frames, same shape.

    loss: minus the mean squared error of each video's predicted frames (paper
    Eq. C.1's l_adv is this MSE, maximised) -> (B,). There is no success test
    (``is_fooled`` is always False): the attack runs all its steps, and what is
    measured is the error it reaches.
    """

    name = "prediction-error"

    def check(self, next_frames, videos: torch.Tensor, model, name: str = "targets") -> torch.Tensor:
        """The true next frames, one per input frame: a float tensor of the videos' shape."""
        if not isinstance(next_frames, torch.Tensor) or next_frames.shape != videos.shape:
            shape = tuple(next_frames.shape) if isinstance(next_frames, torch.Tensor) else type(next_frames).__name__
            raise InvalidArgumentError(f"{name}: the next frames must be a tensor of the videos' shape"
                                       f" {tuple(videos.shape)}, got {shape}")
        return next_frames.to(videos.device, videos.dtype)

    def attackable(self, predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
        """Every sequence is attacked (there is no correct prediction to lose)."""
        return torch.ones(predicted.shape[0], dtype=torch.bool, device=predicted.device)

    def predicted_class(self, predicted: torch.Tensor) -> torch.Tensor:
        """No class: -1 for every sequence."""
        return torch.full((predicted.shape[0],), -1, dtype=torch.long, device=predicted.device)

    def loss(self, predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
        return -prediction_mse(predicted, next_frames)

    def is_fooled(self, predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
        return torch.zeros(predicted.shape[0], dtype=torch.bool, device=predicted.device)


def prediction_mse(predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each video's predicted frames: (B, T, C, H, W) x2 -> (B,)."""
    return (predicted - next_frames).pow(2).flatten(1).mean(dim=1)
