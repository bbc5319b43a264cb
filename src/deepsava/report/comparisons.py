"""Which differences in fooling rate between cells are more than noise? Fisher's exact test per pair.

The pairs compared are the paper's kind of comparison: two cells of one model that differ in one
setting (the selector, the mode, the number of frames, the method, a budget, ...), and one attack
(the same cell label) on two models of one architecture (e.g. two defences of Inception-v3). A model with at most ``ALL_PAIRS`` cells
gets every pair. Each row gives both FRs with their successes over attacked videos (pooled over
repeats), the difference, the two-sided p-value of Fisher's exact test and Holm's adjustment over
all the rows of the table, and the paired view: on the videos both cells attacked (cells of one run
attack the same sample), how many each fooled alone and McNemar's exact p on those.
"""

import itertools
import json

from deepsava.metrics import fisher_p, holm, mcnemar_p, paired_outcomes
from deepsava.report.elements import Table
from deepsava.report.run import CellView, Run
from deepsava.report.text import number, points, share

ALL_PAIRS = 4  # a model with this many cells or fewer: compare every pair
ALPHA = 0.05


def _differing(a: CellView, b: CellView) -> list[str]:
    keys = sorted(set(a.spec) | set(b.spec))
    return [k for k in keys if json.dumps(a.spec.get(k)) != json.dumps(b.spec.get(k))]


def comparison_pairs(run: Run) -> list[tuple[CellView, CellView, str]]:
    """(a, b, what differs) for the pairs compared, in the run's order."""
    cells = [c for c in run.cells if c.stats and c.stats["attacked"]]
    pairs = []
    for model in dict.fromkeys(c.model for c in cells):
        mine = [c for c in cells if c.model == model]
        for a, b in itertools.combinations(mine, 2):
            differing = _differing(a, b)
            # Another method may bring one more setting of its own (e.g. DeepSAVA's selector): still one comparison.
            if len(mine) <= ALL_PAIRS or len(differing) == 1 or (len(differing) == 2 and "method" in differing):
                pairs.append((a, b, ", ".join(differing)))
    for label in dict.fromkeys(c.label for c in cells):
        same = [c for c in cells if c.label == label]
        for a, b in itertools.combinations(same, 2):
            if a.model != b.model and _architecture(a) == _architecture(b):
                pairs.append((a, b, "model"))
    return pairs


def _architecture(cell: CellView) -> str | None:
    """What the model is, apart from its weights: ``i3d``, ``torchvision:r3d_18`` (None when unknown)."""
    return cell.identity.get("model") or cell.identity.get("spec")


def comparisons_table(run: Run) -> list[Table]:
    """FR of each compared pair, the difference, Fisher's exact p and Holm's adjusted p (none with < 2 cells)."""
    pairs = comparison_pairs(run)
    if not pairs:
        return []
    p_values = [fisher_p(a.stats["successes"], a.stats["attacked"], b.stats["successes"], b.stats["attacked"])
                for a, b, _ in pairs]
    adjusted = holm(p_values)
    table = Table("comparisons", "Comparisons: is a difference in FR more than noise?",
                  ["cell A", "cell B", "differs in", "FR A", "FR B", "B − A (points)", "p (Fisher)", "p (Holm)",
                   "paired: A only / B only (of n)", "p (McNemar)"],
                  text_columns=3,
                  caption="FR with successes/attacked videos pooled over repeats; p: two-sided Fisher exact test of"
                          " equal rates; Holm: adjusted over every row of this table. Bold: Holm-adjusted p < 0.05."
                          " Paired: on the n videos both cells attacked, those fooled by A alone and by B alone, and"
                          " McNemar's exact two-sided p on them (the stronger test when the cells share videos)."
                          " Pairs: two cells of one model differing in one setting (every pair when a model has"
                          f" at most {ALL_PAIRS} cells), and one attack on two models of one architecture.")
    records = getattr(run, "records", {})
    for row, ((a, b, what), p, q) in enumerate(zip(pairs, p_values, adjusted)):
        fr_a, fr_b = a.stats["fooling_rate"], b.stats["fooling_rate"]
        only_a, only_b, common = paired_outcomes(records.get(a.key, []), records.get(b.key, []))
        table.rows.append([f"{a.model} · {a.label}", f"{b.model} · {b.label}", what,
                           share(fr_a, a.stats["successes"], a.stats["attacked"]),
                           share(fr_b, b.stats["successes"], b.stats["attacked"]), points(fr_b - fr_a),
                           number(p, "{:.3g}"), number(q, "{:.3g}"),
                           f"{only_a} / {only_b} (of {common})" if common else "–",
                           number(mcnemar_p(only_a, only_b), "{:.3g}") if common else "–"])
        if q < ALPHA:
            table.bold.update({(row, 5), (row, 7)})
    return [table]
