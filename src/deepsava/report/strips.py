"""How is one attacked video drawn (the paper's Figure 8)? Each perturbed frame among its neighbours, the change
amplified, and the flow field as a colour wheel -> PNG bytes."""

import math
from dataclasses import dataclass

import numpy as np

from deepsava.report.figures import new_figure, to_png

CONTEXT = 2  # frames drawn on either side of a perturbed frame
MARK = "#d62728"  # the colour that marks a perturbed frame and a fooled prediction


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """A flow field (2, H, W) in pixels (channel 0 horizontal) as colours (H, W, 3) in [0, 1].

    Hue gives the direction, saturation the length relative to ``max_magnitude``
    (default: the field's largest length), white is no motion (the usual colour wheel).
    """
    from matplotlib.colors import hsv_to_rgb

    u, v = np.asarray(flow[0], dtype=float), np.asarray(flow[1], dtype=float)
    magnitude = np.hypot(u, v)
    top = max_magnitude if max_magnitude else float(magnitude.max())
    hue = (np.arctan2(-v, -u) / (2 * math.pi) + 0.5) % 1.0
    saturation = np.clip(magnitude / top, 0, 1) if top > 0 else np.zeros_like(magnitude)
    return hsv_to_rgb(np.stack([hue, saturation, np.ones_like(hue)], axis=-1))


def colour_wheel(size: int = 64) -> np.ndarray:
    """The legend of :func:`flow_to_rgb`: (size, size, 4) RGBA, transparent outside the unit disc."""
    r = np.linspace(-1, 1, size)
    x, y = np.meshgrid(r, r)
    rgb = flow_to_rgb(np.stack([x, y]), max_magnitude=1.0)
    alpha = (np.hypot(x, y) <= 1).astype(float)[..., None]
    return np.concatenate([rgb, alpha], axis=-1)


def amplification(delta: np.ndarray) -> float:
    """The gain that maps the largest absolute change to half the grey range (at most 100x)."""
    peak = float(np.abs(delta).max())
    return min(100.0, 0.5 / peak) if peak > 0 else 1.0


def context_frames(frame: int, length: int, context: int = CONTEXT) -> list[int]:
    """The frame indices ``frame - context .. frame + context`` that exist in a video of ``length`` frames."""
    return list(range(max(0, frame - context), min(length, frame + context + 1)))


@dataclass
class StripBlock:
    """One perturbed frame in its context: images (H, W, 3) in [0, 1]; clean and adversarial None when unknown."""

    frame: int
    shown: list[int]  # the frame indices drawn, ``frame`` among them
    perturbed: set  # the indices of ``shown`` the attack changed (marked)
    clean: list[np.ndarray] | None  # one image per shown frame
    adversarial: list[np.ndarray] | None
    delta: np.ndarray  # adversarial - clean of ``frame``
    flow: np.ndarray | None = None  # (2, H, W) pixels, the flow of ``frame``


def _show(ax, image, head: str = "", foot: str = "", colour: str = "black", marked: bool = False) -> None:
    if image is not None:
        ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
    ax.set_title(head, fontsize=7, color=MARK if marked else "black", fontweight="bold" if marked else "normal")
    ax.set_xlabel(foot, fontsize=7, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(MARK if marked else "#999")
        spine.set_linewidth(2.5 if marked else 0.5)


def _flow_panel(ax, flow: np.ndarray | None, missing: str) -> None:
    if flow is None:
        _show(ax, None, "flow field")
        ax.text(0.5, 0.5, missing, ha="center", va="center", fontsize=7, wrap=True, transform=ax.transAxes)
        return
    _show(ax, flow_to_rgb(flow), "flow field", f"max {float(np.hypot(flow[0], flow[1]).max()):.2f} px")
    inset = ax.inset_axes([0.72, 0.72, 0.28, 0.28])
    inset.imshow(colour_wheel())
    inset.axis("off")


def strip_figure(blocks: list[StripBlock], title: str, before: str, after: str, fooled: bool,
                 missing_flow: str) -> bytes:
    """Per perturbed frame: the clean row and the adversarial row of its context (the perturbed frames framed in
    red), then the amplified difference and the flow field (``missing_flow``: what to write when there is none) -> PNG.

    ``before``/``after`` are the predictions, written beside the clean and adversarial rows; the adversarial one is
    red when the model was fooled (as in the paper's Figure 8). Without the clean video a block is one row:
    difference and flow.
    """
    known = [b for b in blocks if b.clean is not None]
    columns = max([len(b.shown) + 1 for b in known] + [2])
    rows = sum(2 if b.clean is not None else 1 for b in blocks)
    fig = new_figure(1.55 * columns + 0.6, 1.95 * rows + 0.5)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    row = 0
    for block in blocks:
        gain = amplification(block.delta)
        difference = np.clip(0.5 + block.delta * gain, 0, 1)
        head, foot = f"difference ×{gain:.0f}, frame {block.frame}", f"max |Δ| {np.abs(block.delta).max():.3f}"
        if block.clean is None:  # the predictions still belong on the strip
            for ax in axes[row, :2]:
                ax.set_visible(True)
            _show(axes[row, 0], difference, head, f"{foot}; pred {before} → {after}", MARK if fooled else "black")
            _flow_panel(axes[row, 1], block.flow, missing_flow)
            row += 1
            continue
        for line, (images, name, pred, colour) in enumerate(
                ((block.clean, "clean", before, "black"), (block.adversarial, "adversarial", after,
                                                           MARK if fooled else "black"))):
            for j, (t, image) in enumerate(zip(block.shown, images)):
                ax = axes[row + line, j]
                ax.set_visible(True)
                marked = t in block.perturbed
                _show(ax, image, f"frame {t}" + (" (perturbed)" if marked else ""), marked=marked)
                if j == 0:
                    ax.set_ylabel(f"{name}\npred: {pred}", fontsize=7, color=colour)
        axes[row, -1].set_visible(True)
        _show(axes[row, -1], difference, head, foot)
        axes[row + 1, -1].set_visible(True)
        _flow_panel(axes[row + 1, -1], block.flow, missing_flow)
        row += 2
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(h_pad=1.2)
    return to_png(fig)
