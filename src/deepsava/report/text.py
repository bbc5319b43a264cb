"""How is a number written in a report? NaN and None as "–", percentages, FR ± its interval, Wilson bounds, k/n,
a rate with its interval."""

import math

MISSING = "–"  # what a table shows for a value that does not exist (no success, one repeat, ...)


def is_missing(value) -> bool:
    """None or NaN: a value a table shows as :data:`MISSING`."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value, pattern: str = "{:.3f}") -> str:
    """``value`` formatted by ``pattern``, or "–" when missing."""
    return MISSING if is_missing(value) else pattern.format(value)


def percent(value) -> str:
    """A rate in [0, 1] as "52.9%" ("–" when missing)."""
    return number(value, "{:.1%}")


def points(value) -> str:
    """A difference of rates as signed percentage points, "+4.2" ("–" when missing)."""
    return MISSING if is_missing(value) else f"{100 * value:+.1f}"


def share(rate, k: int, n: int) -> str:
    """A rate with the counts behind it: "52.9% (9/17)" ("–" when nothing counts)."""
    return f"{percent(rate)} ({k}/{n})" if n else MISSING


def fr_text(stats: dict | None) -> str:
    """FR as the paper writes it, "56.2% ± 1.7%" (99% Student-t interval over repeats, when there are several).

    Where mean ± half-width would leave [0, 100%] the clipped bounds are written instead: "4.2% (0.0–45.6%)".
    """
    if not stats:
        return MISSING
    fr, half = stats["fooling_rate"], stats.get("fr_ci")
    if is_missing(fr) or is_missing(half):
        return percent(fr)
    if fr - half < 0 or fr + half > 1:
        return percent(fr) + f" ({100 * stats['fr_ci_low']:.1f}–{100 * stats['fr_ci_high']:.1f}%)"
    return percent(fr) + f" ± {100 * half:.1f}%"


def wilson_text(stats: dict | None, counts: bool = True) -> str:
    """The 99% Wilson interval of the pooled successes / attacked videos: "41.2–80.1% (15/24)" (``counts``: the bracket)."""
    if not stats or is_missing(stats.get("fr_wilson_low")):
        return MISSING
    return (f"{100 * stats['fr_wilson_low']:.1f}–{100 * stats['fr_wilson_high']:.1f}%"
            + (f" ({stats['successes']}/{stats['attacked']})" if counts else ""))


def fr_both(stats: dict | None) -> str:
    """FR with both intervals in one cell, for tables with a cell per column: "49.2% ± 30.1% · W 20.4–78.0%"."""
    wilson = wilson_text(stats, counts=False)
    return fr_text(stats) + ("" if wilson == MISSING else " · W " + wilson)


def rate_text(rate: dict | None, counts: bool = True) -> str:
    """A rate with its interval: "62.5% (47.1–75.8%, 25/40)" (``counts``: the k/n); "–" when nothing counts."""
    if not rate or is_missing(rate.get("value")):
        return MISSING
    return (f"{percent(rate['value'])} ({100 * rate['low']:.1f}–{100 * rate['high']:.1f}%"
            + (f", {rate['count']}/{rate['n']})" if counts else ")"))
