"""What do the studies add to a report? Sections for transferability, compression survival, saliency, prediction.

:func:`analysis_tables` and :func:`analysis_plots` add to a report whatever a run
folder holds of them:

- transfer (Table 12): experiment records with a ``transfer`` field
  (:mod:`deepsava.studies.transfer`): two source × target tables and their heat maps;
- compression (Section 4.2.3): records with a ``compression`` field
  (:mod:`deepsava.studies.compression`): surviving FR, retention and clean-lost tables, a plot against CRF;
- saliency (Appendix D): ``saliency-*.npz`` files of ``deepsava saliency``
  (:mod:`deepsava.studies.saliency`): a table, the overlays and the curves;
- prediction (Appendix C): ``prediction.json`` of ``deepsava prediction-attack``
  (:mod:`deepsava.studies.prediction`): a table and Figure C.9.
"""

import math
import re

import numpy as np
import yaml

from deepsava.report.elements import Image, Table
from deepsava.report.run import Run
from deepsava.report.study_figures import (SurvivalLine, compression_figure, heatmap_figure, prediction_frame_figure,
                                           prediction_step_figure, saliency_curve_figure, saliency_overlay_figure)
from deepsava.report.text import number, share
from deepsava.studies import compression, prediction, saliency, transfer


def _records(run: Run, field: str) -> list[tuple]:
    """(cell view, its stored records) for the cells whose records carry ``field``."""
    return [(cell, run.records[cell.key]) for cell in run.cells
            if run.records.get(cell.key) and all(field in r for r in run.records[cell.key])]


def analysis_tables(run: Run) -> list[Table]:
    return transfer_tables(run) + compression_tables(run) + _saliency_tables(run) + _prediction_tables(run)


def analysis_plots(run: Run) -> list[Image]:
    return _transfer_plots(run) + _compression_plots(run) + _saliency_plots(run) + _prediction_plots(run)


# -- transfer ------------------------------------------------------------------------------------

# the two transfer rates: (rate key, counts (k, n) behind it, table anchor, what is counted)
TRANSFER_RATES = ((transfer.FOOLING, ("fooled", "n"), "table12", "FR over videos both models classify correctly"),
                  (transfer.GIVEN_SUCCESS, ("transferred", "successes"), "table12-paper",
                   "FR among the white-box successes (the paper's convention)"))


def _transfer_data(run: Run):
    """(sources, targets, attacks, {attack: {source: {target: transfer_rates dict}}}), None without transfer records."""
    cells = _records(run, "transfer")
    if not cells:
        return None
    stored = cells[0][1][0]["transfer"]  # the store keeps keys sorted: order targets as the config lists them
    sources = list(dict.fromkeys(cell.model for cell, _ in cells))
    listed = (yaml.safe_load(run.config_source) or {}).get("transfer") if run.config_source else None
    targets = [t for t in listed if t in stored] if isinstance(listed, list) else []
    targets += [t for t in sources if t in stored and t not in targets] + sorted(set(stored) - set(targets) - set(sources))
    triples = [(cell.model, cell.base, records) for cell, records in cells]
    attacks = list(dict.fromkeys(cell.base for cell, _ in cells))
    return sources, targets, attacks, transfer.transfer_matrix(triples, targets, None)


def transfer_tables(run: Run) -> list[Table]:
    """Table 12 twice: FR over videos both models classify correctly, and among the white-box successes ([] without)."""
    data = _transfer_data(run)
    if data is None:
        return []
    sources, targets, attacks, matrix = data
    captions = {
        transfer.FOOLING: "Rows: the model attacked (white box); columns: the model that classifies the adversarial"
                          " videos. Each entry: FR (mean over repeats) and k/n, n the videos both models classify"
                          " correctly before the attack, k those the target misclassifies after it. The diagonal is"
                          " the white-box FR of the same run.",
        transfer.GIVEN_SUCCESS: "As above, counted over the videos the white-box attack fooled (n), k of which also"
                                " fool the target: the paper's Table 12 (its diagonal is 100%).",
    }
    tables = []
    for rate, (k, n), anchor, what in TRANSFER_RATES:
        table = Table(anchor, f"Table 12: transferability, {what}", ["source"] + [a for _ in targets for a in attacks],
                      caption=captions[rate], groups=[("", 1)] + [(t, len(attacks)) for t in targets], text_columns=1)
        for source in sources:
            entries = [matrix.get(a, {}).get(source, {}).get(t) for t in targets for a in attacks]
            table.rows.append([source] + [share(e[rate], e[k], e[n]) if e else "–" for e in entries])
        tables.append(table)
    return tables


