"""Our SSIM against maintained libraries: speed of forward + backward, and agreement with scikit-image.

    python benchmarks/ssim_speed.py        (needs kornia and pytorch-msssim installed; they are not dependencies)

The attack computes SSIM of the perturbed frames every iteration, so its cost matters.
"""

import statistics
import time

import torch
from skimage.metrics import structural_similarity

from deepsava.perturb import ssim


def timed(fn, repeats=20):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import kornia
    import pytorch_msssim

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| implementation | frames | ms (forward+backward) | max abs difference to scikit-image |")
    print("|---|---|---|---|")
    for n, size in ((8, 64), (80, 64), (8, 224)):
        x = torch.rand(n, 3, size, size)
        y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
        ref = torch.tensor([structural_similarity(x[i].numpy(), y[i].numpy(), gaussian_weights=True, sigma=1.5,
                                                  use_sample_covariance=False, data_range=1.0, channel_axis=0)
                            for i in range(n)])
        impls = {
            "deepsava.perturb.ssim": lambda a, b: ssim(a, b),
            "kornia.metrics.ssim (mean of map)": lambda a, b: kornia.metrics.ssim(a, b, 11).flatten(1).mean(1),
            "pytorch_msssim.ssim": lambda a, b: pytorch_msssim.ssim(a, b, data_range=1.0, size_average=False),
        }
        for name, f in impls.items():
            def run():
                a = y.clone().requires_grad_(True)
                f(a, x).sum().backward()
            diff = (f(y, x) - ref).abs().max().item()
            print(f"| {name} | {n}×{size}² | {timed(run) * 1e3:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
