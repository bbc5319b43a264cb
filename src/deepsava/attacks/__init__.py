"""Video attacks with one call shape: ``attack(videos, labels) -> AttackResult``; :data:`ATTACKS` by method name."""

from deepsava.attacks.base import AttackResult, VideoAttack
from deepsava.attacks.blackbox import BlackBoxDeepSAVA
from deepsava.attacks.criteria import Misclassification, PredictionError
from deepsava.attacks.deepsava import DeepSAVA
from deepsava.attacks.flicker import Flicker, SparseFlicker
from deepsava.attacks.pgd import FGSM, PGD
from deepsava.attacks.sparse import Sparse
from deepsava.errors import InvalidArgumentError

ATTACKS = {cls.name: cls for cls in (DeepSAVA, BlackBoxDeepSAVA, Sparse, Flicker, SparseFlicker, PGD, FGSM)}


def make_attack(method: str, model, **params) -> VideoAttack:
    """The attack ``method`` of :data:`ATTACKS` on ``model`` with its parameters."""
    if method not in ATTACKS:
        raise InvalidArgumentError(f"unknown attack method {method!r}: use one of {', '.join(ATTACKS)}")
    try:
        return ATTACKS[method](model, **params)
    except TypeError as err:
        raise InvalidArgumentError(f"bad parameters for attack {method!r}: {err}") from None


__all__ = ["ATTACKS", "AttackResult", "VideoAttack", "DeepSAVA", "BlackBoxDeepSAVA", "Sparse", "Flicker", "SparseFlicker", "FGSM", "PGD",
           "Misclassification", "PredictionError", "make_attack"]
