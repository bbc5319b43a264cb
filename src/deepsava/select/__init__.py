"""Key-frame selectors: each chooses which k of T frames an attack perturbs.

Every selector has ``select(attack, videos (B,T,C,H,W), labels (B,), k, generator) -> (B, k)``
sorted frame indices. Search-based selectors score a candidate mask with
``attack.probe`` (a short run of the attack's own generator) and keep
``chosen_loss`` (B,), the probe loss of the masks they return; ``gumbel`` learns the
mask jointly with the perturbation instead of probing candidates, and keeps the
probe loss of the mask it returns likewise.
"""

from deepsava.errors import InvalidArgumentError
from deepsava.select.anneal import Annealing
from deepsava.select.bayesopt import BayesOpt
from deepsava.select.brute import BruteForce
from deepsava.select.first import FirstFrames
from deepsava.select.genetic import Genetic
from deepsava.select.gumbel import GumbelFrames
from deepsava.select.middle import MiddleFrames
from deepsava.select.random_frames import RandomFrames
from deepsava.select.saliency import SaliencyFrames

SELECTORS = {cls.name: cls for cls in (FirstFrames, MiddleFrames, RandomFrames, BayesOpt, BruteForce, SaliencyFrames,
                                       Annealing, Genetic, GumbelFrames)}


def make_selector(name: str, **options):
    """The selector ``name`` of :data:`SELECTORS` with its options."""
    if name not in SELECTORS:
        raise InvalidArgumentError(f"unknown selector {name!r}: use one of {', '.join(SELECTORS)}")
    try:
        return SELECTORS[name](**options)
    except TypeError as err:
        raise InvalidArgumentError(f"bad options for selector {name!r}: {err}") from None


__all__ = ["SELECTORS", "make_selector", "Annealing", "BayesOpt", "BruteForce", "FirstFrames", "Genetic",
           "GumbelFrames", "MiddleFrames", "RandomFrames", "SaliencyFrames"]
