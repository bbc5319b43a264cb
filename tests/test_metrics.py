import math

import pytest

from deepsava.evaluate.metrics import (average_absolute_perturbation, average_iterations, average_success_perturbation,
                                       confidence_interval, fooling_rate, summarize)


def rec(correct, success, iterations, ssim=1.0, l21=0.0):
    return {"clean_correct": correct, "success": success, "iterations": iterations, "ssim": ssim, "l21": l21, "seconds": 1.0}


RECORDS = [
    rec(True, True, 4, ssim=0.96, l21=0.05),
    rec(True, True, 10, ssim=0.98, l21=0.03),
    rec(True, False, 100, ssim=0.90, l21=0.2),
    rec(True, False, 100, ssim=0.91, l21=0.2),
    rec(False, False, 0),  # misclassified before the attack: left out
]


def test_fooling_rate_and_ani_skip_misclassified_videos():
    assert fooling_rate(RECORDS) == 0.5
    assert average_iterations(RECORDS) == 7.0
    assert summarize(RECORDS)["skipped_misclassified"] == 1


def test_aap_follows_the_papers_formula_by_hand():
    # mean l21 of successes 0.04, f = 0.5, D_max = 0.1 -> 0.04*0.5 + 0.1*0.5 = 0.07
    assert average_absolute_perturbation(RECORDS, "l21") == pytest.approx(0.07)
    # mean (1-SSIM) of successes 0.03, D_max = 0.08 -> 0.015 + 0.04 = 0.055
    assert average_absolute_perturbation(RECORDS, "ssim") == pytest.approx(0.055)
    assert average_absolute_perturbation([rec(True, False, 100)], "ssim") == pytest.approx(0.08)


def test_asp_is_mean_ssim_distance_of_successes():
    assert average_success_perturbation(RECORDS) == pytest.approx(0.03)


def test_confidence_interval_99_by_hand():
    mean, half = confidence_interval([0.5, 0.6, 0.7], level=0.99)
    # sd = 0.1, t_{0.995, 2} = 9.9248
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(9.9248 * 0.1 / math.sqrt(3), rel=1e-3)
    assert math.isnan(confidence_interval([0.5])[1])
