"""The paper's attack metrics (Sections 4.1, 4.2.2, 4.2.6) over per-video records.

A record is a dict as made by ``AttackResult.to_records``. Videos that the model
misclassified before the attack (``clean_correct`` false) are left out of every
metric and counted separately.
"""

import math
from collections.abc import Sequence

from scipy import stats

from deepsava.errors import InvalidArgumentError

# The paper's largest allowed distances for AAP (Section 4.2.2): l2,1 ball 0.1, SSIM 0.92.
AAP_L21_MAX = 0.1
AAP_SSIM_MAX = 1 - 0.92


def nan_mean(values) -> float:
    """Mean of the values that are numbers (None and NaN left out); NaN when none is."""
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _attacked(records: Sequence[dict]) -> list[dict]:
    return [r for r in records if r["clean_correct"]]


def fooling_rate(records: Sequence[dict]) -> float:
    """FR: successful adversarial videos over videos correctly classified before the attack."""
    attacked = _attacked(records)
    return sum(r["success"] for r in attacked) / len(attacked) if attacked else math.nan


def average_iterations(records: Sequence[dict], with_selection: bool = False) -> float:
    """ANI: mean number of iterations over the successful attacks (nan if none succeeded).

    ``with_selection``: plus the gradient steps the frame selection spent on each video (its probes), the
    total cost in gradient steps per fooled video; the paper's ANI counts the final attack only.
    """
    steps = [r["iterations"] + (r.get("selection_steps", 0.0) if with_selection else 0.0)
             for r in _attacked(records) if r["success"]]
    return sum(steps) / len(steps) if steps else math.nan


def average_queries(records: Sequence[dict]) -> float:
    """Mean model queries per attacked video (records of black-box attacks, which count them); nan where none counts."""
    used = [r["queries"] for r in _attacked(records) if "queries" in r]
    return sum(used) / len(used) if used else math.nan


def _d_max(distance: str) -> float:
    if distance not in ("l21", "ssim"):
        raise InvalidArgumentError(f"distance must be 'l21' or 'ssim', got {distance!r}")
    return AAP_L21_MAX if distance == "l21" else AAP_SSIM_MAX


def _distance(record: dict, distance: str) -> float:
    return record["l21"] if distance == "l21" else 1 - record["ssim"]


def average_absolute_perturbation(records: Sequence[dict], distance: str) -> float:
    """AAP(D) = mean D over successes * f + D_max * (1 - f), D = "l21" or "ssim" (1 - SSIM of the perturbed frames).

    The paper's formula (Section 4.2.2) with its D_max: 0.1 for l2,1 and 1 - 0.92 for
    SSIM; f is the FR. With no success at all AAP is D_max. The paper computes it on
    attacks constrained to D <= D_max (configs/table6.yaml), where AAP <= D_max. On an
    unconstrained attack a success can lie beyond D_max: the formula is applied unchanged
    (AAP may then exceed D_max) and :func:`beyond_d_max` counts those successes so that
    reports can flag the value.
    """
    d_max = _d_max(distance)
    wins = [_distance(r, distance) for r in _attacked(records) if r["success"]]
    f = fooling_rate(records)
    if math.isnan(f):
        return math.nan
    if not wins:
        return d_max
    return sum(wins) / len(wins) * f + d_max * (1 - f)


def beyond_d_max(records: Sequence[dict], distance: str, tolerance: float = 1e-6) -> int:
    """How many successes have D above AAP's D_max (0 for attacks constrained as the paper's Table 6)."""
    d_max = _d_max(distance)
    return sum(_distance(r, distance) > d_max + tolerance for r in _attacked(records) if r["success"])


def average_success_perturbation(records: Sequence[dict]) -> float:
    """ASP(SSIM): mean 1 - SSIM of the perturbed frames over successful attacks (Section 4.2.6)."""
    wins = [1 - r["ssim"] for r in _attacked(records) if r["success"]]
    return sum(wins) / len(wins) if wins else math.nan


def confidence_interval(values: Sequence[float], level: float = 0.99) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval over repeated runs (half-width nan for one run)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)


def rate_interval(values: Sequence[float], level: float = 0.99) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t interval over repeats of a rate, clipped to [0, 1] (bounds nan for one run)."""
    mean, half = confidence_interval(values, level)
    if math.isnan(half):
        return mean, math.nan, math.nan
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def wilson_interval(successes: int, trials: int, level: float = 0.99) -> tuple[float, float]:
    """(low, high) of the Wilson score interval of a binomial proportion successes / trials (nan, nan if no trial)."""
    if trials == 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_p(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Two-sided p-value of Fisher's exact test that two rates successes / trials are equal (nan without trials)."""
    if trials_a == 0 or trials_b == 0:
        return math.nan
    table = [[successes_a, trials_a - successes_a], [successes_b, trials_b - successes_b]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided p-value of McNemar's exact test: of the videos two attacks disagree on, ``only_a`` fooled by A alone
    and ``only_b`` by B alone; equal rates make either count Binomial(only_a + only_b, 1/2). 1 when none disagree."""
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_a, only_a + only_b, 0.5, alternative="two-sided").pvalue)


def paired_outcomes(records_a: Sequence[dict], records_b: Sequence[dict]) -> tuple[int, int, int]:
    """(A only, B only, both attacked): successes on the videos (and repeats) that both attacks attacked."""
    def attacked(records):
        return {(r["video_id"], r.get("repeat", 0)): bool(r["success"]) for r in _attacked(records)}

    a, b = attacked(records_a), attacked(records_b)
    common = a.keys() & b.keys()
    return sum(a[k] and not b[k] for k in common), sum(b[k] and not a[k] for k in common), len(common)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values for multiple comparisons (nan stays nan and is not counted)."""
    ranked = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - rank) * p))
        adjusted[i] = running
    return adjusted


def summarize(records: Sequence[dict]) -> dict:
    """FR, ANI, AAP, ASP, mean SSIM and l2,1 of successes, seconds and queries per attacked video, counts."""
    attacked = _attacked(records)
    wins = [r for r in attacked if r["success"]]
    return {
        "videos": len(records),
        "attacked": len(attacked),
        "successes": len(wins),
        "skipped_misclassified": len(records) - len(attacked),
        "fooling_rate": fooling_rate(records),
        "ani": average_iterations(records),
        "ani_with_selection": average_iterations(records, with_selection=True),
        "aap_l21": average_absolute_perturbation(records, "l21"),
        "aap_ssim": average_absolute_perturbation(records, "ssim"),
        "beyond_l21_max": beyond_d_max(records, "l21"),
        "beyond_ssim_max": beyond_d_max(records, "ssim"),
        "asp_ssim": average_success_perturbation(records),
        "ssim": nan_mean([r["ssim"] for r in wins]),
        "l21": nan_mean([r["l21"] for r in wins]),
        "seconds_per_video": nan_mean([r["seconds"] for r in attacked]),
        "queries": average_queries(records),
    }
