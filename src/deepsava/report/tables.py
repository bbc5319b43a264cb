"""Which tables do a run's cells give? The per-cell table and the paper's Tables 3, 5, 6, 7 and 9, Figure 6's data.

A table appears only when the cells allow it: Table 3 over unconstrained cells that are
not part of a sweep, Table 6 over cells constrained as the paper computes AAP
(l2,1 ≤ 0.1 and SSIM ≥ 0.92), Table 5 over other fixed budgets, Table 7 when
perturbation modes vary, Table 9 and Figure 6's data when λ or the number of frames is
swept.
"""

import json
import math

from deepsava.metrics import AAP_L21_MAX, AAP_SSIM_MAX
from deepsava.report.elements import Table
from deepsava.report.run import CellView, Run
from deepsava.report.text import fr_both, fr_text, is_missing, number, wilson_text


def stat(cell: CellView, name: str):
    """A cell's summary value ``name`` (NaN before any result)."""
    return cell.stats[name] if cell.stats else math.nan


def aap_text(cell: CellView, distance: str) -> str:
    """AAP(l2,1) or AAP(SSIM), marked † when a success lies beyond D_max (then AAP is not bounded by D_max)."""
    beyond = cell.stats.get(f"beyond_{distance}_max", 0) if cell.stats else 0
    return number(stat(cell, f"aap_{distance}")) + ("†" if beyond else "")


FR_CAPTION = ("FR: successful attacks over videos classified correctly before the attack; ± the half-width of the"
              " 99% Student-t interval over repeats (the paper's form; where it would leave [0, 100%] its clipped"
              " bounds are written instead); Wilson: the 99% Wilson interval of the successes over the attacked"
              " videos pooled over repeats (successes/attacked).")
AAP_CAPTION = (" AAP: the paper's average absolute perturbation, mean D over successes × FR + D_max × (1 − FR),"
               " D_max = 0.1 (l2,1) and 1 − 0.92 (SSIM); it is defined for attacks constrained to D ≤ D_max"
               " (configs/table6.yaml); † marks a cell with successes beyond D_max, where the formula is applied"
               " unchanged and can exceed D_max.")


def cell_table(run: Run) -> Table:
    """Every cell's metrics, counts and whether it holds all the results its configuration planned.

    A run with a black-box cell gets a column "queries": the mean model queries per attacked video.
    """
    queries = any(not is_missing(c.stats.get("queries")) for c in run.cells if c.stats)
    table = Table("cells", "Results per cell",
                  ["model", "cell", "FR", "Wilson 99%", "ANI", "ANI + selection", *(["queries"] if queries else []),
                   "AAP(l2,1)", "AAP(SSIM)", "ASP(SSIM)", "SSIM", "l2,1", "s/attacked video", "n", "status"])
    for c in run.cells:
        n = f"{c.stats['attacked']}/{c.stats['videos']}" if c.stats else "0"
        spent = [number(c.stats.get("queries") if c.stats else None, "{:.0f}")] if queries else []
        table.rows.append([c.model, c.label, fr_text(c.stats), wilson_text(c.stats), number(stat(c, "ani"), "{:.1f}"),
                           number(stat(c, "ani_with_selection"), "{:.1f}"), *spent, aap_text(c, "l21"),
                           aap_text(c, "ssim"), number(stat(c, "asp_ssim"), "{:.4f}"),
                           number(stat(c, "ssim"), "{:.4f}"), number(stat(c, "l21")),
                           number(stat(c, "seconds_per_video"), "{:.2f}"), n, c.status()])
    repeats = max((c.stats["repeats"] for c in run.cells if c.stats), default=1)
    table.caption = (FR_CAPTION + (f" {repeats} repeats." if repeats > 1 else "")
                     + " ANI: mean iterations of the successes (the final attack, as the paper counts it); ANI +"
                       " selection: plus the gradient steps the frame selection spent per video (BO's and brute"
                       " force's probes), the whole cost."
                     + (" queries: mean model queries per attacked video (black-box cells; a video's queries count"
                        " its clean forward and its frame selection's probes; a success stops its video)."
                        if queries else "") + AAP_CAPTION
                     + " ASP, SSIM, l2,1: means over successes (ASP = 1 − SSIM of the perturbed frames)."
                       " s/attacked video: a batch's wall time (clean forward, frame selection, generation) over"
                       " its attacked videos. n: attacked (correct before) / stored videos.")
    return table


