"""Input-gradient saliency (Simonyan et al., 2014), and the selector that attacks the most or least salient frames.

The saliency of a pixel is the magnitude of the gradient of a score with respect
to it, the largest over its colour channels. The score is, by default, the logit
of the class the attack is given (``"logit"``: Simonyan et al.'s class score, the
paper's "gradients of the predicted outcome"), or the attack's adversarial loss
(``"loss"``: for a classifier the cross-entropy, whose gradient is roughly the
class score's scaled by 1 - p_y, so it mixes confidence into sensitivity; the
only choice for a criterion without class scores, such as next-frame
prediction). A frame's temporal saliency is its share of the video's total.
:mod:`deepsava.studies.saliency` draws its maps and curves with these same
functions, so the selector's frames are the curve's largest (or smallest).
"""

import torch

from deepsava.attacks.criteria import Misclassification
from deepsava.errors import InvalidArgumentError

SCORES = ("logit", "loss")


def input_gradient(model, criterion, videos: torch.Tensor, targets: torch.Tensor, score: str = "logit") -> torch.Tensor:
    """Gradient of each video's score with respect to its pixels: videos (B, T, C, H, W) -> (B, T, C, H, W).

    ``score`` "logit": the logit of class ``targets`` (B,); "loss": ``criterion.loss(output, targets)`` (B,).
    Each video's score depends on that video only, so row b is the gradient of video b's own score.
    """
    if score not in SCORES:
        raise InvalidArgumentError(f"unknown saliency score {score!r}: use one of {', '.join(SCORES)}")
    x = videos.detach().clone().requires_grad_(True)
    output = model(x)
    value = output.gather(1, targets.view(-1, 1)).squeeze(1) if score == "logit" else criterion.loss(output, targets)
    value.sum().backward()
    return x.grad


def pixel_saliency(gradient: torch.Tensor) -> torch.Tensor:
    """Saliency maps from an input gradient: largest |gradient| over the channels, (B, T, C, H, W) -> (B, T, H, W)."""
    return gradient.abs().amax(dim=2)


def temporal_saliency(maps: torch.Tensor) -> torch.Tensor:
    """Each frame's share of the total saliency: maps (B, T, H, W) -> (B, T), rows summing to 1 (0 if no saliency)."""
    mass = maps.flatten(2).sum(dim=2)
    return mass / mass.sum(dim=1, keepdim=True).clamp_min(1e-30)


class SaliencyFrames:
    """The k frames with the largest temporal saliency, or with ``least=True`` the k with the smallest.

    ``score``: "logit" or "loss" (see the module); default "logit" when the attack's criterion is
    a classification one, else "loss".
    """

    name = "saliency"

    def __init__(self, least: bool = False, score: str | None = None):
        if score is not None and score not in SCORES:
            raise InvalidArgumentError(f"unknown saliency score {score!r}: use one of {', '.join(SCORES)}")
        self.least = least
        self.score = score

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        """(B, k) indices of the k most (or least) salient frames, sorted."""
        score = self.score or ("logit" if isinstance(attack.criterion, Misclassification) else "loss")
        gradient = input_gradient(attack.model, attack.criterion, videos, labels, score)
        attack.selection_steps += len(videos)  # one gradient per video
        curve = temporal_saliency(pixel_saliency(gradient))
        return curve.topk(k, dim=1, largest=not self.least).indices.sort(dim=1).values
