"""Per-cell metrics from the stored per-video records: FR with its intervals over repeats, ANI, AAP, ASP, counts."""

import math
from pathlib import Path

from deepsava.errors import InvalidArgumentError
from deepsava.experiment.store import ResultStore
from deepsava.metrics import confidence_interval, nan_mean, rate_interval, summarize, wilson_interval

METRICS = ("fooling_rate", "ani", "ani_with_selection", "aap_l21", "aap_ssim", "asp_ssim", "ssim", "l21",
           "seconds_per_video", "queries")
COUNTS = ("videos", "attacked", "successes", "skipped_misclassified", "beyond_l21_max", "beyond_ssim_max")


def summarize_repeats(per_repeat: list[list[dict]], level: float = 0.99) -> dict:
    """Metrics of one cell from its records grouped by repeat.

    FR is given per repeat and as their mean with two ``level`` intervals: the
    paper's Student-t interval over repeats (``fr_ci`` its half-width, nan with
    one repeat; ``fr_ci_low``/``fr_ci_high`` its bounds clipped to [0, 1]) and the
    Wilson interval of the pooled successes over the pooled attacked videos
    (``fr_wilson_low``/``fr_wilson_high``). Every other metric is the mean over
    repeats of the per-repeat value (repeats where it is nan, e.g. ANI without a
    success, left out); counts are summed.
    """
    filled = [records for records in per_repeat if records]
    per = [summarize(records) for records in filled]
    fr = [s["fooling_rate"] for s in per if not math.isnan(s["fooling_rate"])]
    fr_mean, fr_ci = confidence_interval(fr, level) if fr else (math.nan, math.nan)
    _, low, high = rate_interval(fr, level) if fr else (math.nan, math.nan, math.nan)
    out = {name: nan_mean([s[name] for s in per]) for name in METRICS}
    out.update({name: sum(s[name] for s in per) for name in COUNTS})
    out.update(fooling_rate=fr_mean, fr_ci=fr_ci, fr_ci_low=low, fr_ci_high=high, fr_per_repeat=fr,
               repeats=len(filled))
    out["fr_wilson_low"], out["fr_wilson_high"] = wilson_interval(out["successes"], out["attacked"], level)
    return out


def planned_records(store: ResultStore, cell_key: str, dataset, orders: list[list[int]]) -> list[list[dict]]:
    """A cell's stored records per repeat, only of the videos each repeat's order selects (``orders[r]``)."""
    per_repeat = []
    for r, order in enumerate(orders):
        wanted = {dataset.video_ids[i] for i in order}
        per_repeat.append([rec for rec in store.records(cell_key, r) if rec["video_id"] in wanted])
    return per_repeat


def summarize_cells(store: ResultStore, cells: list, dataset, orders: list[list[int]]) -> list[dict]:
    """Per-cell metrics over the videos each repeat selected (see :func:`summarize_repeats`)."""
    rows = []
    for cell in cells:
        per_repeat = planned_records(store, cell.key, dataset, orders)
        expected = sum(len(o) for o in orders)
        rows.append({"cell_key": cell.key, "label": cell.spec.label, "model": cell.spec.model,
                     "method": cell.spec.method, "attack": cell.spec.attack, "swept": cell.spec.swept,
                     "expected": expected, **summarize_repeats(per_repeat)})
    return rows


_NUMBERS = ("iterations", "ssim", "l21", "seconds")


def _check_stored(path, key: str, config, records: list) -> None:
    """Raise InvalidArgumentError unless a stored cell has a config object and records the metrics can read."""
    attack = config.get("attack", {}) if isinstance(config, dict) else None
    if not (isinstance(attack, dict) and isinstance(attack.get("spec", {}), dict)):
        raise InvalidArgumentError(f"{path}: cell {key} has no configuration object: not a deepsava result store")
    for record in records:
        if not (isinstance(record, dict) and isinstance(record.get("video_id"), str)
                and all(isinstance(record.get(k), bool) for k in ("clean_correct", "success"))
                and all(isinstance(record.get(k), (int, float)) for k in _NUMBERS)):
            raise InvalidArgumentError(f"{path}: a record of cell {key} is not an attack result (it needs video_id,"
                                       f" clean_correct, success, {', '.join(_NUMBERS)}): {str(record)[:80]}")


def summarize_store(path: str | Path) -> list[dict]:
    """Per-cell metrics of every cell in a result store (all stored videos), e.g. for reports.

    Raises InvalidArgumentError when a stored cell or record is not what deepsava writes.
    """
    with ResultStore(path) as store:
        rows = []
        for key, info in store.cells().items():
            records = store.records(key)
            _check_stored(path, key, info["config"], records)
            if not records:
                continue
            repeats = sorted({rec.get("repeat", 0) for rec in records})
            per_repeat = [[rec for rec in records if rec.get("repeat", 0) == r] for r in repeats]
            attack = info["config"].get("attack", {}).get("spec", {})
            rows.append({"cell_key": key, "label": info["label"], "model": records[0].get("model"),
                         "method": attack.get("method"), "attack": attack, "config": info["config"],
                         **summarize_repeats(per_repeat)})
        return rows


def jsonable(value):
    """``value`` with NaN as None (JSON has no NaN), through dicts, lists and tuples."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