def _signature(cell: CellView, drop: tuple = ()) -> tuple:
    return tuple(sorted((k, json.dumps(v)) for k, v in cell.params.items() if k not in drop))


def sweep_lines(cells: list[CellView], axis: str) -> list[tuple[str, str, list[CellView]]]:
    """Cells that differ only in ``axis`` within the same model and method: [(model, line label, cells by axis)]."""
    groups: dict[tuple, list[CellView]] = {}
    for c in cells:
        if c.params.get(axis) is None or isinstance(c.params.get(axis), str) or not c.stats:
            continue
        groups.setdefault((c.model, c.base, _signature(c, (axis,))), []).append(c)
    lines = []
    for (model, base, sig), members in groups.items():
        values = {m.params[axis] for m in members}
        if len(values) < 2 or len(values) != len(members):
            continue
        lines.append((model, base, sig, sorted(members, key=lambda m: m.params[axis])))
    out = []
    for model, base, sig, members in lines:
        same = [s for m2, b2, s, _ in lines if (m2, b2) == (model, base)]
        label = base
        if len(same) > 1:  # several lines of one method and model: name what tells them apart
            differing = sorted({k for s in same for k, v in s if any(dict(o).get(k) != v for o in same)})
            params = dict(sig)
            label += " (" + ", ".join(f"{k}={json.loads(params[k])}" for k in differing if k in params) + ")"
        out.append((model, label, members))
    return out


def _budgets(c: CellView) -> tuple:
    return c.params.get("l21_budget"), c.params.get("ssim_budget")


def aap_constrained(c: CellView) -> bool:
    """Constrained as the paper's Table 6 computes AAP: l2,1 ≤ 0.1 and SSIM ≥ 0.92 together."""
    l21, ssim = _budgets(c)
    return l21 is not None and ssim is not None and math.isclose(l21, AAP_L21_MAX) \
        and math.isclose(1 - ssim, AAP_SSIM_MAX)


def _single(cells: list[CellView]) -> list[CellView]:
    """The cells alone in their (model, base label) group, i.e. not part of a sweep, with results."""
    groups: dict[tuple, list[CellView]] = {}
    for c in cells:
        groups.setdefault((c.model, c.base), []).append(c)
    single = [members[0] for members in groups.values() if len(members) == 1 and members[0].stats]
    order = list(dict.fromkeys(c.model for c in cells))
    return sorted(single, key=lambda c: order.index(c.model))


def _bold_best_fr(table: Table, cells: list[CellView], column: int) -> None:
    """Bold the highest FR of each model (none when all of a model's are equal)."""
    for model in {c.model for c in cells}:
        rows = [i for i, c in enumerate(cells) if c.model == model and not is_missing(c.stats["fooling_rate"])]
        if len({cells[i].stats["fooling_rate"] for i in rows}) > 1:
            best = max(cells[i].stats["fooling_rate"] for i in rows)
            table.bold.update((i, column) for i in rows if cells[i].stats["fooling_rate"] == best)


def table3(run: Run, exclude: set = frozenset()) -> list[Table]:
    """Table 3 (FR with its intervals, ANI) over the unconstrained cells not part of a sweep (nor in ``exclude``)."""
    single = _single([c for c in run.cells if c.key not in exclude and _budgets(c) == (None, None)])
    if len(single) < 2:
        return []
    table = Table("table3", "Table 3: comparison of methods per model (FR ± 99% CI over repeats, ANI)",
                  ["model", "attack method", "FR", "Wilson 99%", "ANI", "ANI + selection", "n"],
                  caption="As the paper's Table 3; the best FR of each model in bold; '–': no successful attack."
                          " ANI + selection: ANI plus the selection's probe steps per video. " + FR_CAPTION)
    for c in single:
        table.rows.append([c.model, c.base, fr_text(c.stats), wilson_text(c.stats), number(c.stats["ani"], "{:.1f}"),
                           number(c.stats.get("ani_with_selection"), "{:.1f}"),
                           f"{c.stats['attacked']}/{c.stats['videos']}"])
    _bold_best_fr(table, single, 2)
    return [table]


