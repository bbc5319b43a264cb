"""The report sections of the paper's analyses: transferability, compression survival, saliency, next-frame prediction.

:func:`analysis_tables` and :func:`analysis_plots` add to a report whatever a run
folder holds of them:

- transfer (Table 12): experiment records with a ``transfer`` field
  (:mod:`deepsava.evaluate.transfer`): two source × target tables, a heat map;
- compression (Section 4.2.3): records with a ``compression`` field
  (:mod:`deepsava.evaluate.compression`): a table and surviving FR against CRF;
- saliency (Appendix D): ``saliency-*.npz`` files of ``deepsava saliency``
  (:mod:`deepsava.evaluate.saliency`): a table, the overlays and the curves;
- prediction (Appendix C): ``prediction.json`` of ``deepsava prediction-attack``
  (:mod:`deepsava.evaluate.prediction`): a table and Figure C.9.
"""

import math
from pathlib import Path

import numpy as np
import yaml

from deepsava.evaluate import compression, prediction, saliency, transfer
from deepsava.evaluate.figures import _figure, _png
from deepsava.evaluate.report import DB_NAME, Image, Run, Table, _pct
from deepsava.evaluate.store import ResultStore


def has_analyses(folder: Path) -> bool:
    """Whether a folder holds saliency or prediction outputs (which need no result database)."""
    return any(folder.glob("saliency-*.npz")) or (folder / prediction.RESULT_FILE).is_file()


def _records(run: Run, field: str) -> list[tuple]:
    """(cell view, its stored records) for the cells whose records carry ``field``."""
    if run.kind != "experiment":
        return []
    out = []
    with ResultStore(run.folder / DB_NAME) as store:
        for cell in run.cells:
            records = store.records(cell.key)
            if records and all(field in r for r in records):
                out.append((cell, records))
    return out


def analysis_tables(run: Run) -> list[Table]:
    return _transfer_tables(run) + _compression_tables(run) + _saliency_tables(run) + _prediction_tables(run)


def analysis_plots(run: Run) -> list[Image]:
    return _transfer_plots(run) + _compression_plots(run) + _saliency_plots(run) + _prediction_plots(run)


# -- transfer ------------------------------------------------------------------------------------


def _transfer_data(run: Run):
    """(sources, targets, attacks, {rate: {attack: {source: {target: value}}}}), None without transfer records."""
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
    rates = (transfer.FOOLING, transfer.GIVEN_SUCCESS)
    matrices = {rate: transfer.transfer_matrix(triples, targets, rate) for rate in rates}
    return sources, targets, attacks, matrices


def _transfer_tables(run: Run) -> list[Table]:
    data = _transfer_data(run)
    if data is None:
        return []
    sources, targets, attacks, matrices = data
    tables = []
    for rate, anchor, title, caption in (
        (transfer.FOOLING, "table12", "Table 12: transferability, FR over videos both models classify correctly",
         "Rows: the model attacked (white box); columns: the model that classifies the adversarial videos. Counted:"
         " videos both models classify correctly before the attack; FR: those the target misclassifies after it"
         " (mean over repeats). The diagonal is the white-box FR."),
        (transfer.GIVEN_SUCCESS, "table12-paper", "Table 12 as the paper counts it: FR among the white-box successes",
         "As above, counted over the videos the white-box attack fooled (so the diagonal is 100%), as in the"
         " paper's Table 12."),
    ):
        table = Table(anchor, title, ["source"] + [a for _ in targets for a in attacks], caption=caption,
                      groups=[("", 1)] + [(t, len(attacks)) for t in targets], text_columns=1)
        for source in sources:
            table.rows.append([source] + [_pct(matrices[rate].get(a, {}).get(source, {}).get(t, math.nan))
                                          for t in targets for a in attacks])
        tables.append(table)
    return tables


