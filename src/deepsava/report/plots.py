"""Which plots does a run's cells give? For any run: FR per cell, and per model FR against iterations and against
SSIM; for black-box cells, FR against model queries; for sweeps: Figure 6 (FR against frames attacked), FR and
ASP against λ, and FR against the SSIM or l2,1 budget."""

import math

from deepsava.report.elements import Image
from deepsava.report.figures import Bar, Panel, Series, bar_figure, line_figure
from deepsava.report.run import CellView, Run
from deepsava.report.tables import sweep_lines


def _wilson_bounds(cells: list[CellView]) -> tuple[list[float], list[float]]:
    return [c.stats["fr_wilson_low"] for c in cells], [c.stats["fr_wilson_high"] for c in cells]


def fooled_within(records: list[dict], steps: int, key: str = "iterations") -> tuple[list[int], list[float]]:
    """The share of the attacked videos fooled within n iterations (or n of another count ``key``, e.g. queries),
    as a step curve (x, y) from 0 to ``steps``."""
    attacked = [r for r in records if r["clean_correct"]]
    ends = sorted(r[key] for r in attacked if r["success"])
    x, y = [0], [0.0]
    for count, n in enumerate(ends, start=1):
        x.append(n)
        y.append(count / len(attacked))
    x.append(max(steps, x[-1]))
    y.append(y[-1])
    return x, y


def cell_plot(run: Run) -> list[Image]:
    """FR of every cell as a bar with its 99% Wilson interval."""
    cells = [c for c in run.cells if c.stats]
    if not cells:
        return []
    bars = [Bar(f"{c.model} · {c.label}", c.stats["fooling_rate"], c.stats["fr_wilson_low"],
                c.stats["fr_wilson_high"], c.model) for c in cells]
    return [Image("fr-cells", "Fooling rate per cell", bar_figure(bars, "fooling rate"), "figures/fr-cells.png",
                  "FR of each cell (mean over repeats), whiskers: the 99% Wilson interval of the pooled successes"
                  " over the attacked videos; one colour per model.")]


def model_plots(run: Run) -> list[Image]:
    """Per model: the share of attacked videos fooled within n iterations, and FR against the successes' SSIM."""
    cells = [c for c in run.cells if c.stats and run.records.get(c.key)]
    if not any(c.stats["successes"] for c in cells):
        return []
    panels = []
    for model in dict.fromkeys(c.model for c in cells):
        own = [c for c in cells if c.model == model]
        curves = []
        for c in own:
            records = run.records[c.key]
            steps = c.params.get("steps") or max(r["iterations"] for r in records)
            curves.append(Series(c.label, *fooled_within(records, steps)))
        points = [Series(c.label, [c.stats["ssim"]], [c.stats["fooling_rate"]], [c.stats["fr_wilson_low"]],
                         [c.stats["fr_wilson_high"]]) for c in own if not math.isnan(c.stats["ssim"])]
        panels += [Panel(f"{model}: fooled within n iterations", "iterations", "fooled", curves, percent=True,
                         style="steps"),
                   Panel(f"{model}: FR against SSIM", "SSIM of the perturbed frames (successes)", "FR", points,
                         percent=True, style="points")]
    return [Image("fr-models", "Fooling rate against iterations and against SSIM, per model",
                  line_figure(panels, columns=2), "figures/fr-models.png",
                  "Left: the share of the attacked videos (pooled over repeats) fooled within n iterations; its end"
                  " is the pooled FR. Right: each cell's FR (99% Wilson interval) against the mean SSIM of the"
                  " perturbed frames of its successes: up and to the right is a stronger, less visible attack.")]


def query_plots(run: Run) -> list[Image]:
    """Per model, for the cells whose records count model queries (black-box): FR(q), the share of the attacked
    videos fooled within q queries, up to each cell's query budget."""
    cells = [c for c in run.cells if c.stats and c.stats["successes"]
             and all("queries" in r for r in run.records.get(c.key, []))]
    panels = []
    for model in dict.fromkeys(c.model for c in cells):
        curves = []
        for c in (c for c in cells if c.model == model):
            records = run.records[c.key]
            curves.append(Series(c.label, *fooled_within(records, c.params.get("queries") or 0, "queries")))
        panels.append(Panel(f"{model}: fooled within q queries", "model queries per video", "fooled", curves,
                            percent=True, style="steps"))
    if not panels:
        return []
    return [Image("fr-queries", "Fooling rate against model queries (black-box)", line_figure(panels),
                  "figures/fr-queries.png",
                  "The share of the attacked videos (pooled over repeats) fooled within q model queries; a video's"
                  " queries count its clean forward, its frame selection's probes and the attack's. A video stops at"
                  " its first success and its search does not depend on its budget, so the curve at q is, up to a"
                  " video's last query, the FR the same run would reach with a budget of q queries.")]


