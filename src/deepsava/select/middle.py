"""A control for the first frame: the k frames centred on the middle of the clip."""

import torch


class MiddleFrames:
    """Frames (T - k) // 2 ... (T - k) // 2 + k - 1: away from both ends, where temporal strides pad."""

    name = "middle"

    def select(self, attack, videos, labels, k, generator) -> torch.Tensor:
        """(B, k) the same centred frames for every video (the earlier centre when T - k is odd)."""
        start = (videos.shape[1] - k) // 2
        return torch.arange(start, start + k, device=videos.device).expand(videos.shape[0], k).clone()