def _transfer_plots(run: Run) -> list[Image]:
    data = _transfer_data(run)
    if data is None:
        return []
    sources, targets, _, matrix = data
    notes = {transfer.FOOLING: "The diagonal is the white-box FR of the same run.",
             transfer.GIVEN_SUCCESS: "The paper's Table 12 convention: the diagonal is 100%."}
    return [Image(f"{anchor}-heatmap", f"Table 12 as heat maps: {what} (%)",
                  heatmap_figure(matrix, sources, targets, rate, counts, what), f"figures/{anchor}-heatmap.png",
                  notes[rate] + " Each cell: FR (%) and k/n; grey: no video counts.")
            for rate, counts, anchor, what in TRANSFER_RATES]


# -- compression ---------------------------------------------------------------------------------


def _settings(records: list[dict]) -> list[str]:
    """The stored settings in order: 8-bit first, then CRFs ascending (the store keeps keys sorted as text)."""
    return sorted(records[0]["compression"], key=lambda s: -1 if s == compression.LOSSLESS else int(s))


def _setting_name(setting: str) -> str:
    return "8-bit" if setting == compression.LOSSLESS else f"CRF {setting}"


def _float_counts(records: list[dict]) -> tuple[int, int]:
    """(successes, attacked videos) of one cell's records, summed over repeats: the FR before any compression."""
    attacked = [r for r in records if r["clean_correct"]]
    return sum(r["success"] for r in attacked), len(attacked)


def compression_tables(run: Run) -> list[Table]:
    """Surviving FR, retention and clean-lost tables of a run's cells with compression records ([] without)."""
    cells = _records(run, "compression")
    if not cells:
        return []
    settings = _settings(cells[0][1])
    names = [_setting_name(s) for s in settings]
    fr = Table("compression", "Compression survival (Section 4.2.3): FR after H.264 re-encoding",
               ["model", "cell", "float"] + names,
               caption="FR (mean over repeats) and k/n of the adversarial videos as the attack returned them (float),"
                       " rounded to 8 bits (what a lossless file holds), and written as H.264 at each CRF and decoded"
                       " again (the FR is recomputed from the decoded frames). n: videos classified correctly before the"
                       " attack whose compressed clean video is still classified correctly (float: all videos"
                       " classified correctly); k: those whose adversarial video is misclassified.")
    kept = Table("compression-retention", "Compression survival: retention of the attack's successes",
                 ["model", "cell", "successes"] + names,
                 caption="P(still fooled after compression | fooled before, compressed clean still correct): among the"
                         " videos the attack fooled (n, those whose compressed clean video is still correct), k still"
                         " misclassified after the round trip. The survival the paper's claim is about.")
    lost = Table("compression-clean", "Compression alone: clean videos that re-encoding makes misclassified",
                 ["model", "attacked"] + names,
                 caption="Of the videos classified correctly (attacked), those whose compressed clean video is"
                         " misclassified: they are left out of the counts above. One row per model when every cell"
                         " of the model attacked the same videos.")
    lost_rows = {}
    for cell, records in cells:
        rates = [compression.surviving_rate(records, s) for s in settings]
        wins, attacked = _float_counts(records)
        fr.rows.append([cell.model, cell.label, share(cell.stats["fooling_rate"], wins, attacked)]
                       + [share(r["fooling_rate"], r["fooled"], r["n"]) for r in rates])
        kept.rows.append([cell.model, cell.label, str(wins)]
                         + [share(r["retention"], r["retained"], r["successes"]) for r in rates])
        row = [cell.model, str(attacked)] + [share(r["clean_lost"], r["attacked"] - r["n"], r["attacked"])
                                             for r in rates]
        lost_rows.setdefault(tuple(row), row)
    lost.rows = list(lost_rows.values())
    return [fr, kept, lost]


def _without_early_stop(label: str) -> str:
    """A cell label without its early_stop sweep value: "S (flow_lr=0.1, early_stop=False)" -> "S (flow_lr=0.1)"."""
    return re.sub(r"(, )?early_stop=(True|False)(, )?", lambda m: ", " if m[1] and m[3] else "", label).replace(" ()", "")


def _compression_plots(run: Run) -> list[Image]:
    cells = _records(run, "compression")
    if not cells:
        return []
    settings = _settings(cells[0][1])
    lines = []
    for cell, records in cells:
        rates = [compression.surviving_rate(records, s) for s in settings]
        family = _without_early_stop(cell.label)
        all_steps = cell.params.get("early_stop") is False
        lines.append(SurvivalLine(cell.model, family + (" (all steps)" if all_steps else ""), family, all_steps,
                                  [cell.stats["fooling_rate"]] + [r["fooling_rate"] for r in rates],
                                  [1.0 if _float_counts(records)[0] else math.nan] + [r["retention"] for r in rates]))
    return [Image("compression-plot", "Fooling rate and retention surviving H.264 against CRF",
                  compression_figure(["float"] + [_setting_name(s) for s in settings], lines), "figures/compression.png",
                  "Higher CRF = stronger compression. 'float': before any rounding. Top: FR over the videos still"
                  " correct when clean; bottom: the share of the attack's successes still fooling. Solid: each video"
                  " stopped at its first success; dashed (all steps): cells run with early_stop: false.")]


