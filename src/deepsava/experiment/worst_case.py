"""The worst case over attacks: per video, was it fooled by any attack of a group? Robust accuracy, 95% Wilson.

A cell template names the groups its cells count towards (``worst_case: NAME`` or a list, see
:mod:`deepsava.experiment.config`). Every cell of a run attacks the same videos, repeat by repeat, so a
group's per-video records join on (video, repeat); a group is taken per model. For each video stored by
every cell of the group:

- clean-correct: every cell's record says the clean video was classified correctly (one model: they agree);
- fooled: clean-correct, and at least one cell's attack succeeded;
- robust: clean-correct and fooled by none.

Robust accuracy is robust / videos, the worst-case fooling rate fooled / clean-correct, clean accuracy
clean-correct / videos, each with its 95% Wilson interval over the videos pooled over repeats. Each member
attack's own robust accuracy over the same videos is given beside it, so the worst case is never above any
of them. Videos stored by some cells of the group but not all (a run in progress) are left out and counted
as ``pending``. The per-video records of each attack stay in the store; nothing here is stored.
"""

import math
from collections.abc import Callable

from deepsava.metrics import wilson_interval

LEVEL = 0.95  # the level of every interval here
META_KEY = "worst_case"  # the store's meta entry holding the groups (JSON), written by the runner


def rate(count: int, total: int) -> dict:
    """``{"value": count / total, "low", "high" (95% Wilson), "count", "n"}``; value and bounds nan when total is 0."""
    low, high = wilson_interval(count, total, LEVEL)
    return {"value": count / total if total else math.nan, "low": low, "high": high, "count": count, "n": total}


def groups_of(cells) -> list[dict]:
    """The worst-case groups of a run's prepared cells (``.key``, ``.spec.model``, ``.spec.worst_case``), per model.

    -> ``[{"name": ..., "model": ..., "cells": [cell keys]}]`` in the order the groups first appear.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for cell in cells:
        for name in cell.spec.worst_case:
            groups.setdefault((name, cell.spec.model), []).append(cell.key)
    return [{"name": name, "model": model, "cells": keys} for (name, model), keys in groups.items()]


def combine(members: list[tuple[str, list[dict]]]) -> dict:
    """The worst case of ``members`` (cell label, its per-video records) over the videos every member holds.

    -> videos, pending, clean_accuracy, fooling_rate (fooled by any / clean-correct), robust_accuracy (each a
    :func:`rate`), attacks (per member: label, fooled, robust_accuracy over the same videos) and per_video
    (video_id, repeat, label, clean_correct, fooled_by: the labels of the members that fooled it).
    """
    keyed = [{(r["video_id"], r.get("repeat", 0)): r for r in records} for _, records in members]
    held = [set(k) for k in keyed]
    common = set.intersection(*held) if held else set()
    per_video, fooled_counts = [], [0] * len(members)
    for key in (k for k in keyed[0] if k in common) if keyed else []:  # the first member's (stored) order
        records = [k[key] for k in keyed]
        clean = all(r["clean_correct"] for r in records)
        fooled = [j for j, r in enumerate(records) if clean and r["success"]]
        for j in fooled:
            fooled_counts[j] += 1
        per_video.append({"video_id": key[0], "repeat": key[1], "label": records[0]["label"], "clean_correct": clean,
                          "fooled_by": [members[j][0] for j in fooled]})
    n = len(per_video)
    correct = sum(v["clean_correct"] for v in per_video)
    fooled = sum(bool(v["fooled_by"]) for v in per_video)
    return {
        "videos": n, "pending": len(set().union(*held) - common) if held else 0,
        "clean_accuracy": rate(correct, n), "fooling_rate": rate(fooled, correct),
        "robust_accuracy": rate(correct - fooled, n),
        "attacks": [{"label": label, "fooled": count, "robust_accuracy": rate(correct - count, n)}
                    for (label, _), count in zip(members, fooled_counts)],
        "per_video": per_video,
    }


def summarize_worst_cases(groups: list[dict], records_of: Callable[[str], list[dict]],
                          labels: dict[str, str]) -> list[dict]:
    """Each group's :func:`combine` with its name, model and cell keys; ``records_of(cell key)``, ``labels``: key -> label."""
    return [{"name": g["name"], "model": g["model"], "cells": g["cells"],
             **combine([(labels.get(key, key), records_of(key)) for key in g["cells"]])} for g in groups]
