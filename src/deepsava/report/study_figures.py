"""How are the studies drawn? Transfer heat maps (Table 12), compression survival, saliency overlays and curves
(Figure D.10), prediction error against attack step and frame (Figure C.9) -> PNG bytes."""

import math
from dataclasses import dataclass

import numpy as np

from deepsava.report.figures import new_figure, to_png

OVERLAY_ALPHA = 0.9  # opacity of the saliency heat where it is largest


# -- transfer ------------------------------------------------------------------------------------


def heatmap_figure(matrix: dict, sources: list[str], targets: list[str], rate: str, counts: tuple[str, str],
                   title: str) -> bytes:
    """One source × target heat map per attack of ``rate``, with its percentage and k/n in each cell -> PNG.

    ``matrix``: {attack: {source: {target: transfer_rates dict}}}. Pairs where nothing counts are grey, not 0%.
    """
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    fig = new_figure((1.6 + 0.7 * len(targets)) * len(matrix), 1.8 + 0.5 * len(sources))
    axes = fig.subplots(1, len(matrix), squeeze=False)[0]
    for ax, (attack, rows) in zip(axes, matrix.items()):
        entries = [[rows.get(s, {}).get(t) for t in targets] for s in sources]
        grid = np.array([[e[rate] if e else math.nan for e in row] for row in entries], dtype=float)
        ax.imshow(np.ma.masked_invalid(grid * 100), cmap=cmap, vmin=0, vmax=100)
        for i, row in enumerate(entries):
            for j, e in enumerate(row):
                if e is None or math.isnan(grid[i, j]):
                    ax.text(j, i, "–", ha="center", va="center", fontsize=8)
                    continue
                ax.text(j, i, f"{100 * grid[i, j]:.0f}\n{e[counts[0]]}/{e[counts[1]]}", ha="center", va="center",
                        fontsize=6.5, color="black" if grid[i, j] > 0.6 else "white")
        ax.set_xticks(range(len(targets)), targets, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(sources)), sources, fontsize=8)
        ax.set_xlabel("target (black box)", fontsize=8)
        ax.set_title(attack, fontsize=9)
    axes[0].set_ylabel("source (white box)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return to_png(fig)


# -- compression ---------------------------------------------------------------------------------


@dataclass
class SurvivalLine:
    """One cell's rates across compression settings (the first is "float", before any rounding)."""

    model: str
    label: str  # the legend's text
    family: str  # lines of one family share a colour
    all_steps: bool  # run with early_stop: false (drawn dashed)
    surviving: list[float]  # FR per setting
    retention: list[float]  # share of the successes still fooling, per setting


def compression_figure(settings: list[str], lines: list[SurvivalLine]) -> bytes:
    """Per model (a column): surviving FR (top) and retention (bottom) against the compression setting -> PNG."""
    import matplotlib

    models = list(dict.fromkeys(line.model for line in lines))
    families = list(dict.fromkeys(line.family for line in lines))
    colours = matplotlib.colormaps["tab10"]
    fig = new_figure(4.6 * len(models), 6.8)
    axes = fig.subplots(2, len(models), squeeze=False)
    for column, model in enumerate(models):
        for line in (line for line in lines if line.model == model):
            for row, values in ((0, line.surviving), (1, line.retention)):
                axes[row, column].plot(range(len(settings)), 100 * np.array(values, dtype=float),
                                       "--" if line.all_steps else "-", marker="s" if line.all_steps else "o",
                                       markersize=4, color=colours(families.index(line.family) % 10), label=line.label)
        for row, ylabel in ((0, "surviving FR (%)"), (1, "retention of successes (%)")):
            ax = axes[row, column]
            ax.set_xticks(range(len(settings)), settings, fontsize=8)
            ax.set_ylim(-3, 103)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0, column].set_title(model, fontsize=10)
        axes[1, column].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    return to_png(fig)


# -- saliency ------------------------------------------------------------------------------------


def shown_frames(num_frames: int, count: int = 10) -> list[int]:
    """``count`` evenly spaced frame indices out of ``num_frames`` (all when there are fewer)."""
    return sorted(set(np.linspace(0, num_frames - 1, min(count, num_frames)).round().astype(int).tolist()))


