"""What did the attack do to a few videos? Their strips (Figure 8 style) and side-by-side videos.

The runner's examples (``examples/<cell key>/<position>.npz``) store the change of
the perturbed frames only (``delta``, (k, C, H, W)), the flow of those frames when
the attack has one (``flow``, (k, 2, H, W) in pixels) and the predictions. The
clean frames come from the cell's dataset, loaded again
(:class:`~deepsava.report.sources.Datasets`); when it cannot be loaded the strip
shows the difference only and says why.
"""

import re
from pathlib import Path

import numpy as np
import torch

from deepsava.errors import DeepSAVAError
from deepsava.report.elements import Example, Image
from deepsava.report.run import CellView, Run
from deepsava.report.sources import Datasets, class_name, class_names
from deepsava.report.strips import CONTEXT, StripBlock, context_frames, strip_figure

MAX_FRAMES_SHOWN = 2  # perturbed frames drawn per example video
VIDEO_FPS = 10  # slower than the usual 25 so that a single perturbed frame can be seen
VIDEO_HEIGHT = 192  # side-by-side videos are enlarged (nearest neighbour) to about this height
VIDEO_CRF = 12  # H.264 quality of the side-by-side videos: near-lossless (0.5-1 MB for 40 frames at 192 px)
FLOW_MODES = ("spatial", "combined")  # DeepSAVA's modes that move pixels by a flow field


def _hwc(frame: torch.Tensor) -> np.ndarray:
    """A frame (C, H, W), C 1 or 3, as an image (H, W, 3)."""
    array = frame.detach().float().cpu().numpy()
    return np.repeat(array, 3, axis=0).transpose(1, 2, 0) if array.shape[0] == 1 else array.transpose(1, 2, 0)


