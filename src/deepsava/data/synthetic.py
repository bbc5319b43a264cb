"""synth-actions: RGB action clips told apart by motion, generated offline with NumPy.

Twelve classes in six pairs; within a pair, single frames follow the same
distribution and only the motion tells the classes apart:

=========================  =================================================
move-left / move-right     the main object crosses the frame horizontally
move-up / move-down        ... vertically
rotate-cw / rotate-ccw     it turns clockwise / counter-clockwise on screen
grow / shrink              its size grows / shrinks by a factor 2.2–3.2
pan-left / pan-right       the camera pans left (scene moves right) / right
oscillate-h / oscillate-v  it swings back and forth horizontally / vertically
=========================  =================================================

Each pair has its own scene palette (grass, water, sand, street, dusk, autumn),
like the context of real action footage, so a frame-wise model can find the pair
but not the class in it and tops out near 50%. Every clip also has random shapes
(disc, square, triangle, cross, bar, ring) with striped textures, colours, sizes,
speeds and start positions, 0–2 slowly drifting distractors, a multi-octave
noise background with soft blobs, motion blur, camera jitter, gain changes and
pixel noise.

Measured once (64 px, 40 frames, 50 clips per class, one training run each):
a frame-wise 2D CNN reached 52% on the test split, a small 3D CNN 56% and the
same 3D CNN fed frame differences 83%; with 100 clips per class 48%, 91% and 97%.

Clip ``(label, k)`` depends only on ``(seed, label, k, frames, size)``, so caches
and splits are reproducible. The split is stratified 70/30 per class.
"""

import time
from pathlib import Path

import numpy as np
from deepsava.progress import progress_bar

from deepsava.data.base import ArrayVideoDataset
from deepsava.data.cache import atomic_path, cache_root, open_array
from deepsava.errors import InvalidArgumentError

CLASSES = (
    "move-left", "move-right", "move-up", "move-down",
    "rotate-cw", "rotate-ccw", "grow", "shrink",
    "pan-left", "pan-right", "oscillate-h", "oscillate-v",
)  # fmt: skip
SIZES = (64, 112, 224)
VERSION = 2  # bump when the generator changes, so stale caches are not reused
TRAIN_FRACTION = 0.7
SUBSAMPLES = 3  # time samples per frame for motion blur
# (dark, light) RGB of each pair's scene: grass, water, sand, street, dusk, autumn
PALETTES = np.array(
    [
        [[0.15, 0.30, 0.10], [0.55, 0.72, 0.30]],
        [[0.05, 0.15, 0.35], [0.40, 0.62, 0.85]],
        [[0.40, 0.30, 0.15], [0.85, 0.75, 0.50]],
        [[0.22, 0.22, 0.25], [0.65, 0.65, 0.68]],
        [[0.25, 0.10, 0.30], [0.70, 0.50, 0.75]],
        [[0.45, 0.15, 0.05], [0.90, 0.55, 0.20]],
    ],
    dtype=np.float32,
)


def synth_actions(
    split: str = "train",
    frames: int = 40,
    size: int = 64,
    seed: int = 0,
    num_classes: int = 12,
    videos_per_class: int = 50,
    progress: bool = True,
    extra_test: int = 0,
) -> ArrayVideoDataset:
    """The ``split`` (``"train"`` or ``"test"``) of synth-actions, generated and cached on first use.

    Items are ``(clip float32 (frames, 3, size, size), label)``; ids look like
    ``synth-actions/move-left/0007``. The first ``num_classes`` classes of
    :data:`CLASSES` are used (keep it even so that pairs stay whole). ``extra_test``
    more clips per class (numbers ``videos_per_class`` onwards, so never in the training
    split of ``videos_per_class``) join the test split: a larger evaluation set for the
    same trained models (e.g. 50 + 85 = 100 test clips per class).
    """
    if split not in ("train", "test"):
        raise InvalidArgumentError(f"unknown split {split!r}: use train or test")
    _check_params(num_classes, videos_per_class, frames, size)
    if isinstance(extra_test, bool) or not isinstance(extra_test, int) or not 0 <= extra_test <= 10_000:
        raise InvalidArgumentError(f"extra_test must be an integer in [0, 10000], got {extra_test!r}")
    per_class = videos_per_class + extra_test  # clips rendered per class; the first videos_per_class are split
    path = cache_file(frames, size, seed, num_classes, videos_per_class, extra_test)
    if not path.exists():
        generate(path, frames, size, seed, num_classes, per_class, progress)
    videos = np.load(path, mmap_mode="r")
    rows, labels, ids = [], [], []
    for label in range(num_classes):
        train = split_indices(seed, label, videos_per_class)
        chosen = train if split == "train" else sorted(set(range(per_class)) - set(train))
        for k in chosen:
            rows.append(label * per_class + k)
            labels.append(label)
            ids.append(f"synth-actions/{CLASSES[label]}/{k:04d}")
    return ArrayVideoDataset(videos, rows, list(CLASSES[:num_classes]), ids, labels, source=path)


