import math
from types import SimpleNamespace

import pytest

from deepsava.metrics import fisher_p, holm, mcnemar_p, paired_outcomes
from deepsava.report.comparisons import comparisons_table
from deepsava.report.run import CellView


def hypergeometric_two_sided(a: int, n_a: int, b: int, n_b: int) -> float:
    """Fisher's two-sided p from its definition: the tables with the same margins no likelier than the observed."""
    total, wins = n_a + n_b, a + b

    def probability(x):
        return math.comb(n_a, x) * math.comb(n_b, wins - x) / math.comb(total, wins)

    observed = probability(a)
    support = range(max(0, wins - n_b), min(wins, n_a) + 1)
    return sum(probability(x) for x in support if probability(x) <= observed * (1 + 1e-7))


@pytest.mark.parametrize("counts", [(8, 10, 1, 10), (3, 12, 4, 11), (0, 5, 5, 5), (47, 100, 99, 100)])
def test_fisher_p_is_the_exact_two_sided_test(counts):
    assert fisher_p(*counts) == pytest.approx(hypergeometric_two_sided(*counts), rel=1e-9)
    assert math.isnan(fisher_p(1, 0, 1, 3))


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.5, math.nan, 0.001])
    assert adjusted[0] == pytest.approx(0.5) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.002)


@pytest.mark.parametrize("only_a,only_b", [(0, 9), (3, 4), (10, 2), (0, 0), (25, 25)])
def test_mcnemar_p_is_the_exact_binomial_test_on_the_discordant_videos(only_a, only_b):
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n if n else 0.5
    assert mcnemar_p(only_a, only_b) == pytest.approx(min(1.0, 2 * tail), rel=1e-9)


def test_paired_outcomes_count_only_videos_both_cells_attacked():
    def record(video, success, correct=True, repeat=0):
        return {"video_id": video, "repeat": repeat, "clean_correct": correct, "success": success}

    a = [record("v1", True), record("v2", True), record("v3", False), record("v4", True, correct=False),
         record("v1", False, repeat=1)]
    b = [record("v1", False), record("v2", True), record("v3", True), record("v4", False), record("v5", True)]
    assert paired_outcomes(a, b) == (1, 1, 3)  # v1 by A alone, v3 by B alone; v4 unattacked in A, v5 and repeat 1 unshared


def cell(model, label, spec, successes, attacked, architecture="i3d"):
    stats = {"successes": successes, "attacked": attacked, "videos": attacked, "fooling_rate": successes / attacked}
    return CellView(key=f"{model}-{label}", label=label, base=label, model=model, method=spec["method"],
                    params=spec, stats=stats, spec=spec, identity={"model": architecture})


def test_the_comparisons_pair_cells_differing_in_one_setting_and_one_attack_on_two_models_of_one_architecture():
    cells = [cell("i3d", "first", {"method": "deepsava", "selector": "first"}, 1, 20),
             cell("i3d", "bo", {"method": "deepsava", "selector": "bo"}, 18, 20),
             cell("defended", "first", {"method": "deepsava", "selector": "first"}, 2, 20),
             cell("inception-v3", "first", {"method": "deepsava", "selector": "first"}, 9, 20, "inception-v3")]
    (table,) = comparisons_table(SimpleNamespace(cells=cells))
    rows = {(r[0], r[1]): r for r in table.rows}
    first_bo = rows[("i3d · first", "i3d · bo")]
    assert first_bo[2] == "selector" and first_bo[5] == "+85.0"
    assert float(first_bo[6]) == pytest.approx(hypergeometric_two_sided(1, 20, 18, 20), rel=1e-2)
    assert rows[("i3d · first", "defended · first")][2] == "model"
    assert len(table.rows) == 2
    assert (0, 7) in table.bold and (1, 7) not in table.bold  # 1/20 vs 18/20 is no noise; 1/20 vs 2/20 is
    assert first_bo[8] == "–" and first_bo[9] == "–"  # no records: no paired view


def test_the_comparisons_add_the_paired_view_of_cells_that_attacked_the_same_videos():
    def records(successes):
        return [{"video_id": f"v{i}", "repeat": 0, "clean_correct": True, "success": s} for i, s in enumerate(successes)]

    first = cell("i3d", "first", {"method": "deepsava", "selector": "first"}, 2, 10)
    bo = cell("i3d", "bo", {"method": "deepsava", "selector": "bo"}, 9, 10)
    stored = {first.key: records([True, True] + [False] * 8), bo.key: records([False] + [True] * 9)}
    (table,) = comparisons_table(SimpleNamespace(cells=[first, bo], records=stored))
    (row,) = table.rows
    assert row[8] == "1 / 8 (of 10)" and float(row[9]) == pytest.approx(mcnemar_p(1, 8), rel=1e-2)


def test_fr_against_budget_counts_a_video_from_the_smallest_budget_that_fooled_it():
    from deepsava.report.plots import fooled_within_budget

    def record(video, success, correct=True):
        return {"video_id": video, "repeat": 0, "clean_correct": correct, "success": success}

    budgets = {0.99: [record("a", False), record("b", True), record("c", False), record("d", False, correct=False)],
               0.95: [record("a", True), record("b", False), record("c", False), record("d", False, correct=False)],
               0.90: [record("a", True), record("b", True), record("c", False), record("d", True, correct=False)]}
    cells = [cell("i3d", f"ssim {b}", {"method": "deepsava", "ssim_budget": b}, 1, 3) for b in budgets]
    records = {c.key: budgets[c.params["ssim_budget"]] for c in cells}
    xs, ys, n = fooled_within_budget(cells, records, "ssim_budget")
    assert xs == pytest.approx([0.01, 0.05, 0.10]) and n == 3
    # b is fooled from 0.99 on (its failure at 0.95 does not count against it); a from 0.95; c never; d not attacked.
    assert ys == pytest.approx([1 / 3, 2 / 3, 2 / 3])


@pytest.mark.usefixtures("one_thread")
def test_a_budget_sweep_gets_its_curve_and_the_cells_their_tests_in_the_report(make_run, tmp_path):
    from deepsava.report.write import write_report

    folder, _ = make_run("budget-sweep", 4, [
        {"label": "DeepSAVA", "attack": {"method": "deepsava", "frames": 1, "selector": "first", "steps": 6,
                                         "lr": 0.1, "ssim_budget": [0.999, 0.9]}},
    ], videos=4, batch_size=4, examples=0)
    outcome = write_report(folder, tmp_path / "report", videos=0)
    assert "Fooling rate against the perturbation budget" in outcome.plots
    assert "Comparisons: is a difference in FR more than noise?" in outcome.tables
    assert (tmp_path / "report" / "figures" / "fr-budget.png").is_file()