def side_by_side(clean: torch.Tensor, adversarial: torch.Tensor, perturbed: list[int]) -> torch.Tensor:
    """Clips (T, C, H, W) -> one to watch (T, 3, H', W'): original | adversarial, a red bar under perturbed frames,
    enlarged, even size."""
    adv = adversarial.float().clamp(0, 1).expand(-1, 3, -1, -1)
    t, _, h, w = adv.shape
    frame = torch.cat([clean.float().clamp(0, 1).expand(-1, 3, -1, -1), torch.ones(t, 3, h, 2), adv], dim=-1)
    bar = torch.full((t, 3, max(2, h // 16), frame.shape[-1]), 0.25)
    marked = [f for f in perturbed if 0 <= f < t]
    bar[marked, 0, :, -w:] = 1.0
    bar[marked, 1:, :, -w:] = 0.0
    frame = torch.cat([frame, bar], dim=-2)
    scale = max(1, VIDEO_HEIGHT // h)
    frame = frame.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    pad_h, pad_w = frame.shape[-2] % 2, frame.shape[-1] % 2
    return torch.nn.functional.pad(frame, (0, pad_w, 0, pad_h), value=1.0)


def pick_examples(candidates: list[tuple], count: int) -> list[tuple]:
    """``count`` of (sort key, cell, path, video id): successes first, each pass preferring unseen cells and videos."""
    ordered = sorted(candidates, key=lambda item: item[0])
    chosen, cells, videos = [], set(), set()
    for strict in (2, 1, 0):  # new cell and new video; new cell; anything
        for item in ordered:
            if len(chosen) == count:
                return chosen
            if item in chosen or (strict >= 1 and item[1].key in cells) or (strict == 2 and item[3] in videos):
                continue
            chosen.append(item)
            cells.add(item[1].key)
            videos.add(item[3])
    return chosen


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:60] or "video"


def label_text(label_source: str | None, name: str) -> str:
    """What the label of a video is: the dataset's true class, a label the user gave, or the clean prediction."""
    if label_source == "clean prediction":
        return f"true class = the model's clean prediction, {name} (no label was given)"
    if label_source == "given":
        return f"true class {name} (the label given)"
    return f"true class {name}"


def _record(run: Run, cell: CellView, video_id: str) -> dict:
    """The stored record of an example (examples are saved in the first repeat); {} when absent."""
    return next((r for r in run.records.get(cell.key, []) if r["video_id"] == video_id and not r.get("repeat")), {})


def _flow_notes(cell: CellView, flow) -> tuple[list[str], str]:
    """(notes, what the strip's flow panel says) for an example; nothing to say when its flow is drawn."""
    if flow is not None:
        return [], ""
    if cell.params.get("mode") in FLOW_MODES:
        return ["No flow field is stored with this example although the attack moves pixels by a flow (the run"
                " predates flow storage): the amplified difference shows the change."], "flow not stored"
    return ["No flow field is stored: no flow (additive attack); the amplified difference shows the change."], \
        "no flow\n(additive attack)"


def _example(index: int, out: Path, run: Run, cell: CellView, item: dict, datasets: Datasets,
             write_mp4: bool) -> Example:
    """Strip PNG and side-by-side mp4 of one stored example ``item`` (the arrays of its npz)."""
    frames = [int(f) for f in item["frames"]]
    delta = torch.from_numpy(item["delta"].astype(np.float32))  # (k, C, H, W)
    flow = item.get("flow")  # (k, 2, H, W) or None
    video_id = str(item["video_id"])
    ds, ids, why = datasets.get(cell.dataset)
    clean = adversarial = None  # (T, C, H, W)
    notes = []
    if ds is not None and video_id in ids:
        clean = ds[ids[video_id]][0].float()
        adversarial = clean.clone()
        adversarial[frames] = (clean[frames] + delta).clamp(0, 1)
    elif ds is not None:
        why = f"video {video_id} is not in the dataset as loaded again"
    if why:
        notes.append(f"Clean frames unavailable: {why}.")
    classes = class_names(cell.identity, ds, cell.checkpoint)
    before, after = class_name(classes, item["clean_pred"]), class_name(classes, item["adv_pred"])
    fooled = int(item["clean_pred"]) == int(item["label"]) != int(item["adv_pred"])
    label = label_text(_record(run, cell, video_id).get("label_source"), class_name(classes, item["label"]))
    title = f"{cell.model} · {cell.label} · {video_id}"
    example = Example(f"{title}: {label}", notes=notes)

    blocks = []
    for j, f in enumerate(frames[:MAX_FRAMES_SHOWN]):
        shown = context_frames(f, len(clean)) if clean is not None else [f]
        blocks.append(StripBlock(f, shown, set(shown) & set(frames),
                                 None if clean is None else [_hwc(clean[t]) for t in shown],
                                 None if adversarial is None else [_hwc(adversarial[t]) for t in shown],
                                 _hwc(delta[j]), None if flow is None else np.asarray(flow[j], dtype=float)))
    if int(item["clean_pred"]) != int(item["label"]):
        example.notes.append("The model misclassified this video before the attack: it was not attacked (FR counts"
                             " it out), so nothing changed.")
    if len(frames) > MAX_FRAMES_SHOWN:
        example.notes.append(f"{len(frames)} frames perturbed ({', '.join(map(str, frames))}); the first"
                             f" {MAX_FRAMES_SHOWN} are drawn.")
    flow_notes, missing_flow = _flow_notes(cell, flow)
    example.notes += flow_notes
    if adversarial is None:
        example.notes.append("Without the clean video only the difference is known: the strip shows the difference,"
                             " and no video is written.")
    stem = f"example-{index}"
    layout = ("" if clean is None else f"; each perturbed frame with up to {CONTEXT} frames either side, clean above,"
              " adversarial below, the perturbed ones framed in red")
    drawn = "" if flow is None else f"; flow field drawn (up to {float(np.hypot(flow[:, 0], flow[:, 1]).max()):.2f} px)"
    example.strip = Image(stem, example.title,
                          strip_figure(blocks, example.title, before, after, fooled, missing_flow),
                          f"figures/{stem}.png", f"before: {before}, after: {after}"
                          + (" (fooled)" if fooled else " (not fooled)") + layout + drawn)
    if write_mp4 and adversarial is not None:
        from deepsava.io import write_video

        path = out / "videos" / f"{stem}-{_file_stem(video_id)}.mp4"
        try:
            write_video(path, side_by_side(clean, adversarial, frames), fps=VIDEO_FPS, codec="h264", crf=VIDEO_CRF)
            example.video, example.mp4 = path.relative_to(out).as_posix(), path.read_bytes()
        except DeepSAVAError as err:
            example.notes.append(f"No video written: {err}")
    return example


def run_examples(run: Run, out: Path, count: int, write_mp4: bool) -> tuple[list[Example], list[str]]:
    """Up to ``count`` examples of the run's cells (successes, then failures, then videos the model misclassified
    before the attack; spread over cells and videos) -> (examples, notes)."""
    candidates = []
    for order, cell in enumerate(run.cells):
        folder = run.folder / "examples" / cell.key
        for rank, path in enumerate(sorted(folder.glob("[0-9]*.npz"))):
            try:
                with np.load(path) as data:
                    attacked = int(data["clean_pred"]) == int(data["label"])
                    success = attacked and int(data["label"]) != int(data["adv_pred"])
                    video_id = str(data["video_id"])
            except (OSError, ValueError, KeyError):
                continue
            candidates.append(((not success, not attacked, rank, order), cell, path, video_id))
    if not candidates:
        return [], ["The run saved no example perturbations (examples: 0, or no finished batch yet): no strips."]
    datasets, examples = Datasets(), []
    for index, (_, cell, path, _) in enumerate(pick_examples(candidates, count), start=1):
        with np.load(path) as data:
            item = {k: data[k] for k in data.files}
        examples.append(_example(index, out, run, cell, item, datasets, write_mp4))
    return examples, []