def heatmap_figure(matrices: dict, sources: list[str], targets: list[str], title: str) -> bytes:
    """One source × target heat map per attack, percentages written in the cells -> PNG."""
    fig = _figure((1.6 + 0.6 * len(targets)) * len(matrices), 1.8 + 0.45 * len(sources))
    axes = fig.subplots(1, len(matrices), squeeze=False)[0]
    for ax, (attack, rows) in zip(axes, matrices.items()):
        grid = np.array([[rows.get(s, {}).get(t, math.nan) for t in targets] for s in sources], dtype=float)
        ax.imshow(np.nan_to_num(grid, nan=0.0) * 100, cmap="viridis", vmin=0, vmax=100)
        for i in range(len(sources)):
            for j in range(len(targets)):
                text = "–" if math.isnan(grid[i, j]) else f"{100 * grid[i, j]:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="black" if not math.isnan(grid[i, j]) and grid[i, j] > 0.6 else "white")
        ax.set_xticks(range(len(targets)), targets, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(sources)), sources, fontsize=8)
        ax.set_xlabel("target (black box)", fontsize=8)
        ax.set_title(attack, fontsize=9)
    axes[0].set_ylabel("source (white box)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _transfer_plots(run: Run) -> list[Image]:
    data = _transfer_data(run)
    if data is None:
        return []
    sources, targets, _, matrices = data
    return [Image("table12-heatmap", "Table 12 as heat maps: transfer FR (%)",
                  heatmap_figure(matrices[transfer.FOOLING], sources, targets,
                                 "FR over videos both models classify correctly"),
                  "figures/table12-heatmap.png", "The diagonal is the white-box FR of the same run.")]


# -- compression ---------------------------------------------------------------------------------


def _settings(records: list[dict]) -> list[str]:
    """The stored settings in order: 8-bit first, then CRFs ascending (the store keeps keys sorted as text)."""
    return sorted(records[0]["compression"], key=lambda s: -1 if s == compression.LOSSLESS else int(s))


def _setting_name(setting: str) -> str:
    return "8-bit" if setting == compression.LOSSLESS else f"CRF {setting}"


def _compression_tables(run: Run) -> list[Table]:
    cells = _records(run, "compression")
    if not cells:
        return []
    settings = _settings(cells[0][1])
    table = Table("compression", "Compression survival (Section 4.2.3): FR after H.264 re-encoding",
                  ["model", "cell", "FR (float)"] + [_setting_name(s) for s in settings]
                  + [f"clean lost at {_setting_name(settings[-1])}", "n"],
                  caption="FR of the adversarial videos as the attack returned them (float), rounded to 8 bits (what a"
                          " lossless file holds), and written as H.264 at each CRF and decoded again (the FR is"
                          " recomputed from the decoded frames). Counted: videos classified correctly before the attack"
                          " whose compressed clean video is still classified correctly. 'clean lost': share of"
                          " attacked videos that compression alone makes misclassified.")
    for cell, records in cells:
        rates = [compression.surviving_rate(records, s) for s in settings]
        table.rows.append([cell.model, cell.label, _pct(cell.stats["fooling_rate"])]
                          + [_pct(r["fooling_rate"]) for r in rates]
                          + [_pct(rates[-1]["clean_lost"]), str(cell.stats["attacked"])])
    return [table]


def _compression_plots(run: Run) -> list[Image]:
    cells = _records(run, "compression")
    if not cells:
        return []
    settings = _settings(cells[0][1])
    names = ["float"] + [_setting_name(s) for s in settings]
    models = list(dict.fromkeys(cell.model for cell, _ in cells))
    fig = _figure(4.6 * len(models), 3.4)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models):
        for cell, records in ((c, r) for c, r in cells if c.model == model):
            values = [cell.stats["fooling_rate"]] + [compression.surviving_rate(records, s)["fooling_rate"]
                                                     for s in settings]
            ax.plot(range(len(names)), 100 * np.array(values, dtype=float), marker="o", label=cell.label)
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_ylim(-3, 103)
        ax.set_ylabel("surviving FR (%)")
        ax.set_title(model, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return [Image("compression-plot", "Fooling rate surviving H.264 against CRF", _png(fig),
                  "figures/compression.png", "Higher CRF = stronger compression. 'float': before any rounding.")]


# -- saliency ------------------------------------------------------------------------------------


def _views(run: Run) -> list[saliency.SaliencyView]:
    return [saliency.SaliencyView.load(p) for p in sorted(run.folder.glob("saliency-*.npz"))]


def frames_holding(curve: np.ndarray, share: float = 0.5) -> int:
    """The fewest frames whose saliency adds up to ``share`` of the video's."""
    return int(np.searchsorted(np.cumsum(np.sort(curve)[::-1]), share - 1e-9) + 1)


def _saliency_tables(run: Run) -> list[Table]:
    views = _views(run)
    if not views:
        return []
    table = Table("saliency", "Saliency (Appendix D): how the models spread their attention over the frames",
                  ["video", "model", "prediction", "frames holding 50%", "frames holding 90%", "most salient",
                   "least salient"],
                  caption="From the input-gradient saliency of each frame (its share of the video's total): the"
                          " fewest frames that hold half (and 90%) of it, the most salient three frames and the least"
                          " salient frame.")
    for view in views:
        for name, pred, curve in zip(view.models, view.predictions, view.curves):
            top = ", ".join(str(t) for t in curve.argsort()[::-1][:3])
            table.rows.append([view.video, name, pred, str(frames_holding(curve)), str(frames_holding(curve, 0.9)),
                               top, str(int(curve.argmin()))])
    return [table]


def _saliency_plots(run: Run) -> list[Image]:
    images = []
    for i, view in enumerate(_views(run)):
        images.append(Image(f"saliency-maps-{i}", f"Figure D.10: saliency overlaid on {view.video}",
                            saliency.overlay_figure(view), f"figures/saliency-maps-{i}.png",
                            "Input-gradient magnitude, per model scaled by its largest value over the video."))
        images.append(Image(f"saliency-curve-{i}", f"Temporal saliency of {view.video}", saliency.curve_figure(view),
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
                          f" frame perturbed, {outcomes[0].steps} Adam steps maximising the mean squared error of the"
                          " predicted next frames within the budget. 'raised': sequences whose MSE rose; 'largest l2':"
                          " the largest RMS change of the perturbed frame.")]


def _prediction_plots(run: Run) -> list[Image]:
    data = _prediction(run)
    if data is None:
        return []
    _, outcomes = data
    return [Image("figure-c9", "Figure C.9: prediction MSE against attack step", prediction.step_figure(outcomes),
                  "figures/figure-c9.png", "Mean over the sequences; step 0 is the clean input."),
            Image("prediction-frames", "Which predicted frames suffer, and which input frame was attacked",
                  prediction.frame_figure(outcomes), "figures/prediction-frames.png",
                  "Left: error of each predicted frame. Right: the input frame each setting perturbed.")]