def cache_file(frames: int, size: int, seed: int, num_classes: int, videos_per_class: int, extra_test: int = 0) -> Path:
    """Where the whole generated set (all classes, both splits, the extra test clips) is cached."""
    extra = f"-x{extra_test}" if extra_test else ""
    name = f"synth-actions-v{VERSION}-c{num_classes}-n{videos_per_class}{extra}-t{frames}-s{size}-seed{seed}.npy"
    return cache_root() / name


def split_indices(seed: int, label: int, videos_per_class: int) -> list[int]:
    """Sorted indices ``k`` of one class's training videos (the first 70% of a seeded permutation)."""
    order = np.random.default_rng([seed, label, 1_000_003]).permutation(videos_per_class)
    return sorted(order[: round(TRAIN_FRACTION * videos_per_class)].tolist())


def generate(
    path: Path, frames: int, size: int, seed: int, num_classes: int, videos_per_class: int, progress: bool = True
) -> float:
    """Render every clip into ``path`` (uint8 ``(N, T, 3, H, W)``, class-major); return the seconds taken."""
    start = time.perf_counter()
    total = num_classes * videos_per_class
    with atomic_path(path) as tmp, progress_bar("videos", enabled=progress, transient=True) as bar:
        videos = open_array(tmp, (total, frames, 3, size, size))
        task = bar.add_task(f"generating synth-actions ({total} clips, {size}px)", total=total)
        for label in range(num_classes):
            for k in range(videos_per_class):
                videos[label * videos_per_class + k] = render_clip(seed, label, k, frames, size)
                bar.advance(task)
        videos.flush()
        del videos
    return time.perf_counter() - start


def render_clip(seed: int, label: int, k: int, frames: int = 40, size: int = 64) -> np.ndarray:
    """Clip ``k`` of class ``label``: uint8 ``(frames, 3, size, size)``."""
    rng = np.random.default_rng([seed, label, k])
    times = _frame_times(rng, frames)  # (S, T) in [0, 1]

    # the scene moves by (shift_x, shift_y) pixels: camera pan plus per-frame jitter
    jitter = rng.normal(0, rng.uniform(0, 0.3) * size / 64, (2, 1, frames))
    pan = np.zeros_like(times)
    if CLASSES[label].startswith("pan"):
        pan = rng.uniform(0.25, 0.6) * size * (times - 0.5) * (1 if CLASSES[label] == "pan-left" else -1)
    shift_x = (pan + jitter[0]).astype(np.float32)
    shift_y = np.broadcast_to(jitter[1], times.shape).astype(np.float32)

    margin = int(np.ceil(0.35 * size)) + 4
    background = _texture(rng, size + 2 * margin, size + 2 * margin, PALETTES[label // 2], size)
    out = _crop_shifted(background, shift_x, shift_y, size)  # (T, H, W, 3)

    objects = [_main_object(rng, label, times, size)]
    objects += [_distractor(rng, times, size) for _ in range(rng.integers(0, 3))]
    order = rng.permutation(len(objects))  # the main object is not always in front
    for i in order:
        _draw_object(out, *objects[i], shift_x, shift_y)

    out = out * rng.uniform(0.8, 1.15) + rng.uniform(-0.06, 0.06)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(rng.uniform(0.01, 0.05))
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)


# --- scene pieces -------------------------------------------------------------------


def _frame_times(rng, frames: int) -> np.ndarray:
    """Normalised times ``(S, T)``: frame centres in [0, 1], spread over the exposure for motion blur."""
    centres = np.linspace(0, 1, frames, dtype=np.float32) if frames > 1 else np.zeros(1, np.float32)
    exposure = rng.uniform(0.3, 1.0) / max(frames - 1, 1)
    return centres[None, :] + exposure * np.linspace(-0.5, 0.5, SUBSAMPLES, dtype=np.float32)[:, None]


def _texture(rng, height: int, width: int, palette: np.ndarray, size: int) -> np.ndarray:
    """A natural-looking background ``(height, width, 3)``: multi-octave noise in a palette, plus soft blobs."""
    roughness = rng.uniform(0.6, 1.3)
    field = np.zeros((height, width), np.float32)
    chroma = np.zeros((height, width, 3), np.float32)
    for octave in range(1, 6):
        cells = 2**octave * width / size
        amplitude = 2.0 ** (-roughness * octave)
        field += amplitude * _smooth_noise(rng, height, width, cells, 1)[..., 0]
        if octave <= 2:
            chroma += 0.5 * amplitude * _smooth_noise(rng, height, width, cells, 3)
    field = (field - field.mean()) / (field.std() + 1e-6)
    dark, light = palette + rng.normal(0, 0.05, palette.shape).astype(np.float32)
    mix = 1 / (1 + np.exp(-rng.uniform(0.8, 2.0) * field))[..., None]
    image = dark + (light - dark) * mix + 0.15 * chroma
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(rng.integers(3, 9)):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        sigma = rng.uniform(0.04, 0.15) * size
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))[..., None]
        colour = palette[rng.integers(2)] + rng.normal(0, 0.08, 3).astype(np.float32)
        image += rng.uniform(0.3, 0.8) * blob * (colour - image)
    return np.clip(image, 0, 1)


