"""Video decoding, temporal sampling and writing (deepsava.io)."""

import av
import numpy as np
import pytest
import torch

from deepsava.errors import InvalidArgumentError, InvalidVideoError
from deepsava.io import load_video, quantize, read_frames, sample_indices, to_uint8, video_info, write_video


def _random_clip(t=6, c=3, h=24, w=32, seed=0):
    return torch.rand(t, c, h, w, generator=torch.Generator().manual_seed(seed))


# --- real clips ---------------------------------------------------------------------


def test_ucf101_avi_decodes_with_expected_count_size_and_range(real_clip):
    path = real_clip("v_Basketball_g01_c01.avi")
    info = video_info(path)
    assert (info.frames, info.height, info.width) == (141, 240, 320)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    every = read_frames(path)
    assert every.shape == (141, 3, 240, 320) and every.dtype == torch.float32
    assert 0.0 <= every.min() and every.max() <= 1.0 and every.std() > 0.05
    clip = load_video(path, frames=40, size=112)
    assert clip.shape == (40, 3, 112, 112)
    # stride sampling (141 // 40 = 3 from frame 0), at native size, is exactly every third frame
    native = load_video(path, frames=40, size=None)
    assert torch.equal(native, every[0:120:3])


def test_kinetics_mp4_decodes_with_expected_count_and_size(real_clip):
    path = real_clip("abseiling_k400.mp4")
    info = video_info(path)
    assert (info.frames, info.height, info.width) == (250, 256, 454)
    clip = load_video(path, frames=16, size=(64, 96), sampling="uniform")
    assert clip.shape == (16, 3, 64, 96)
    assert 0.0 <= clip.min() and clip.max() <= 1.0
    raw = load_video(path, frames=4, size=32, dtype=torch.uint8)
    assert raw.dtype == torch.uint8 and raw.shape == (4, 3, 32, 32)


def test_corrupted_file_raises_naming_it(real_clip):
    path = real_clip("corrupted.mp4")
    with pytest.raises(InvalidVideoError, match="corrupted.mp4.*(corrupted|decod)"):
        load_video(path, frames=40)


# --- sampling -----------------------------------------------------------------------


def test_stride_sampling_is_the_papers_pipeline():
    assert sample_indices(141, 40).tolist() == list(range(0, 120, 3))
    assert sample_indices(80, 40).tolist() == list(range(0, 80, 2))


def test_uniform_sampling_spans_the_video():
    idx = sample_indices(100, 5, sampling="uniform")
    assert idx.tolist() == [0, 25, 50, 74, 99]


def test_random_sampling_is_seeded_and_keeps_the_stride():
    a = sample_indices(1000, 10, sampling="random", seed=1)
    assert np.array_equal(a, sample_indices(1000, 10, sampling="random", seed=1))
    assert np.all(np.diff(a) == 100) and a[-1] < 1000
    starts = {int(sample_indices(1000, 10, sampling="random", seed=s)[0]) for s in range(20)}
    assert len(starts) > 5


def test_short_video_policies():
    assert sample_indices(3, 7, short="loop").tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert sample_indices(3, 7, short="pad").tolist() == [0, 1, 2, 2, 2, 2, 2]
    with pytest.raises(InvalidVideoError, match="has 3 frames, fewer than the 7"):
        sample_indices(3, 7, short="refuse")


def test_short_file_loops_pads_or_refuses(tmp_path):
    clip = quantize(_random_clip(t=3))
    path = write_video(tmp_path / "short.mkv", clip)
    looped = load_video(path, frames=5, size=None)
    assert torch.equal(looped, clip[[0, 1, 2, 0, 1]])
    padded = load_video(path, frames=5, size=None, short="pad")
    assert torch.equal(padded, clip[[0, 1, 2, 2, 2]])
    with pytest.raises(InvalidVideoError, match="short.mkv has 3 frames"):
        load_video(path, frames=5, short="refuse")


# --- writing ------------------------------------------------------------------------


def test_ffv1_round_trip_is_bit_exact(tmp_path):
    clip = quantize(_random_clip())
    path = write_video(tmp_path / "clip.mkv", clip, codec="ffv1")
    back = read_frames(path)
    assert back.dtype == torch.float32
    assert torch.equal(back, clip)
    assert torch.equal(to_uint8(back), to_uint8(clip))


def test_grey_clip_is_written_and_read_as_three_equal_channels(tmp_path):
    grey = quantize(_random_clip(c=1))
    back = read_frames(write_video(tmp_path / "grey.mkv", grey))
    assert back.shape == (6, 3, 24, 32)
    assert torch.equal(back, grey.expand(-1, 3, -1, -1))


def test_h264_round_trip_keeps_count_and_size(tmp_path):
    smooth = torch.linspace(0, 1, 32).expand(8, 3, 24, 32).contiguous()
    path = write_video(tmp_path / "clip.mp4", smooth, fps=10, codec="h264", crf=18)
    info = video_info(path)
    assert (info.frames, info.height, info.width, info.fps) == (8, 24, 32, 10.0)
    back = read_frames(path)
    assert back.shape == smooth.shape
    assert (back - smooth).abs().mean() < 0.03


def test_h264_refuses_odd_sizes_and_codecs_check_the_suffix(tmp_path):
    with pytest.raises(InvalidVideoError, match="even height and width"):
        write_video(tmp_path / "odd.mp4", _random_clip(h=23), codec="h264")
    with pytest.raises(InvalidArgumentError, match="ffv1.*.mkv"):
        write_video(tmp_path / "clip.mp4", _random_clip(), codec="ffv1")
    with pytest.raises(InvalidArgumentError, match="unknown codec 'vp9'"):
        write_video(tmp_path / "clip.mkv", _random_clip(), codec="vp9")


def test_quantize_rounds_to_8_bit_levels():
    x = torch.tensor([0.0, 0.5, 1 / 255 * 0.49, 1 / 255 * 0.51, 1.0])
    assert torch.allclose(quantize(x) * 255, torch.tensor([0.0, 128.0, 0.0, 1.0, 255.0]))


# --- bad inputs ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InvalidVideoError, match="nope.mp4: video file not found"):
        load_video(tmp_path / "nope.mp4")


def test_zero_length_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(InvalidVideoError, match="empty.mp4: empty file"):
        load_video(path)


def test_text_file_renamed_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(InvalidVideoError, match="notes.mp4: not a video file"):
        video_info(path)


def test_audio_only_file(tmp_path):
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        samples = (np.sin(np.arange(800) / 5) * 1000).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(InvalidVideoError, match="tone.wav: no video stream \\(holds audio\\)"):
        load_video(path)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="unknown sampling 'every'"):
        load_video("x.mp4", sampling="every")
    with pytest.raises(InvalidArgumentError, match="unknown short 'drop'"):
        load_video("x.mp4", short="drop")
    with pytest.raises(InvalidArgumentError, match="size must be"):
        load_video("x.mp4", size=0)
