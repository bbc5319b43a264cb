"""Video files from outside: exact seeking, bounded memory, and every bad file refused with InvalidVideoError.

The fuzz test mutates copies of the real clips (corrupted.mp4 included) and loads them with various
frame counts, sizes and samplings, seeking after any gap half of the time; ``DEEPSAVA_FUZZ_EXAMPLES``
sets how many cases it tries (default 40; docs/RESULTS.md records a longer run).
"""

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import deepsava.io as io
from deepsava.errors import InvalidVideoError
from deepsava.io import load_video, read_frames, sample_indices

CLIPS = (Path(__file__).parents[2] / "../shared/data/clips").resolve()
REAL = ("v_Basketball_g01_c01.avi", "abseiling_k400.mp4")


def write_pattern(path: Path, count: int, encoder: str, fps=25, options=None, pts=None, height=48, width=64) -> Path:
    """A video whose every frame differs (a moving bar and a frame-number colour), written with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(100000))
        stream.height, stream.width = height, width
        stream.pix_fmt = "bgr0" if encoder == "ffv1" else "yuv420p"
        stream.options = options or {}
        for i in range(count):
            array = np.zeros((height, width, 3), np.uint8)
            array[..., 0] = i * 7 % 256
            array[..., 1] = np.arange(width)[None] * 3 % 256
            array[i % height, :, 2] = 255
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture
def counted(monkeypatch):
    """Seek after any gap (SEEK_GAP = 1) and count seeks and decodes restarted without seeking."""
    counts = {"seeks": 0, "restarts": 0}
    seek, decode = io._seek, io._decode

    def counting_seek(*args):
        counts["seeks"] += 1
        return seek(*args)

    def counting_decode(*args, seek=True):
        counts["restarts"] += not seek
        return decode(*args, seek=seek)

    monkeypatch.setattr(io, "SEEK_GAP", 1)
    monkeypatch.setattr(io, "_seek", counting_seek)
    monkeypatch.setattr(io, "_decode", counting_decode)
    return counts


SAMPLINGS = [(6, "uniform"), (9, "random"), (40, "stride")]


@pytest.mark.parametrize("name, encoder, fps, options", [
    ("h264-bframes.mp4", "libx264", 25, {"g": "30", "bf": "3", "preset": "ultrafast"}),
    ("h264-ntsc.mkv", "libx264", 30000 / 1001, {"g": "25", "bf": "2", "preset": "ultrafast"}),
    ("mpeg4.avi", "mpeg4", 25, {"g": "12"}),
])
def test_seeking_gives_exactly_the_frames_of_a_full_decode(tmp_path, counted, name, encoder, fps, options):
    path = write_pattern(tmp_path / name, 200, encoder, fps, options)
    every = read_frames(path)
    for frames, sampling in SAMPLINGS:
        clip = load_video(path, frames=frames, size=None, sampling=sampling, seed=1)
        assert torch.equal(clip, every[sample_indices(len(every), frames, sampling, seed=1)]), (frames, sampling)
    assert counted["seeks"] > 10 and counted["restarts"] == 0  # it really seeked


def test_variable_frame_rate_falls_back_to_decoding_in_order(tmp_path, counted):
    durations = np.random.default_rng(0).choice([20, 40, 80], size=120)
    pts = np.concatenate([[0], np.cumsum(durations)[:-1]]).tolist()
    path = write_pattern(tmp_path / "vfr.mkv", 120, "libx264", options={"g": "20", "bf": "0"}, pts=pts)
    every = read_frames(path)
    for frames, sampling in SAMPLINGS:
        clip = load_video(path, frames=frames, size=None, sampling=sampling, seed=1)
        assert torch.equal(clip, every[sample_indices(len(every), frames, sampling, seed=1)]), (frames, sampling)


@pytest.mark.parametrize("name", REAL)
def test_seeking_in_real_clips_is_exact(real_clip, counted, name):
    path = real_clip(name)
    every = load_video(path, frames=None, size=32)
    for frames, sampling in SAMPLINGS[:2]:
        clip = load_video(path, frames=frames, size=32, sampling=sampling, seed=2)
        assert torch.equal(clip, every[sample_indices(len(every), frames, sampling, seed=2)])
    assert counted["seeks"] > 0 and counted["restarts"] == 0


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"{field} not in /proc/self/status")


def _peak_rise_mb(decode) -> float:
    """How far the peak resident memory (VmHWM) rises above the resident memory while ``decode()`` runs."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    before = _memory_mb("VmRSS")
    decode()
    return _memory_mb("VmHWM") - before


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_decoding_a_few_frames_of_a_long_video_keeps_memory_bounded(tmp_path):
    # 600 frames of 320x240: 138 MB as uint8 if the decoder held them all (553 MB as float32).
    path = write_pattern(tmp_path / "long.avi", 600, "mpeg4", options={"g": "50", "qscale": "10"},
                         height=240, width=320)
    sampled = _peak_rise_mb(lambda: load_video(path, frames=8, size=32))
    everything = _peak_rise_mb(lambda: load_video(path, frames=None, size=None, dtype=torch.uint8))
    assert everything > 120  # the measurement sees a decoder that keeps every frame ...
    assert sampled < 40  # ... and sampling 8 frames keeps only those


# --- files that are not (whole) videos ------------------------------------------------------


@pytest.mark.parametrize("name", REAL)
def test_truncated_real_clips_are_refused(real_clip, tmp_path, name):
    data = real_clip(name).read_bytes()
    for share in (0.001, 0.1, 0.5):
        path = tmp_path / f"cut-{share}{Path(name).suffix}"
        path.write_bytes(data[: int(len(data) * share)])
        with pytest.raises(InvalidVideoError, match=f"{path.name}: (not a video file|truncated)"):
            load_video(path, frames=40, size=32)