def _smooth_noise(rng, height: int, width: int, cells: float, channels: int) -> np.ndarray:
    """Value noise ``(height, width, channels)`` with about ``cells`` cells across, smoothstep-interpolated."""
    gh, gw = int(np.ceil(cells * height / width)) + 2, int(np.ceil(cells)) + 2
    grid = rng.standard_normal((gh, gw, channels), dtype=np.float32)
    y = np.linspace(0, gh - 2, height, endpoint=False, dtype=np.float32)
    x = np.linspace(0, gw - 2, width, endpoint=False, dtype=np.float32)
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = y - y0, x - x0
    fy, fx = (fy * fy * (3 - 2 * fy))[:, None, None], (fx * fx * (3 - 2 * fx))[None, :, None]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _crop_shifted(image: np.ndarray, shift_x: np.ndarray, shift_y: np.ndarray, size: int) -> np.ndarray:
    """The central ``size × size`` window of ``image`` with its content moved by ``(shift_x, shift_y)`` px.

    Shifts are ``(S, T)`` and may be fractional (bilinear); the ``S`` time samples of a
    frame are averaged (motion blur). Returns ``(T, size, size, 3)``.
    """
    height, width = image.shape[:2]
    out = np.zeros((shift_x.shape[1], size, size, 3), np.float32)
    for (s, t), dx in np.ndenumerate(shift_x):
        x, y = (width - size) / 2 - dx, (height - size) / 2 - shift_y[s, t]
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = np.float32(x - x0), np.float32(y - y0)
        win = image[y0 : y0 + size + 1, x0 : x0 + size + 1]
        top = win[:-1, :-1] * (1 - fx) + win[:-1, 1:] * fx
        bottom = win[1:, :-1] * (1 - fx) + win[1:, 1:] * fx
        out[t] += top * (1 - fy) + bottom * fy
    return out / shift_x.shape[0]


def _main_object(rng, label: int, times: np.ndarray, size: int):
    """Motion ``(cx, cy, radius, angle)``, each ``(S, T)`` in pixels/radians, and look of the class's object."""
    name = CLASSES[label]
    drift = rng.normal(0, 0.03, 2)[:, None, None] * size * (times - 0.5)
    cx, cy = rng.uniform(0.25, 0.75, 2)[:, None, None] * size + drift
    radius = np.full_like(times, rng.uniform(0.09, 0.17) * size)
    angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.1, 0.1) * np.pi * times
    if name.startswith("move"):
        length = rng.uniform(0.3, 0.65) * size
        sign = -1 if name in ("move-left", "move-up") else 1
        along = rng.uniform(0.12 * size + length / 2, 0.88 * size - length / 2) + sign * length * (times - 0.5)
        cx, cy = (along, cy) if name in ("move-left", "move-right") else (cx, along)
    elif name.startswith("rotate"):
        sign = 1 if name == "rotate-cw" else -1  # image y points down: a growing angle turns clockwise
        angle = angle + sign * rng.uniform(0.8, 1.8) * np.pi * times
    elif name in ("grow", "shrink"):
        factor = rng.uniform(2.2, 3.2)
        radius = rng.uniform(0.05, 0.09) * size * factor ** (times if name == "grow" else 1 - times)
    elif name.startswith("oscillate"):
        amplitude, cycles, phase = rng.uniform(0.1, 0.22), rng.uniform(1, 2.5), rng.uniform(0, 2 * np.pi)
        swing = amplitude * size * np.sin(2 * np.pi * cycles * times + phase)
        cx, cy = (cx + swing, cy) if name == "oscillate-h" else (cx, cy + swing)
    return (cx, cy, radius, angle), _look(rng)


