"""Video files in and out with PyAV: decoding with temporal sampling, lossless and H.264 writing.

Decoded clips follow :mod:`deepsava.video`: float32 ``(T, 3, H, W)`` in ``[0, 1]``
(or uint8 ``0..255`` when asked, for caches). Every problem with a file becomes an
:class:`~deepsava.errors.InvalidVideoError` naming the file.
"""

import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from deepsava.errors import InvalidArgumentError, InvalidVideoError
from deepsava.video import check_clip

SAMPLINGS = ("stride", "uniform", "random")
SHORT_POLICIES = ("loop", "pad", "refuse")
SEEK_GAP = 64  # a sampled frame further ahead than this many frames is reached by seeking
# what PyAV raises on a damaged file (metadata that is not UTF-8 fails while opening)
READ_ERRORS = (av.FFmpegError, UnicodeDecodeError)
TRUNCATION_SLACK = 0.05  # fewer decodable frames than the header announces, by more than this share: truncated
# codec name -> (encoder, pixel format, allowed file suffixes)
CODECS = {
    "ffv1": ("ffv1", "bgr0", (".mkv", ".avi")),  # lossless: bgr0 holds rgb24 exactly
    "h264": ("libx264", "yuv420p", (".mp4", ".mkv")),  # lossy, for viewing and compression studies
}


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: frame count, frame rate and frame size in pixels."""

    frames: int
    fps: float
    height: int
    width: int


def video_info(path) -> VideoInfo:
    """Frame count, fps and size of a video file, without decoding it.

    The count comes from the container header, or from counting packets when the
    header has none (e.g. Matroska).
    """
    path = _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        count = stream.frames or _count_packets(container, stream, path)
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoInfo(count, fps, stream.codec_context.height, stream.codec_context.width)


def sample_indices(
    num_frames: int, frames: int, sampling: str = "stride", short: str = "loop", seed=None, name: str = "video"
) -> np.ndarray:
    """Indices of the ``frames`` frames to keep out of ``num_frames``, shape ``(frames,)``.

    Sampling (when the video has at least ``frames`` frames):

    - ``"stride"``: the paper's pipeline, every ``num_frames // frames``-th frame from frame 0;
    - ``"uniform"``: evenly spaced over the whole video, first and last frame included;
    - ``"random"``: the same stride from a random start offset (seeded by ``seed``).

    A video shorter than ``frames`` follows ``short``: ``"loop"`` plays it again from
    the start, ``"pad"`` repeats its last frame, ``"refuse"`` raises InvalidVideoError.
    ``frames`` must be at least 1 (InvalidArgumentError).
    """
    _check_choice("sampling", sampling, SAMPLINGS)
    _check_choice("short", short, SHORT_POLICIES)
    for label, value in (("frames", frames), ("num_frames", num_frames)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidArgumentError(f"{label} must be an integer, got {value!r}")
    if frames < 1:
        raise InvalidArgumentError(f"frames must be at least 1, got {frames}")
    if num_frames < 1:
        raise InvalidVideoError(f"{name} has no frames")
    steps = np.arange(frames)
    if num_frames < frames:
        if short == "refuse":
            raise InvalidVideoError(
                f"{name} has {num_frames} frames, fewer than the {frames} asked for (short='refuse')"
            )
        return steps % num_frames if short == "loop" else np.minimum(steps, num_frames - 1)
    if sampling == "uniform":
        return np.linspace(0, num_frames - 1, frames).round().astype(np.int64)
    stride = num_frames // frames
    start = 0
    if sampling == "random":
        try:
            rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as err:
            raise InvalidArgumentError(f"seed must be None, a non-negative integer or a list of them: {err}") from None
        start = int(rng.integers(0, num_frames - (frames - 1) * stride))
    return start + steps * stride


def load_video(
    path,
    frames: int | None = 40,
    size=112,
    sampling: str = "stride",
    short: str = "loop",
    seed=None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Decode ``frames`` frames of a video file into a clip ``(frames, 3, H, W)``.

    ``frames=None`` keeps every frame. Temporal sampling and the policy for videos
    shorter than ``frames`` are those of :func:`sample_indices`
    (``sampling="stride" | "uniform" | "random"``, ``short="loop" | "pad" | "refuse"``).
    ``size``: an int resizes the short side to ``size`` and crops the centre square;
    ``(H, W)`` resizes straight to that size (no crop, as the authors' pipeline does
    at 224×224); ``None`` keeps the native size. Grey videos come out with 3 channels.
    Only the sampled frames are converted and kept; a sampled frame more than
    ``SEEK_GAP`` frames ahead is reached by seeking to the keyframe before it (exact:
    frame indices come from timestamps; a stream without a constant frame rate is
    decoded in order instead), so memory and time do not grow with the video's length.

    Returns float32 in ``[0, 1]``, or uint8 in ``0..255`` with ``dtype=torch.uint8``.
    Raises InvalidVideoError for a missing, empty, corrupted or non-video file.
    """
    if frames is not None and (not isinstance(frames, int) or frames < 1):
        raise InvalidArgumentError(f"frames must be a positive int or None, got {frames!r}")
    if dtype not in (torch.float32, torch.uint8):
        raise InvalidArgumentError(f"dtype must be torch.float32 or torch.uint8, got {dtype}")
    _check_choice("sampling", sampling, SAMPLINGS)
    _check_choice("short", short, SHORT_POLICIES)
    _check_size(size)
    path = _check_file(path)
    array = _decode(path, frames, video_info(path).frames, size, sampling, short, seed)
    clip = torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
    return clip if dtype == torch.uint8 else clip.float().div_(255)