def saliency_overlay_figure(view, columns: int = 10) -> bytes:
    """Frames with each model's saliency overlaid (one row per model, Figure D.10) of a ``SaliencyView`` -> PNG.

    Frames are shown in dimmed grey so the heat stands out. Each model's maps are
    scaled by that model's largest value over the whole video, so a frame the
    model barely uses shows (almost) no heat.
    """
    import matplotlib

    shown = shown_frames(view.frames.shape[0], columns)
    fig = new_figure(1.3 * len(shown) + 0.4, 1.45 * len(view.models) + 0.5)
    axes = fig.subplots(len(view.models), len(shown), squeeze=False)
    cmap = matplotlib.colormaps["inferno"]
    for m, name in enumerate(view.models):
        peak = float(view.maps[m].max()) or 1.0
        for j, t in enumerate(shown):
            level = np.clip(view.maps[m, t] / peak, 0, 1)
            grey = 0.6 * view.frames[t].mean(axis=-1, keepdims=True)
            weight = OVERLAY_ALPHA * np.sqrt(level)[..., None]
            axes[m, j].imshow((1 - weight) * grey + weight * cmap(level)[..., :3], interpolation="nearest")
            axes[m, j].set_xticks([])
            axes[m, j].set_yticks([])
            if m == 0:
                axes[m, j].set_title(f"frame {t}", fontsize=7)
            if j == 0:
                axes[m, j].set_ylabel(name, fontsize=7)
    fig.suptitle(f"saliency ({'class logit' if view.score == 'logit' else 'loss'} gradient) of {view.video}"
                 f" (label {view.label}); predictions: "
                 + ", ".join(f"{n}: {p}" for n, p in zip(view.models, view.predictions)), fontsize=8)
    fig.tight_layout()
    return to_png(fig)


def saliency_curve_figure(view) -> bytes:
    """Each model's temporal saliency curve (share of the saliency per frame) of a ``SaliencyView`` -> PNG."""
    fig = new_figure(6.0, 2.8)
    ax = fig.subplots()
    for name, curve in zip(view.models, view.curves):
        ax.plot(np.arange(len(curve)), 100 * curve, marker=".", label=name)
    ax.set_xlabel("frame")
    ax.set_ylabel("share of saliency (%)")
    ax.set_title(f"temporal saliency of {view.video}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)


# -- prediction ----------------------------------------------------------------------------------


def prediction_step_figure(outcomes: list) -> bytes:
    """Figure C.9 from ``PredictionOutcome`` s: mean prediction MSE against attack step, (a) first frame, (b) BO frame;
    one line per budget -> PNG."""
    selectors = list(dict.fromkeys(o.selector for o in outcomes))
    fig = new_figure(4.4 * len(selectors), 3.2)
    axes = fig.subplots(1, len(selectors), squeeze=False, sharey=True)[0]  # one scale, so the panels compare
    for ax, selector in zip(axes, selectors):
        for o in (o for o in outcomes if o.selector == selector):
            ax.plot(range(len(o.step_mse)), o.step_mse, label=o.label.split(", ", 1)[1])
        ax.set_title(f"({'ab'[selectors.index(selector)] if len(selectors) <= 2 else selector}) attacking the"
                     f" {'BO-selected' if selector == 'bo' else selector} frame", fontsize=9)
        ax.set_xlabel("attack step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("prediction MSE")
    fig.tight_layout()
    return to_png(fig)


def prediction_frame_figure(outcomes: list) -> bytes:
    """From ``PredictionOutcome`` s, left: error of each predicted frame, clean and per setting; right: which input
    frame each setting attacked -> PNG."""
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(10.0, 3.2)
    left, right = fig.subplots(1, 2)
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    t = len(outcomes[0].clean_frame_mse)
    left.plot(range(2, t + 2), outcomes[0].clean_frame_mse, "k--", label="clean inputs")
    for o in outcomes:
        left.plot(range(2, t + 2), o.adversarial_frame_mse, marker=".", label=o.label)
    left.set_xlabel("predicted frame (x_t)")
    left.set_ylabel("MSE")
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    width = 0.8 / len(outcomes)
    for j, o in enumerate(outcomes):
        counts = np.bincount(o.attacked_frames, minlength=t)
        right.bar(np.arange(1, t + 1) + (j - (len(outcomes) - 1) / 2) * width, counts / max(len(o.attacked_frames), 1),
                  width, label=o.label)
    right.set_xlabel("attacked input frame (x_t)")
    right.set_ylabel("share of sequences")
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    fig.tight_layout()
    return to_png(fig)


def sensitivity_figure(curves: dict[str, list[float]], structural: dict[str, list[float]]) -> bytes:
    """Median frame sensitivity per model (solid) and I3D's structural path counts (dashed) against frame position."""
    fig = new_figure(7.5, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    for label, curve in curves.items():
        ax.plot(range(len(curve)), curve, marker="o", markersize=3, label=label)
    for style, (label, curve) in zip(("--", ":", "-."), structural.items()):
        ax.plot(range(len(curve)), curve, style, color="grey", label=label)
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set_xlabel("frame position")
    ax.set_ylabel("share of the input gradient × T")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)