def sweep_plots(run: Run) -> list[Image]:
    """Figure 6 when the number of frames is swept; FR and ASP(SSIM) against λ when λ is."""
    images = []
    lines = sweep_lines(run.cells, "frames")
    if lines:
        models = list(dict.fromkeys(model for model, _, _ in lines))
        panels = [Panel(model, "frames attacked", "FR", percent=True, log2_x=True,
                        series=[Series(label, [c.params["frames"] for c in members],
                                       [c.stats["fooling_rate"] for c in members], *_wilson_bounds(members))
                                for m, label, members in lines if m == model])
                  for model in models]
        images.append(Image("figure6", "Figure 6: fooling rate against the number of attacked frames",
                            line_figure(panels), "figures/figure6.png",
                            "FR (mean over repeats; error bars: the 99% Wilson interval of the pooled successes over"
                            " the attacked videos) of each method and model against the number of perturbed frames."))
    lines = sweep_lines(run.cells, "lam")
    if lines:
        def series(metric):
            return [Series(f"{model} · {label}", [c.params["lam"] for c in members],
                           [c.stats[metric] for c in members],
                           *(_wilson_bounds(members) if metric == "fooling_rate" else (None, None)))
                    for model, label, members in lines]

        panels = [Panel("fooling rate", "λ", "FR", series("fooling_rate"), percent=True),
                  Panel("average success perturbation", "λ", "ASP(SSIM)", series("asp_ssim"))]
        images.append(Image("lambda", "The SSIM weight λ: FR and ASP(SSIM)", line_figure(panels),
                            "figures/lambda.png", "As the paper's Table 9, drawn: a larger λ should lower both"
                            " (FR error bars: 99% Wilson interval)."))
    return images


# budget key -> (its name, the x axis, the x of a budget value: larger = more change allowed)
BUDGETS = {"ssim_budget": ("SSIM", "1 − SSIM budget (largest change allowed per perturbed frame)", lambda v: 1 - v),
           "l21_budget": ("l2,1", "l2,1 budget", lambda v: v)}


def fooled_within_budget(cells: list[CellView], records: dict, axis: str) -> tuple[list[float], list[float], int]:
    """FR against budget over cells that differ only in the budget ``axis``: (budgets, FR, attacked videos).

    A video counts as fooled at budget b when an attack at a budget no larger than b fooled it (a perturbation
    within a smaller budget is within b too): the per-video smallest fooling budget over the grid, so the
    curve never falls. Videos are matched by (video, repeat); the attacked ones are those every cell attacked.
    """
    to_x = BUDGETS[axis][2]
    smallest: dict[tuple, float] = {}
    attacked: set | None = None
    for c in cells:
        mine = {(r["video_id"], r.get("repeat", 0)): r for r in records.get(c.key, []) if r["clean_correct"]}
        attacked = set(mine) if attacked is None else attacked & set(mine)
        for video, r in mine.items():
            if r["success"]:
                smallest[video] = min(smallest.get(video, math.inf), to_x(c.params[axis]))
    xs = sorted(to_x(c.params[axis]) for c in cells)
    n = len(attacked or ())
    return xs, [sum(smallest.get(v, math.inf) <= x for v in attacked) / n if n else math.nan for x in xs], n


def budget_plots(run: Run) -> list[Image]:
    """FR against the SSIM budget and against the l2,1 budget, per model, when a budget is swept."""
    panels = []
    for axis, (name, xlabel, _) in BUDGETS.items():
        lines = sweep_lines(run.cells, axis)
        for model in dict.fromkeys(model for model, _, _ in lines):
            series = []
            for m, label, members in lines:
                if m == model:
                    xs, ys, n = fooled_within_budget(members, run.records, axis)
                    series.append(Series(f"{label} (n={n})", xs, ys))
            panels.append(Panel(f"{model}: FR against the {name} budget", xlabel, "fooled", series, percent=True,
                                log2_x=True))  # budget grids span decades
    if not panels:
        return []
    return [Image("fr-budget", "Fooling rate against the perturbation budget", line_figure(panels, columns=2),
                  "figures/fr-budget.png",
                  "The share of attacked videos fooled within each budget, from a sweep of cells that differ only in"
                  " the budget: a video counts at budget b once an attack at a budget no larger than b fooled it."
                  " The comparison at equal perturbation that fixed iteration counts only approximate.")]


def run_plots(run: Run) -> list[Image]:
    """Every plot of the run's cells: per cell, per model, against queries, the sweeps, then FR against budget."""
    return cell_plot(run) + model_plots(run) + query_plots(run) + sweep_plots(run) + budget_plots(run)