def table6(run: Run) -> list[Table]:
    """Table 6 (FR, ANI, AAP) over the cells constrained as the paper computes AAP (l2,1 ≤ 0.1 and SSIM ≥ 0.92)."""
    single = _single([c for c in run.cells if aap_constrained(c)])
    if not single:
        return []
    table = Table("table6", "Table 6: fooling rate, iterations and average absolute perturbation"
                            " (l2,1 ≤ 0.1 and SSIM ≥ 0.92)",
                  ["model", "attack method", "FR", "Wilson 99%", "ANI", "AAP(l2,1)", "AAP(SSIM)", "n"],
                  caption="As the paper's Table 6: every evaluated video is scaled back onto both budgets, so"
                          " D ≤ D_max and AAP ≤ D_max; lower AAP is less perturbation; the best FR of each model"
                          " in bold. " + FR_CAPTION + AAP_CAPTION)
    for c in single:
        table.rows.append([c.model, c.base, fr_text(c.stats), wilson_text(c.stats), number(c.stats["ani"], "{:.1f}"),
                           aap_text(c, "l21"), aap_text(c, "ssim"), f"{c.stats['attacked']}/{c.stats['videos']}"])
    _bold_best_fr(table, single, 2)
    return [table]


def _explicit_name(cells: list[CellView], axes: tuple):
    """A row namer: the base label plus the explicit parameters (other than ``axes``) that differ within that base."""
    differing: dict[str, list[str]] = {}
    for base in {c.base for c in cells}:
        specs = [{k: v for k, v in c.spec.items() if k not in axes and k != "method"} for c in cells if c.base == base]
        keys = sorted({k for s in specs for k in s})
        differing[base] = [k for k in keys if len({json.dumps(s.get(k)) for s in specs}) > 1]

    def name(c: CellView) -> str:
        keys = differing.get(c.base, [])
        return c.base + (" (" + ", ".join(f"{k}={c.spec.get(k)}" for k in keys) + ")" if keys else "")

    return name


def table7(run: Run) -> list[Table]:
    """Table 7: D, S, D+S (and D+S with BO) × model and number of frames ("Mask N"), when modes vary."""
    cells = [c for c in run.cells if c.params.get("mode") and c.stats]
    if len({c.params["mode"] for c in cells}) < 2:
        return []
    names = {"additive": "D", "spatial": "S", "combined": "D+S"}
    models = list(dict.fromkeys(c.model for c in cells))
    columns = [(m, f) for m in models for f in sorted({c.params.get("frames") for c in cells if c.model == m},
                                                       key=lambda v: (isinstance(v, str), v))]
    for row_name in (lambda c: c.base, _explicit_name(cells, ("frames", "mode", "selector")), lambda c: c.label):
        rows: dict[tuple, dict] = {}
        clash = False
        for c in cells:
            row = (c.params.get("selector") != "first", c.params.get("selector"), row_name(c), c.params["mode"])
            entry = rows.setdefault(row, {})
            clash |= (c.model, c.params.get("frames")) in entry
            entry[(c.model, c.params.get("frames"))] = c
        if not clash:
            break
    else:
        return []
    table = Table("table7", "Table 7: perturbation mode (D noise, S spatial, D+S both) × frames attacked",
                  ["approach", "mode", "frames chosen by"] + [f"Mask{f}" for _, f in columns],
                  groups=[("", 3)] + [(m, sum(1 for mm, _ in columns if mm == m)) for m in models], text_columns=3,
                  caption="As the paper's Table 7: FR; Mask N: N frames perturbed; 'first N': the first frames,"
                          " otherwise the named selector (bo: Bayesian optimisation). W: Wilson interval. "
                          + FR_CAPTION)
    for (_, selector, name, mode), entry in sorted(rows.items(), key=lambda kv: kv[0][0]):
        chosen = "first N" if selector == "first" else str(selector)
        table.rows.append([name, names.get(mode, mode), chosen] + [fr_both(entry[k].stats) if k in entry else ""
                                                                   for k in columns])
    return [table]


