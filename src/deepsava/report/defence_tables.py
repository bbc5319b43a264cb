"""Tables 10, 11 and B.13: defended against undefended models, in the paper's layouts.

A run's models are told apart by the defence their checkpoint records
(``defence`` in its JSON, written by ``deepsava defend``; for a recurrent head
trained over a frozen frame CNN, the defence of that CNN, ``start.defence``); a
checkpoint without one is an undefended model as shipped. Clean accuracy is that of the videos the
run evaluated (those correctly classified over those stored), so it comes from
the same sample as the fooling rates beside it.

- Table 11: one row per model: defence, model family, clean accuracy, FR and robust accuracy of each attack.
- Table 10: injection (``inject``) models, adversarial against unmodified copies, per number of videos added.
- Table B.13: PGD and combined defences by step size α, when the run holds more than one α.
"""

import math

from deepsava.report.elements import Table
from deepsava.report.run import CellView, Run
from deepsava.report.sources import checkpoint_metadata
from deepsava.report.text import fr_text, percent, points

NAMES = {"combined": "Combined defence", "pgd": "PGD defence", "trades": "TRADES", "inject": "Injection",
         "none": "Without defence"}
ORDER = ("combined", "pgd", "trades", "none", None)  # the paper's row order: defended first


def _fraction(value: float) -> str:
    """0.00392... -> "1/255" when it is a whole number of 255ths, else the number."""
    steps = value * 255
    return f"{round(steps)}/255" if round(steps) > 0 and abs(steps - round(steps)) < 1e-6 else f"{value:g}"


def describe(meta: dict) -> tuple[str | None, str, str]:
    """(method or None, row name, parameters) of the defence a checkpoint's metadata records.

    A recurrent head trained over a frozen frame CNN (``training.freeze`` from
    ``deepsava defend --freeze-cnn``, ``training.frozen`` from ``deepsava train
    --freeze-cnn``) is named after the defence of the checkpoint it started from
    (``start.defence``): the paper's CNN+LSTM route.
    """
    defence = meta.get("defence")
    training = meta.get("training") or {}
    frozen = "cnn" in (training.get("freeze") or training.get("frozen") or [])
    start = meta.get("start") or {}
    if frozen and (defence or {"method": "none"}).get("method") == "none" and "defence" in start:
        cnn = start.get("defence") or {"method": "none"}
        return cnn.get("method"), NAMES.get(cnn.get("method"), cnn.get("method")) + " (frame CNN)", _params(cnn)
    if not defence:
        return None, "Without defence (as shipped)", ""
    method = defence.get("method")
    return method, NAMES.get(method, method), _params(defence)


def _params(defence: dict) -> str:
    shown = []
    for key, name in (("eps", "ε"), ("alpha", "α"), ("steps", "K"), ("flow_eps", "flow ≤"), ("beta", "β"),
                      ("examples", "N")):
        if defence.get(key) is not None:
            value = defence[key]
            shown.append(f"{name}={_fraction(value) if key in ('eps', 'alpha') else value}")
    if defence.get("method") in ("pgd", "combined", "trades"):
        frames = defence.get("frames")
        shown.append("all frames" if frames is None else f"{frames} {defence.get('mask', 'first')} frame(s)")
    return ", ".join(shown)


def _accuracy(cells: list[CellView]) -> float:
    stats = [c.stats for c in cells if c.stats and c.stats["videos"]]
    return stats[0]["attacked"] / stats[0]["videos"] if stats else math.nan


def _models(run: Run) -> list[tuple[str, dict, list[CellView]]]:
    """(model label, checkpoint metadata, its cells) in the run's order."""
    labels = list(dict.fromkeys(c.model for c in run.cells))
    out = []
    for label in labels:
        cells = [c for c in run.cells if c.model == label]
        out.append((label, checkpoint_metadata(cells[0].checkpoint), cells))
    return out


def _attacks(run: Run) -> list[str]:
    return list(dict.fromkeys(c.base for c in run.cells))


def _robust(cells: list[CellView], attack: str) -> float:
    """Clean accuracy × (1 − FR) of the attack's cell: correctly classified and not fooled, over all its videos."""
    found = [c.stats for c in cells if c.base == attack and c.stats and c.stats["videos"]]
    if not found:
        return math.nan
    stats = found[0]
    return 0.0 if not stats["attacked"] else stats["attacked"] / stats["videos"] * (1 - stats["fooling_rate"])


