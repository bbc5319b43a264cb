"""Adversarial training: one trainer, one small module per defence.

``adversarial_train(model, make_defence("pgd", eps=8/255), train_set, ...)`` trains
on one process or, under ``torchrun``, on many (:mod:`deepsava.defend.trainer`).
Methods: ``none`` (plain training: the undefended comparison), ``inject``
(pre-generated DeepSAVA videos added to the training set), ``pgd`` (Algorithm 3),
``combined`` (Algorithm 4) and ``trades`` (Zhang et al. 2019).
"""

from deepsava.defend.base import Defence
from deepsava.defend.combined import CombinedDefence
from deepsava.defend.inject import InjectDefence
from deepsava.defend.pgd import PGDDefence
from deepsava.defend.trades import TradesDefence
from deepsava.defend.trainer import adversarial_train
from deepsava.errors import InvalidArgumentError

DEFENCES = {cls.name: cls for cls in (Defence, InjectDefence, PGDDefence, CombinedDefence, TradesDefence)}


def make_defence(method: str, **params) -> Defence:
    """The defence ``method`` of :data:`DEFENCES` with its parameters."""
    if method not in DEFENCES:
        raise InvalidArgumentError(f"unknown defence method {method!r}: use one of {', '.join(DEFENCES)}")
    try:
        return DEFENCES[method](**params)
    except TypeError as err:
        raise InvalidArgumentError(f"bad parameters for defence {method!r}: {err}") from None


__all__ = ["DEFENCES", "CombinedDefence", "Defence", "InjectDefence", "PGDDefence", "TradesDefence",
           "adversarial_train", "make_defence"]
