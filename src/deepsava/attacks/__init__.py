"""Video attacks with one call shape: ``attack(videos, labels) -> AttackResult``."""

from deepsava.attacks.base import AttackResult, VideoAttack
from deepsava.attacks.deepsava import DeepSAVA

__all__ = ["AttackResult", "VideoAttack", "DeepSAVA"]