def read_frames(path) -> torch.Tensor:
    """Every frame of a video at its native size: float32 ``(T, 3, H, W)`` in ``[0, 1]``."""
    return load_video(path, frames=None, size=None)


def to_uint8(clip: torch.Tensor) -> torch.Tensor:
    """A clip in ``[0, 1]`` as uint8 levels ``round(255 x)``, same shape."""
    return clip.detach().clamp(0, 1).mul(255).round().to(torch.uint8)


def quantize(clip: torch.Tensor) -> torch.Tensor:
    """A clip rounded to the 8-bit levels ``k / 255`` a video file can hold, same shape and dtype."""
    return clip.clamp(0, 1).mul(255).round().div(255)


def write_video(path, clip: torch.Tensor, fps: float = 25, codec: str = "ffv1", crf: int = 23) -> Path:
    """Write a clip ``(T, C, H, W)`` in ``[0, 1]`` (C = 1 or 3) to a video file; return the path.

    ``codec="ffv1"`` (.mkv or .avi) is lossless: reading the file back gives
    ``quantize(clip)`` exactly. ``codec="h264"`` (.mp4 or .mkv, yuv420p, quality
    ``crf`` 0–51, lower is better) is lossy and needs even height and width. The
    same clip always gives the same bytes.
    """
    check_clip(clip)
    _check_choice("codec", codec, tuple(CODECS))
    encoder, pix_fmt, suffixes = CODECS[codec]
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InvalidArgumentError(f"codec {codec!r} needs a file ending in {' or '.join(suffixes)}, got {path.name!r}")
    if not fps > 0:
        raise InvalidArgumentError(f"fps must be positive, got {fps!r}")
    if not (isinstance(crf, int) and 0 <= crf <= 51):
        raise InvalidArgumentError(f"crf must be an int in 0..51, got {crf!r}")
    height, width = clip.shape[-2:]
    if codec == "h264" and (height % 2 or width % 2):
        raise InvalidVideoError(
            f"H.264 (yuv420p) needs an even height and width, got {height}x{width}: crop or resize first"
        )
    array = to_uint8(clip).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous().cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:  # no random ids or dates
        stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(100000))
        stream.height, stream.width, stream.pix_fmt = height, width, pix_fmt
        if codec == "h264":  # x264's SIMD code made the output differ from run to run here; plain C does not
            stream.options = {"crf": str(crf), "x264-params": "asm=0"}
        for frame in array:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


# --- decoding helpers ---------------------------------------------------------------


def _decode(path: Path, frames, count, size, sampling, short, seed, seek: bool = True) -> np.ndarray:
    """Decode the sampled frames as uint8 ``(frames, H, W, 3)``; every frame when ``frames`` is None.

    ``count`` is the frame count the header announced; when the stream turns out
    a little shorter (a header counting a frame or two the decoder never returns),
    sampling is redone with the true count; when it is much shorter, the file is
    truncated and InvalidVideoError says so. A stream whose timestamps do not allow
    an exact seek is decoded again from the start without seeking.
    """
    indices = None if frames is None else sample_indices(count, frames, sampling, short, seed, name=str(path))
    kept: dict[int, np.ndarray] = {}
    last = -1  # index of the last frame decoded
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            if indices is None:
                for last, frame in enumerate(container.decode(stream)):
                    kept[last] = _to_rgb(frame, size)
            else:
                last = _decode_frames(container, stream, sorted(set(indices.tolist())), size, kept, seek)
        except _CannotSeek:
            return _decode(path, frames, count, size, sampling, short, seed, seek=False)
        except READ_ERRORS as err:
            done = max(kept, default=-1)  # the last frame decoded (in either branch)
            where = f"after frame {done}" if done >= 0 else "at its first frame"
            raise InvalidVideoError(f"{path}: corrupted video, decoding failed {where} ({_reason(err)})") from None
    if not kept:
        raise InvalidVideoError(f"{path}: the video stream holds no decodable frame")
    short_of_header = indices is None or len(kept) < len(set(indices.tolist()))  # decoding reached the end
    if short_of_header and last + 1 < count - max(2, TRUNCATION_SLACK * count):
        raise InvalidVideoError(f"{path}: truncated or damaged: its header announces {count} frames but only"
                                f" {last + 1} can be decoded")
    if indices is None:
        return np.stack([kept[i] for i in range(last + 1)])
    if short_of_header:  # the header over-counted by a little: sample again from the true count
        return _decode(path, frames, last + 1, size, sampling, short, seed, seek)
    return np.stack([kept[i] for i in indices.tolist()])


