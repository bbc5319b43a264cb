import math

import pytest

from deepsava.metrics import (average_absolute_perturbation, average_iterations, average_success_perturbation,
                                       beyond_d_max, confidence_interval, fooling_rate, rate_interval, summarize,
                                       wilson_interval)


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
    assert beyond_d_max(RECORDS, "l21") == beyond_d_max(RECORDS, "ssim") == 0  # the successes lie within D_max


def test_aap_beyond_d_max_is_the_formula_unchanged_and_counted():
    # Unconstrained: one success at l2,1 0.3 and SSIM 0.7, one failure: f = 0.5.
    records = [rec(True, True, 5, ssim=0.7, l21=0.3), rec(True, False, 100, ssim=0.99, l21=0.01)]
    assert average_absolute_perturbation(records, "l21") == pytest.approx(0.3 * 0.5 + 0.1 * 0.5)  # 0.2 > D_max
    assert average_absolute_perturbation(records, "ssim") == pytest.approx(0.3 * 0.5 + 0.08 * 0.5)
    assert beyond_d_max(records, "l21") == beyond_d_max(records, "ssim") == 1
    assert summarize(records)["beyond_l21_max"] == 1
    with pytest.raises(Exception, match="distance must be"):
        average_absolute_perturbation([rec(True, False, 100)], "l2")


def test_asp_is_mean_ssim_distance_of_successes():
    assert average_success_perturbation(RECORDS) == pytest.approx(0.03)


def test_confidence_interval_99_by_hand():
    mean, half = confidence_interval([0.5, 0.6, 0.7], level=0.99)
    # sd = 0.1, t_{0.995, 2} = 9.9248
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(9.9248 * 0.1 / math.sqrt(3), rel=1e-3)
    assert math.isnan(confidence_interval([0.5])[1])


def test_rate_interval_is_clipped_to_0_1():
    # mean 0.05, sd 0.05, half-width 9.9248 * 0.05 / sqrt(3) = 0.2865: the lower bound would be -0.24
    mean, low, high = rate_interval([0.0, 0.05, 0.1])
    assert mean == pytest.approx(0.05) and low == 0.0 and high == pytest.approx(0.05 + 0.28651, abs=1e-4)
    assert rate_interval([1.0, 0.9, 0.8])[2] == 1.0
    assert rate_interval([0.5, 0.6, 0.7])[1:] == pytest.approx((0.6 - 0.57301, 1.0), abs=1e-4)  # 1.173 clipped
    assert all(math.isnan(v) for v in rate_interval([0.4])[1:])


def test_wilson_interval_99_by_hand():
    # z = 2.5758, z^2 = 6.6349. 5/10: centre (0.5 + z^2/20) / (1 + z^2/10) = 0.5,
    # half z / 1.66349 * sqrt(0.025 + z^2/400) = 0.31577.
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.5 - 0.31577, abs=1e-4) and high == pytest.approx(0.5 + 0.31577, abs=1e-4)
    # 0/8: centre (z^2/16) / (1 + z^2/8) = 0.22668 = half: the interval is [0, 0.45336], never below 0.
    assert wilson_interval(0, 8) == pytest.approx((0.0, 0.45336), abs=1e-4)
    assert wilson_interval(8, 8) == pytest.approx((1 - 0.45336, 1.0), abs=1e-4)
    assert wilson_interval(3, 20, level=0.95) == pytest.approx((0.05237, 0.36042), abs=1e-4)  # z = 1.96
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


@pytest.mark.parametrize("successes, trials", [(4, 10), (1, 7), (29, 30)])
def test_wilson_interval_is_where_the_score_test_accepts(successes, trials):
    """Wilson's interval: the p with |k/n - p| <= z sqrt(p (1 - p) / n), found here on a fine grid of p."""
    import numpy as np

    z = 2.5758293035489
    grid = np.linspace(0, 1, 1_000_001)
    accepted = grid[np.abs(successes / trials - grid) <= z * np.sqrt(grid * (1 - grid) / trials)]
    assert wilson_interval(successes, trials) == pytest.approx((accepted.min(), accepted.max()), abs=2e-6)
