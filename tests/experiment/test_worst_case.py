"""The worst case over attacks (experiment/worst_case.py): the per-video join, worked out by hand; the config key.
(On a shipped model, through the runner and the card: tests/robustness/test_robustness_card.py.)"""

import math

import pytest

from deepsava.errors import InvalidConfigError
from deepsava.experiment.config import parse_config
from deepsava.experiment.worst_case import combine, rate


def record(video: str, clean: bool, success: bool, label: int = 0) -> dict:
    return {"video_id": video, "repeat": 0, "label": label, "clean_correct": clean, "success": success and clean}


def test_worst_case_joins_videos_and_counts_a_video_fooled_by_any_attack():
    # v1: fooled by A only; v2: by B only; v3: by both; v4: by neither; v5: misclassified before any attack;
    # v6: stored by A only (the run is still going): pending, counted nowhere.
    a = [record("v1", True, True), record("v2", True, False), record("v3", True, True), record("v4", True, False),
         record("v5", False, False), record("v6", True, True)]
    b = [record("v2", True, True), record("v1", True, False), record("v3", True, True), record("v5", False, False),
         record("v4", True, False)]
    worst = combine([("A", a), ("B", b)])
    assert worst["videos"] == 5 and worst["pending"] == 1
    assert [v["video_id"] for v in worst["per_video"]] == ["v1", "v2", "v3", "v4", "v5"]  # A's stored order
    assert {v["video_id"]: v["fooled_by"] for v in worst["per_video"]} == {
        "v1": ["A"], "v2": ["B"], "v3": ["A", "B"], "v4": [], "v5": []}
    assert worst["clean_accuracy"]["count"] == 4
    assert (worst["fooling_rate"]["count"], worst["fooling_rate"]["n"]) == (3, 4)
    assert (worst["robust_accuracy"]["count"], worst["robust_accuracy"]["n"]) == (1, 5)  # v4 alone
    singles = {x["label"]: x["robust_accuracy"]["count"] for x in worst["attacks"]}
    assert singles == {"A": 2, "B": 2}  # each attack alone leaves two of the four correct videos unfooled
    assert all(worst["robust_accuracy"]["value"] <= x["robust_accuracy"]["value"] for x in worst["attacks"])
    # 95% Wilson of 1/5: centre (0.2 + z²/10) / (1 + z²/5), half-width z / (1 + z²/5) · sqrt(0.16/5 + z²/100)
    z = 1.959964
    centre, half = (0.2 + z * z / 10) / (1 + z * z / 5), z / (1 + z * z / 5) * math.sqrt(0.16 / 5 + z * z / 100)
    assert (worst["robust_accuracy"]["low"], worst["robust_accuracy"]["high"]) == pytest.approx(
        (centre - half, centre + half), abs=1e-6)
    assert math.isnan(rate(0, 0)["value"])


def test_a_video_the_cells_disagree_on_before_the_attack_is_not_counted_correct():
    worst = combine([("A", [record("v1", True, False)]), ("B", [record("v1", False, False)])])
    assert worst["clean_accuracy"]["count"] == 0 and worst["robust_accuracy"]["count"] == 0


def _config(worst_case) -> dict:
    return {"name": "x", "dataset": {"name": "synth-actions", "frames": 8}, "models": {"m": {"checkpoint": "shipped:i3d"}},
            "videos": 2, "cells": [{"attack": {"method": "pgd", "steps": [1, 2]}, "worst_case": worst_case},
                                   {"attack": {"method": "fgsm"}, "worst_case": ["all", "fgsm", "all"]}]}


def test_the_worst_case_key_names_groups_and_refuses_anything_else():
    cells = parse_config(_config("all")).cells
    assert [c.worst_case for c in cells] == [["all"], ["all"], ["all", "fgsm"]]  # a sweep's cells all belong
    for bad in (" ", [], 3, ["ok", ""]):
        with pytest.raises(InvalidConfigError, match=r"^cells\[0\]\.worst_case: must be a group name"):
            parse_config(_config(bad))