class _CannotSeek(Exception):
    """A seek landed past its target, or timestamps after a seek do not follow a constant frame rate."""


def _decode_frames(container, stream, wanted: list[int], size, kept: dict, seek: bool) -> int:
    """Decode the frames whose indices are in ``wanted`` (sorted) into ``kept``; return the last index decoded.

    Frames are decoded in order and only the wanted ones converted. With ``seek``,
    a wanted frame more than ``SEEK_GAP`` frames ahead is reached by seeking to the
    keyframe before it. A frame's index after a seek comes from its timestamp: the
    stream must keep a constant frame rate, which every decoded frame is checked
    against (before a seek, a frame off the rate turns seeking off; after one, it
    raises _CannotSeek so that the caller decodes again without seeking).
    """
    targets = set(wanted)
    frames = enumerate(container.decode(stream))
    timeline, seeked, last = None, False, -1
    first = next(frames, None) if seek else None
    if first is not None:  # frame 0 anchors the timestamps
        timeline, frames = _timeline(stream, first[1]), itertools.chain([first], frames)
    for target in wanted:
        if target in kept:
            continue
        if timeline is not None and target - last > SEEK_GAP:
            frames, seeked = _seek(container, stream, target, timeline), True
        for last, frame in frames:
            if timeline is not None and _index_of(frame, timeline) != last:
                if seeked:
                    raise _CannotSeek
                timeline = None
            if last in targets:
                kept[last] = _to_rgb(frame, size)
            if last >= target:
                break
        else:
            break  # end of stream before the target: the header over-counted
    return last


def _timeline(stream, first: av.VideoFrame):
    """``(timestamp of frame 0, seconds per timestamp unit, frames per second)``, or None without them."""
    rate, base = stream.average_rate or stream.guessed_rate, stream.time_base
    return None if first.pts is None or not rate or not base else (first.pts, base, rate)


def _index_of(frame: av.VideoFrame, timeline) -> int | None:
    """The frame's index from its timestamp at a constant frame rate (None when off the rate's grid)."""
    origin, base, rate = timeline
    if frame.pts is None:
        return None
    position = (frame.pts - origin) * base * rate
    return round(position) if abs(position - round(position)) < 0.25 else None


def _seek(container, stream, target: int, timeline):
    """Frames ``(index, frame)`` from the keyframe at or before frame ``target``; raises _CannotSeek."""
    origin, base, rate = timeline
    container.seek(origin + int(target / rate / base), stream=stream, backward=True, any_frame=False)
    decoder = container.decode(stream)
    first = next(decoder, None)
    if first is None:
        return iter(())
    index = _index_of(first, timeline)
    if index is None or not 0 <= index <= target:
        raise _CannotSeek
    return itertools.chain([(index, first)], enumerate(decoder, index + 1))


def _to_rgb(frame: av.VideoFrame, size) -> np.ndarray:
    """One decoded frame as uint8 ``(H, W, 3)`` resized (and cropped) as ``size`` asks."""
    if size is None:
        return frame.to_ndarray(format="rgb24")
    if isinstance(size, int):
        scale = size / min(frame.height, frame.width)
        height, width = max(size, round(frame.height * scale)), max(size, round(frame.width * scale))
    else:
        height, width = size
    array = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="BILINEAR")
    if isinstance(size, int):
        top, left = (height - size) // 2, (width - size) // 2
        array = array[top : top + size, left : left + size]
    return array


def _check_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InvalidVideoError(f"{path}: video file not found")
    if not path.is_file():
        raise InvalidVideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InvalidVideoError(f"{path}: empty file (0 bytes), not a video")
    return path


def _open(path: Path):
    try:
        return av.open(str(path))
    except READ_ERRORS as err:
        raise InvalidVideoError(f"{path}: not a video file PyAV can read ({_reason(err)})") from None


def _video_stream(container, path: Path):
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        raise InvalidVideoError(f"{path}: a still image ({container.format.name.removesuffix('_pipe')}), not a video")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise InvalidVideoError(f"{path}: no video stream (holds {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # the codec tag names no decoder PyAV has (or was damaged)
        raise InvalidVideoError(f"{path}: no decoder for its video stream (codec unknown or damaged)")
    return stream


def _count_packets(container, stream, path: Path) -> int:
    try:
        return sum(1 for packet in container.demux(stream) if packet.size)
    except READ_ERRORS as err:
        raise InvalidVideoError(f"{path}: corrupted container ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise InvalidArgumentError(f"unknown {name} {value!r}: use one of {', '.join(choices)}")


def _check_size(size) -> None:
    if size is None or (isinstance(size, int) and not isinstance(size, bool) and size > 0):
        return
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size):
        return
    raise InvalidArgumentError(f"size must be a positive int, a (height, width) pair or None, got {size!r}")
