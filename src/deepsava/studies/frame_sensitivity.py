"""Which frame positions a model is sensitive to: the control for "BO beats the first frame" (issue 15).

A frame's sensitivity in one video is its share of the video's input-gradient saliency
(:func:`deepsava.select.saliency.temporal_saliency` of the attack loss's gradient) times T, so
that 1 means "an average frame"; a model's sensitivity at position t is the median over videos.
A first frame far below 1 makes any other frame an easier target than frame 0, whatever a
selector does. For I3D the same shape follows from the architecture alone
(:func:`deepsava.models.i3d.temporal_paths`): its strided, "same"-padded windows along time reach
the edge frames through fewer paths, and even frames through more than odd ones.
"""

import torch

from deepsava.attacks.criteria import Misclassification
from deepsava.progress import progress_bar
from deepsava.select.saliency import input_gradient, pixel_saliency, temporal_saliency


def frame_sensitivity(model, videos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each frame's share of its video's loss-gradient saliency times T: videos (B, T, C, H, W), labels (B,) -> (B, T)."""
    gradient = input_gradient(model, Misclassification(), videos, labels, score="loss")
    return temporal_saliency(pixel_saliency(gradient)) * videos.shape[1]


def median_sensitivity(model, dataset, videos: int, batch_size: int, device: torch.device,
                       progress: bool = True) -> torch.Tensor:
    """Median :func:`frame_sensitivity` over the first ``videos`` clips of ``dataset`` -> (T,), on the CPU."""
    rows = []
    count = min(videos, len(dataset))
    with progress_bar("videos", enabled=progress, transient=True) as bar:
        task = bar.add_task(f"input gradients of {getattr(model, 'name', 'the model')}", total=count)
        for start in range(0, count, batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, count))]
            clips = torch.stack([clip for clip, _ in items]).to(device)
            labels = torch.tensor([label for _, label in items], device=device)
            rows.append(frame_sensitivity(model, clips, labels).cpu())
            bar.advance(task, len(items))
    return torch.cat(rows).median(dim=0).values