def test_truncated_file_is_refused_naming_the_frame_counts(tmp_path):
    full = write_pattern(tmp_path / "full.avi", 100, "mpeg4", options={"g": "10"})
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InvalidVideoError, match="cut.avi: truncated or damaged: its header announces 100 frames"):
        read_frames(cut)
    with pytest.raises(InvalidVideoError, match="truncated"):
        load_video(cut, frames=10, size=None)


def _not_videos(folder: Path) -> dict[str, Path]:
    from PIL import Image
    from safetensors.torch import save_file

    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    files = {"random.mp4": np.random.default_rng(1).bytes(20000), "notes.avi": b"hello\n" * 500,
             "data.mp4": json.dumps({"frames": list(range(500))}).encode()}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    save_file({"weight": torch.zeros(64, 64)}, str(folder / "weights.mkv"))
    Image.fromarray(pixels).save(folder / "image.png")
    Image.fromarray(pixels).save(folder / "image.jpg")
    (folder / "folder.mp4").mkdir()
    os.mkfifo(folder / "pipe.mp4")  # opening it would block forever
    return {p.name: p for p in folder.iterdir()}


def test_non_video_files_are_refused(tmp_path):
    for name, path in _not_videos(tmp_path).items():
        with pytest.raises(InvalidVideoError, match=name):
            load_video(path, frames=8, size=32)


# --- fuzzing ----------------------------------------------------------------------------------


FUZZ_SEEDS = (*REAL, "corrupted.mp4")


@st.composite
def mutations(draw):
    """A real clip, a list of byte edits (flips, zeroed runs, cuts, duplicated or inserted chunks) and how to load
    it: frames, size and sampling, with seeking after any gap (SEEK_GAP = 1) half of the time."""
    name = draw(st.sampled_from(FUZZ_SEEDS))
    edits = draw(st.lists(st.tuples(st.sampled_from(["flip", "zero", "cut", "repeat", "insert"]),
                                    st.floats(0, 1), st.integers(1, 4096), st.binary(min_size=1, max_size=64)),
                          min_size=1, max_size=6))
    frames = draw(st.sampled_from([8, 16, 40, None]))
    size = draw(st.sampled_from([32, (20, 30)] + ([None] if frames is not None else [])))
    return name, edits, frames, size, draw(st.sampled_from(io.SAMPLINGS)), draw(st.sampled_from([1, io.SEEK_GAP]))


def mutate(data: bytes, edits) -> bytes:
    buffer = bytearray(data)
    for kind, where, length, noise in edits:
        at = int(where * (len(buffer) - 1))
        if kind == "flip":
            for offset, byte in enumerate(noise):
                if at + offset < len(buffer):
                    buffer[at + offset] ^= byte | 1
        elif kind == "zero":
            buffer[at : at + length] = bytes(len(buffer[at : at + length]))
        elif kind == "cut":
            del buffer[at : at + length]
        elif kind == "repeat":
            buffer[at:at] = buffer[at : at + length]
        else:
            buffer[at:at] = noise
    return bytes(buffer)


@pytest.mark.skipif(not all((CLIPS / n).is_file() for n in FUZZ_SEEDS), reason="real clips not available")
@settings(max_examples=int(os.environ.get("DEEPSAVA_FUZZ_EXAMPLES", 40)), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutations())
# metadata not UTF-8: PyAV's UnicodeDecodeError
@example(case=("abseiling_k400.mp4", [("flip", 1.0, 1, b"\x80")], 8, 32, "stride", io.SEEK_GAP))
@example(case=("v_Basketball_g01_c01.avi", [("zero", 0.5, 4096, b"\x00")], 40, 32, "random", 1))  # seeks in damage
@example(case=("v_Basketball_g01_c01.avi", [("repeat", 0.0, 168, b"\x00")], 8, 32, "stride", 1))  # no decoder
def test_mutated_real_clips_give_a_valid_clip_or_invalid_video_error(tmp_path, case):
    name, edits, frames, size, sampling, seek_gap = case
    path = tmp_path / f"mutated{Path(name).suffix}"
    path.write_bytes(mutate((CLIPS / name).read_bytes(), edits))
    seeks, seek = [], io._seek
    default, io.SEEK_GAP, io._seek = io.SEEK_GAP, seek_gap, lambda *args: seeks.append(1) or seek(*args)
    try:
        clip = load_video(path, frames=frames, size=size, sampling=sampling, seed=1)
    except InvalidVideoError as err:
        assert str(path) in str(err)
        return
    finally:
        io.SEEK_GAP, io._seek = default, seek
        event("seeked" if seeks else "decoded in order")  # the share of cases that reached the seek code
    assert clip.dim() == 4 and clip.shape[1] == 3 and clip.dtype == torch.float32
    assert frames is None or clip.shape[0] == frames
    assert clip.shape[2:] == {32: (32, 32), (20, 30): (20, 30)}.get(size, clip.shape[2:])
    assert torch.isfinite(clip).all() and 0 <= clip.min() and clip.max() <= 1


@pytest.mark.parametrize("frames", [None, 4])
def test_a_file_failing_at_its_first_frame_says_so(tmp_path, monkeypatch, frames):
    """The message names the first frame, not "after frame -1", in both decoding paths (all frames, sampled)."""
    path = io.write_video(tmp_path / "clip.mkv", torch.rand(6, 3, 16, 16))

    def broken(frame, size):
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(io, "_to_rgb", broken)
    with pytest.raises(InvalidVideoError, match="decoding failed at its first frame") as caught:
        load_video(path, frames=frames, size=None)
    assert "frame -1" not in str(caught.value)
