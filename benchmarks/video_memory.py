"""Peak memory and time of decoding a few frames of a long, large video (10 minutes of 1080p).

    OMP_NUM_THREADS=1 python benchmarks/video_memory.py [--video PATH] [--minutes 10]

Without ``--video`` it generates ``$TMPDIR/deepsava-bench/long_1080p_<minutes>min.mp4`` once
(H.264, 1920x1080, 25 fps, a keyframe every 250 frames: x264's default; several minutes on 2
cores) and reuses it afterwards. Each measurement runs in a fresh process, so its peak
resident memory (``ru_maxrss``) is its own: a process that only imports deepsava and opens
the file is the baseline, then ``load_video`` samples 40 frames at 112x112 and at the
native size, with and without seeking. Holding the whole video would take
frames x 1080 x 1920 x 3 bytes (93 GB for 15,000 frames).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

MEASURE = """
import json, resource, sys, time
import deepsava.io as io
path, frames, size, seek = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "seek"
if not seek:
    io.SEEK_GAP = 10**12
start = time.perf_counter()
if frames:
    clip = io.load_video(path, frames=frames, size=size)
    shape = list(clip.shape)
else:
    info = io.video_info(path)
    shape = [info.frames, 3, info.height, info.width]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shape": shape}))
"""


def generate(path: Path, minutes: float, fps: int = 25, height: int = 1080, width: int = 1920) -> None:
    """A moving colour pattern, H.264 ultrafast; written to a temporary name and renamed when complete."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([(xs * 255 // width), (ys * 255 // height), ((xs + ys) % 256)], axis=-1).astype(np.uint8)
    count = int(minutes * 60 * fps)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28", "threads": "1"}
        for i in range(count):
            frame = np.roll(base, shift=(i * 3) % width, axis=1)
            frame[(i * 7) % (height - 40):][:40] = 255 - frame[(i * 7) % (height - 40):][:40]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            if i % 1500 == 0:
                print(f"  generating: frame {i}/{count}", flush=True)
        container.mux(stream.encode())
    tmp.rename(path)


def measure(path: Path, frames: int, size, seek: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(frames), json.dumps(size),
                          "seek" if seek else "sequential"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, help="an existing video to measure instead of the generated one")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated video")
    parser.add_argument("--no-sequential", action="store_true", help="skip the (slow) decodes without seeking")
    args = parser.parse_args()
    path = args.video or Path(tempfile.gettempdir()) / "deepsava-bench" / f"long_1080p_{args.minutes:g}min.mp4"
    if not path.is_file():
        start = time.perf_counter()
        print(f"generating {path} ...", flush=True)
        generate(path, args.minutes)
        print(f"generated in {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{path}: {path.stat().st_size / 1e6:.0f} MB")
    print("| what | frames kept | seeking | peak RSS (MB) | seconds |")
    print("|---|---|---|---|---|")
    cases = [("import deepsava, read the header (baseline)", 0, None, True),
             ("load_video(frames=40, size=112)", 40, 112, True),
             ("load_video(frames=40, size=None): native 1080p", 40, None, True)]
    if not args.no_sequential:
        cases += [("load_video(frames=40, size=112), no seeking", 40, 112, False)]
    for name, frames, size, seek in cases:
        row = measure(path, frames, size, seek)
        print(f"| {name} | {'x'.join(map(str, row['shape']))} | {'yes' if seek else 'no'} | {row['peak_mb']:.0f} |"
              f" {row['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
