import math
from types import SimpleNamespace

import pytest

from deepsava.metrics import fisher_p, holm
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


def cell(model, label, spec, successes, attacked):
    stats = {"successes": successes, "attacked": attacked, "videos": attacked, "fooling_rate": successes / attacked}
    return CellView(key=f"{model}-{label}", label=label, base=label, model=model, method=spec["method"],
                    params=spec, stats=stats, spec=spec)


def test_the_comparisons_pair_cells_differing_in_one_setting_and_one_attack_on_two_models():
    cells = [cell("i3d", "first", {"method": "deepsava", "selector": "first"}, 1, 20),
             cell("i3d", "bo", {"method": "deepsava", "selector": "bo"}, 18, 20),
             cell("defended", "first", {"method": "deepsava", "selector": "first"}, 2, 20)]
    (table,) = comparisons_table(SimpleNamespace(cells=cells))
    rows = {(r[0], r[1]): r for r in table.rows}
    first_bo = rows[("i3d · first", "i3d · bo")]
    assert first_bo[2] == "selector" and first_bo[5] == "+85.0"
    assert float(first_bo[6]) == pytest.approx(hypergeometric_two_sided(1, 20, 18, 20), rel=1e-2)
    assert rows[("i3d · first", "defended · first")][2] == "model"
    assert len(table.rows) == 2
    assert (0, 7) in table.bold and (1, 7) not in table.bold  # 1/20 vs 18/20 is no noise; 1/20 vs 2/20 is