# -- saliency ------------------------------------------------------------------------------------


_SCORE_NAMES = {"logit": "gradient of the label's logit", "loss": "gradient of the cross-entropy loss"}


def _views(run: Run) -> list[saliency.SaliencyView]:
    return [saliency.SaliencyView.load(p) for p in sorted(run.folder.glob("saliency-*.npz"))]


def frames_holding(curve: np.ndarray, fraction: float = 0.5) -> int:
    """The fewest frames whose saliency adds up to ``fraction`` of the video's."""
    return int(np.searchsorted(np.cumsum(np.sort(curve)[::-1]), fraction - 1e-9) + 1)


def _saliency_tables(run: Run) -> list[Table]:
    views = _views(run)
    if not views:
        return []
    scores = sorted({view.score for view in views})
    table = Table("saliency", "Saliency (Appendix D): how much, and where, the models look",
                  ["video", "model", "prediction", "p(label)", "total saliency",
                   f"share of the {saliency.TOP_SHARE:.0%} most salient pixels", "frames holding 50%",
                   "frames holding 90%", "most salient", "least salient"],
                  caption=f"Input-gradient saliency ({' and '.join(_SCORE_NAMES[s] for s in scores)}), the largest"
                          " |gradient| over the colour channels of each pixel. p(label): the model's probability of the"
                          " video's label. Total saliency: the sum over all pixels of all frames (the size of the"
                          " input gradient). Share of the most salient pixels: how concentrated it is (the share"
                          " uniform maps would give is the pixel fraction itself). From each frame's share of the"
                          " total (the temporal curve): the fewest frames that hold half (and 90%) of it, the most"
                          " salient three frames and the least salient frame.", text_columns=3)
    for view in views:
        for m, (name, pred, curve) in enumerate(zip(view.models, view.predictions, view.curves)):
            top = ", ".join(str(t) for t in curve.argsort()[::-1][:3])
            table.rows.append([view.video, name, pred, number(float(view.confidence[m])),
                               f"{saliency.total_saliency(view.maps[m]):.4g}", number(saliency.top_share(view.maps[m])),
                               str(frames_holding(curve)), str(frames_holding(curve, 0.9)), top,
                               str(int(curve.argmin()))])
    return [table]


def _saliency_plots(run: Run) -> list[Image]:
    images = []
    for i, view in enumerate(_views(run)):
        images.append(Image(f"saliency-maps-{i}", f"Figure D.10: saliency overlaid on {view.video}",
                            saliency_overlay_figure(view), f"figures/saliency-maps-{i}.png",
                            "Input-gradient magnitude, per model scaled by its largest value over the video."))
        images.append(Image(f"saliency-curve-{i}", f"Temporal saliency of {view.video}", saliency_curve_figure(view),
                            f"figures/saliency-curve-{i}.png", "Each frame's share of the video's saliency."))
    return images


# -- prediction ----------------------------------------------------------------------------------


def _prediction(run: Run):
    return prediction.load_outcomes(run.folder) if (run.folder / prediction.RESULT_FILE).is_file() else None


def _prediction_tables(run: Run) -> list[Table]:
    data = _prediction(run)
    if data is None:
        return []
    about, outcomes = data
    return [Table("prediction", "Next-frame prediction under DeepSAVA (Appendix C)", prediction.SUMMARY_COLUMNS,
                  prediction.summary_rows(outcomes), text_columns=1,
                  caption=f"{about.get('sequences', '?')} held-out sequences of {about.get('dataset', '?')}; one input"
                          f" frame perturbed, {outcomes[0].steps} Adam steps minimising Eq. C.1, λ·Σ(1 − SSIM) minus the"
                          " mean squared error of the predicted next frames (λ = 0 unless the setting names it), within"
                          " the budget: RMS, the per-pixel root mean square of the frame's change (= its l2,1 norm;"
                          " the paper's 'l2 ball of 0.03'), or SSIM. 'raised': sequences whose MSE rose.")]


def _prediction_plots(run: Run) -> list[Image]:
    data = _prediction(run)
    if data is None:
        return []
    _, outcomes = data
    return [Image("figure-c9", "Figure C.9: prediction MSE against attack step", prediction_step_figure(outcomes),
                  "figures/figure-c9.png", "Mean over the sequences; step 0 is the clean input."),
            Image("prediction-frames", "Which predicted frames suffer, and which input frame was attacked",
                  prediction_frame_figure(outcomes), "figures/prediction-frames.png",
                  "Left: error of each predicted frame. Right: the input frame each setting perturbed.")]
