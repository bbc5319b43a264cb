"""Video attacks with one call shape: ``attack(videos, labels) -> AttackResult``."""

from deepsava.attacks.base import AttackResult, VideoAttack
from deepsava.attacks.criteria import Misclassification, PredictionError
from deepsava.attacks.deepsava import DeepSAVA
from deepsava.attacks.flicker import Flicker, SparseFlicker
from deepsava.attacks.pgd import FGSM, PGD
from deepsava.attacks.sparse import Sparse

__all__ = ["AttackResult", "VideoAttack", "DeepSAVA", "Sparse", "Flicker", "SparseFlicker", "FGSM", "PGD",
           "Misclassification", "PredictionError"]
