"""Attack criteria: what an attack aims at, as the adversarial loss its generator minimises and a test of success.

The generator loop (:meth:`VideoAttack.generate`), the probes and the frame
selectors reach the model's output only through ``criterion.loss(output, target)``
and ``criterion.is_fooled(output, target)``, so the same attack runs on another
task with another criterion and nothing else changed: :class:`Misclassification` for classifiers (the default),
:class:`PredictionError` for next-frame predictors (paper Appendix C, Eq. C.1).
"""

import torch
import torch.nn.functional as F


class Misclassification:
    """Classifier output: logits (B, K) against labels (B,) (or target classes when ``targeted``).

    loss: -CE(logits, label), or +CE(logits, target) when targeted -> (B,).
    Fooled: the predicted class differs from the label, or equals the target.
    """

    name = "misclassification"

    def __init__(self, targeted: bool = False):
        self.targeted = targeted

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

    def loss(self, predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
        return -prediction_mse(predicted, next_frames)

    def is_fooled(self, predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
        return torch.zeros(predicted.shape[0], dtype=torch.bool, device=predicted.device)


def prediction_mse(predicted: torch.Tensor, next_frames: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each video's predicted frames: (B, T, C, H, W) x2 -> (B,)."""
    return (predicted - next_frames).pow(2).flatten(1).mean(dim=1)