def _fr(cells: list[CellView], attack: str) -> str:
    found = [c for c in cells if c.base == attack]
    return fr_text(found[0].stats) if found else ""


def table11(run: Run) -> list[Table]:
    models = [m for m in _models(run) if describe(m[1])[0] != "inject"]
    if not any(describe(meta)[0] in ("pgd", "combined", "trades") for _, meta, _ in models):
        return []
    attacks = _attacks(run)
    groups = list(dict.fromkeys(g["name"] for g in run.worst_case))
    worst = {(g["name"], g["model"]): g["robust_accuracy"]["value"] for g in run.worst_case}
    table = Table("table11", "Table 11: clean accuracy and fooling rate with and without defence",
                  ["defence", "model", "label", "parameters", "accuracy", *attacks,
                   *[f"robust acc. ({a})" for a in attacks], *[f"robust acc. (worst case: {g})" for g in groups]],
                  text_columns=4,
                  caption="As the paper's Table 11: accuracy is clean top-1 on the evaluated videos; FR over those"
                          " classified correctly (± 99% CI over repeats); robust accuracy = accuracy × (1 − FR), the"
                          " evaluated videos classified correctly and not fooled (exact with one repeat; with"
                          " several, the product of the means)"
                          + ("; worst case: not fooled by any attack of the group (the table 'Worst case over"
                             " attacks' gives its interval)." if groups else "."))
    rows = []
    for label, meta, cells in models:
        method, name, params = describe(meta)
        family = meta.get("model", "?")
        rows.append(((family, ORDER.index(method) if method in ORDER else len(ORDER), label),
                     [name, family, label, params, percent(_accuracy(cells)), *[_fr(cells, a) for a in attacks],
                      *[percent(_robust(cells, a)) for a in attacks],
                      *[percent(worst.get((g, label), math.nan)) for g in groups]]))
    table.rows = [row for _, row in sorted(rows, key=lambda r: r[0])]
    return [table]


def table10(run: Run) -> list[Table]:
    injected: dict[int, dict[bool, list[CellView]]] = {}
    for _, meta, cells in _models(run):
        defence = meta.get("defence") or {}
        if defence.get("method") == "inject":
            injected.setdefault(defence["examples"], {})[bool(defence.get("unmodified"))] = cells
    if not injected:
        return []
    table = Table("table10", "Table 10: injected DeepSAVA videos against the same number of unmodified copies",
                  ["videos added", "attack", "accuracy (defended)", "FR (defended)", "accuracy (undefended)",
                   "FR (undefended)", "Δ accuracy", "Δ FR"], text_columns=2,
                  caption="As the paper's Table 10: defended = trained on the clean split plus N DeepSAVA videos;"
                          " undefended = plus the same N videos unmodified. Δ = defended − undefended (points).")
    for examples in sorted(injected):
        pair = injected[examples]
        for attack in _attacks(run):
            defended, undefended = pair.get(False, []), pair.get(True, [])
            fr = [next((c.stats["fooling_rate"] for c in cells if c.base == attack and c.stats), math.nan)
                  for cells in (defended, undefended)]
            acc = [_accuracy(defended), _accuracy(undefended)]
            table.rows.append([str(examples), attack, percent(acc[0]), _fr(defended, attack), percent(acc[1]),
                               _fr(undefended, attack), points(acc[0] - acc[1]), points(fr[0] - fr[1])])
    return [table]


def table_b13(run: Run) -> list[Table]:
    swept = []
    for label, meta, cells in _models(run):
        method, name, _ = describe(meta)
        defence = meta.get("defence") or {}
        if method in ("pgd", "combined") and defence.get("alpha") is not None:
            swept.append((defence["alpha"], ORDER.index(method), name, label, cells))
    if len({alpha for alpha, *_ in swept}) < 2:
        return []
    attacks = _attacks(run)
    table = Table("tableB13", "Table B.13: the step size α of the inner attack during adversarial training",
                  ["α", "defence", "label", "accuracy", *attacks], text_columns=3,
                  caption="As the paper's Table B.13: every other training setting equal.")
    for alpha, _, name, label, cells in sorted(swept, key=lambda s: s[:2]):
        table.rows.append([_fraction(alpha), name, label, percent(_accuracy(cells)), *[_fr(cells, a) for a in attacks]])
    return [table]


def defence_tables(run: Run) -> list[Table]:
    """Every defence table the run's cells allow (none for runs without defended checkpoints)."""
    return table10(run) + table11(run) + table_b13(run)
