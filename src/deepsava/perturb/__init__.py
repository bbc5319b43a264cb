"""Perturbation building blocks: SSIM, flow warping, norms and the combined perturbation."""

from deepsava.perturb.combined import MODES, apply_perturbation, frames_to_mask, gather_frames, scatter_frames
from deepsava.perturb.flow import flow_smoothness, warp
from deepsava.perturb.norms import frame_rms, l21, linf
from deepsava.perturb.ssim import frame_ssim, ssim, video_ssim

__all__ = [
    "MODES", "apply_perturbation", "frames_to_mask", "gather_frames", "scatter_frames",
    "flow_smoothness", "warp", "frame_rms", "l21", "linf", "frame_ssim", "ssim", "video_ssim",
]