def table9(run: Run) -> list[Table]:
    """Table 9: FR and ASP(SSIM) of the cells that differ only in the SSIM weight λ."""
    lines = sweep_lines(run.cells, "lam")
    if not lines:
        return []
    table = Table("table9", "Table 9: the SSIM weight λ (FR, ASP(SSIM))",
                  ["model", "attack method", "λ", "FR", "Wilson 99%", "ASP(SSIM)", "n"],
                  caption="As the paper's Table 9: ASP(SSIM) is the mean 1 − SSIM of the perturbed frames over"
                          " successful attacks (lower: less visible). " + FR_CAPTION)
    for model, label, members in lines:
        for c in members:
            table.rows.append([model, label, str(float(c.params["lam"])), fr_text(c.stats), wilson_text(c.stats),
                               number(c.stats["asp_ssim"], "{:.4f}"), f"{c.stats['attacked']}/{c.stats['videos']}"])
    return [table]


def _constraint(c: CellView) -> tuple | None:
    """(sort key, text) of a cell's budgets, or None without one."""
    l21, ssim = _budgets(c)
    if l21 is not None and ssim is not None:
        return (2, l21, -ssim), f"l2,1 ≤ {l21:g} and SSIM ≥ {ssim:g}"
    if l21 is not None:
        return (0, l21, 0), f"l2,1 ≤ {l21:g}"
    if ssim is not None:
        return (1, -ssim, 0), f"SSIM ≥ {ssim:g}"
    return None


def table5(run: Run) -> list[Table]:
    """Table 5 / B.14-B.16: FR and seconds per attacked video under fixed l2,1 or SSIM budgets, per model.

    Cells constrained as AAP's Table 6 (both budgets at D_max) are that table's, not this one's.
    """
    cells = [c for c in run.cells if _constraint(c) and c.stats and not aap_constrained(c)]
    if not cells:
        return []
    for name in (lambda c: c.base, lambda c: c.label):
        entries, clash = {}, False
        for c in cells:
            k = (c.model, _constraint(c), name(c))
            clash |= k in entries
            entries[k] = c
        if not clash:
            break
    else:
        return []
    methods = list(dict.fromkeys(k[2] for k in entries))
    columns = ["model", "constraint"] + ["FR", "Wilson 99%", "s/attacked video"] * len(methods)
    table = Table("table5", "Table 5: fixed l2,1 and SSIM budgets (FR and time)", columns,
                  groups=[("", 2)] + [(m, 3) for m in methods],
                  caption="As the paper's Table 5 and B.14–B.16: every evaluated video is scaled back onto the"
                          " budget; time is a batch's wall-clock seconds over its attacked videos (the paper gives"
                          " totals). " + FR_CAPTION)
    for model in dict.fromkeys(c.model for c in cells):
        for constraint in sorted({k[1] for k in entries if k[0] == model}):
            row = [model, constraint[1]]
            for m in methods:
                c = entries.get((model, constraint, m))
                row += [fr_text(c.stats), wilson_text(c.stats), number(c.stats["seconds_per_video"], "{:.2f}")] \
                    if c else ["", "", ""]
            table.rows.append(row)
    return [table]


def frames_table(lines) -> Table:
    """Figure 6's numbers: FR of each sweep line (``sweep_lines(cells, "frames")``) per number of attacked frames."""
    values = sorted({c.params["frames"] for _, _, members in lines for c in members})
    table = Table("figure6-data", "Figure 6 data: FR against the number of attacked frames",
                  ["model", "attack method"] + [f"{v} frame{'s' * (v != 1)}" for v in values],
                  caption="W: Wilson interval. " + FR_CAPTION)
    for model, label, members in lines:
        by = {c.params["frames"]: c for c in members}
        table.rows.append([model, label] + [fr_both(by[v].stats) if v in by else "" for v in values])
    return table


def run_tables(run: Run) -> list[Table]:
    """The per-cell table, then every paper table the cells allow (Table 7 takes the cells whose mode varies)."""
    if not run.cells:
        return []
    mode_table = table7(run)
    in_mode_table = {c.key for c in run.cells if c.params.get("mode")} if mode_table else set()
    tables = [cell_table(run)] + table3(run, in_mode_table) + table6(run) + table5(run) + mode_table + table9(run)
    lines = sweep_lines(run.cells, "frames")
    return tables + ([frames_table(lines)] if lines else [])