def _distractor(rng, times: np.ndarray, size: int):
    """A smaller object drifting slowly, the same for every class."""
    drift = rng.normal(0, 0.05, 2)[:, None, None] * size * (times - 0.5)
    cx, cy = rng.uniform(0.1, 0.9, 2)[:, None, None] * size + drift
    radius = np.full_like(times, rng.uniform(0.04, 0.08) * size)
    angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.1, 0.1) * np.pi * times
    return (cx, cy, radius, angle), _look(rng)


def _look(rng) -> tuple:
    """Shape id, two colours and a stripe texture (frequency, direction, phase) of an object."""
    first = rng.uniform(0, 1, 3).astype(np.float32)
    second = np.clip(first * rng.uniform(0.2, 0.7) + rng.uniform(0, 0.3, 3), 0, 1).astype(np.float32)
    return int(rng.integers(6)), first, second, rng.uniform(0.8, 2.5), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)


def _draw_object(frames: np.ndarray, motion, look, shift_x: np.ndarray, shift_y: np.ndarray) -> None:
    """Composite one motion-blurred object over ``frames`` ``(T, H, W, 3)`` in place.

    It is rendered in a box that follows it (the same box size for every frame),
    then pasted where the box meets the frame.
    """
    cx, cy, radius, angle = (np.asarray(m, np.float32) for m in motion)
    cx, cy = cx + shift_x, cy + shift_y  # (S, T): the object moves with the scene
    centre_x, centre_y = cx.mean(axis=0), cy.mean(axis=0)  # (T,)
    spread = max(np.abs(cx - centre_x).max(), np.abs(cy - centre_y).max())
    box = int(np.ceil(2 * (1.2 * radius.max() + spread + 1)))
    left = np.floor(centre_x - box / 2).astype(int)
    top = np.floor(centre_y - box / 2).astype(int)
    steps = np.arange(box, dtype=np.float32) + 0.5
    dx = (left[:, None] + steps)[None, :, None, :] - cx[..., None, None]  # (S, T, 1, box)
    dy = (top[:, None] + steps)[None, :, :, None] - cy[..., None, None]  # (S, T, box, 1)
    cos, sin, radius = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None], radius[..., None, None]
    u, v = (cos * dx + sin * dy) / radius, (cos * dy - sin * dx) / radius
    shape, first, second, frequency, direction, phase = look
    alpha = np.clip(0.5 - _sdf(shape, u, v) * radius, 0, 1)
    across = u * np.float32(np.cos(direction)) + v * np.float32(np.sin(direction))
    stripes = np.sin(np.float32(np.pi * frequency) * across + np.float32(phase))
    colour = (first + second) / 2 + (second - first) / 2 * stripes[..., None]
    cover, paint = alpha.mean(axis=0)[..., None], (alpha[..., None] * colour).mean(axis=0)  # (T, box, box, .)
    height, width = frames.shape[1:3]
    for t in range(frames.shape[0]):
        y0, y1 = max(top[t], 0), min(top[t] + box, height)
        x0, x1 = max(left[t], 0), min(left[t] + box, width)
        if y0 < y1 and x0 < x1:
            inside = (slice(y0 - top[t], y1 - top[t]), slice(x0 - left[t], x1 - left[t]))
            region = frames[t, y0:y1, x0:x1]
            region *= 1 - cover[t][inside]
            region += paint[t][inside]


def _sdf(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (in radii, negative inside) to a disc, square, triangle, cross, bar or ring."""
    au, av = np.abs(u), np.abs(v)
    if shape == 0:
        return np.hypot(u, v) - 1
    if shape == 1:
        return np.maximum(au, av) - 0.8
    if shape == 2:
        edges = [u * np.cos(a) + v * np.sin(a) for a in np.pi / 2 + np.arange(3) * 2 * np.pi / 3]
        return np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - 0.5
    if shape == 3:
        return np.minimum(np.maximum(au - 1, av - 0.3), np.maximum(au - 0.3, av - 1))
    if shape == 4:
        return np.maximum(au - 1, av - 0.4)
    return np.abs(np.hypot(u, v) - 0.7) - 0.3


def _check_params(num_classes: int, videos_per_class: int, frames: int, size: int) -> None:
    if not 1 <= num_classes <= len(CLASSES):
        raise InvalidArgumentError(f"num_classes must be in 1..{len(CLASSES)}, got {num_classes}")
    if videos_per_class < 2:
        raise InvalidArgumentError(f"videos_per_class must be at least 2 (one per split), got {videos_per_class}")
    if frames < 2:
        raise InvalidArgumentError(f"frames must be at least 2 for motion to show, got {frames}")
    if size not in SIZES:
        raise InvalidArgumentError(f"size must be one of {', '.join(map(str, SIZES))}, got {size}")
