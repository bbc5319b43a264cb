"""Embedded datasets, on-disk datasets over their split files, the cache and the data command."""

import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deepsava.cli.main import app
from deepsava.data import load_dataset, load_moving_mnist, split_sequence
from deepsava.data.cache import atomic_path, save_array
from deepsava.data.synthetic import CLASSES, _frame_times, _main_object, cache_file
from deepsava.errors import InvalidArgumentError, InvalidDatasetError, InvalidVideoError
from deepsava.io import write_video

SMALL = {"frames": 8, "num_classes": 4, "videos_per_class": 10, "progress": False}


# --- synth-actions ------------------------------------------------------------------


def test_synth_actions_items_splits_and_balance(cache_dir):
    train = load_dataset("synth-actions", "train", **SMALL)
    test = load_dataset("synth-actions", "test", **SMALL)
    assert train.classes == list(CLASSES[:4])
    assert (len(train), len(test)) == (28, 12)
    assert [train.labels.count(c) for c in range(4)] == [7] * 4
    assert [test.labels.count(c) for c in range(4)] == [3] * 4
    assert not set(train.video_ids) & set(test.video_ids)
    assert len(set(train.video_ids) | set(test.video_ids)) == 40
    clip, label = test[5]
    assert clip.shape == (8, 3, 64, 64) and clip.dtype == torch.float32
    assert 0 <= clip.min() and clip.max() <= 1 and label == test.labels[5]
    assert test.video_ids[5].startswith(f"synth-actions/{CLASSES[label]}/")


def test_extra_test_clips_enlarge_the_test_split_with_clips_never_trained_on(cache_dir):
    train = load_dataset("synth-actions", "train", **SMALL)
    test = load_dataset("synth-actions", "test", **SMALL)
    larger = load_dataset("synth-actions", "test", extra_test=5, **SMALL)
    same_train = load_dataset("synth-actions", "train", extra_test=5, **SMALL)
    assert same_train.video_ids == train.video_ids and torch.equal(same_train[7][0], train[7][0])
    assert len(larger) == len(test) + 4 * 5 and set(test.video_ids) < set(larger.video_ids)
    assert not set(larger.video_ids) & set(train.video_ids)
    j = larger.video_ids.index(test.video_ids[2])
    assert torch.equal(larger[j][0], test[2][0])  # a clip is the same clip whatever the split size
    with pytest.raises(InvalidArgumentError, match="extra_test"):
        load_dataset("synth-actions", "test", extra_test=-1, **SMALL)


def test_synth_actions_is_deterministic_per_seed(tmp_path, monkeypatch):
    files = []
    for run, seed in [("a", 0), ("b", 0), ("c", 1)]:
        monkeypatch.setenv("DEEPSAVA_CACHE", str(tmp_path / run))
        load_dataset("synth-actions", seed=seed, **SMALL)
        files.append(cache_file(8, 64, seed, 4, 10).read_bytes())
    assert files[0] == files[1]
    assert files[0] != files[2]
    assert not list((tmp_path / "a").glob("*.tmp")), "the atomic write left a temporary file"


def test_synth_actions_pairs_differ_in_motion_not_in_single_frames():
    """Left and right: the positions seen in single frames follow one distribution; their direction differs."""
    times = _frame_times(np.random.default_rng(0), 40)
    positions, slopes = {}, {}
    for name in ("move-left", "move-right"):
        label = CLASSES.index(name)
        xs = [_main_object(np.random.default_rng([7, label, k]), label, times, 64)[0][0][1] for k in range(400)]
        positions[name] = np.concatenate(xs)
        slopes[name] = np.array([x[-1] - x[0] for x in xs])
    quantiles = [np.quantile(positions[n], np.linspace(0.05, 0.95, 10)) for n in positions]
    assert np.abs(quantiles[0] - quantiles[1]).max() < 1.5  # pixels, on a 64-pixel frame
    assert (slopes["move-left"] < 0).all() and (slopes["move-right"] > 0).all()


def test_synth_actions_pair_frames_have_the_same_statistics(cache_dir):
    data = load_dataset("synth-actions", "train", frames=8, num_classes=2, videos_per_class=40, progress=False)
    frames = np.stack([data[i][0].numpy() for i in range(len(data))])  # (N, T, C, H, W)
    labels = np.array(data.labels)
    stats = np.stack([frames.mean(axis=(3, 4)), frames.std(axis=(3, 4))], -1).reshape(len(frames), -1, 6)
    left, right = stats[labels == 0].reshape(-1, 6), stats[labels == 1].reshape(-1, 6)
    spread = np.sqrt(left.var(0) / len(left) + right.var(0) / len(right)) * np.sqrt(8)  # frames of a clip correlate
    assert (np.abs(left.mean(0) - right.mean(0)) < 4 * spread).all()


def test_synth_actions_bad_parameters(cache_dir):
    with pytest.raises(InvalidArgumentError, match="num_classes must be in 1..12"):
        load_dataset("synth-actions", num_classes=13)
    with pytest.raises(InvalidArgumentError, match="size must be one of 64, 112, 224"):
        load_dataset("synth-actions", size=100)
    with pytest.raises(InvalidArgumentError, match="unknown split 'val'"):
        load_dataset("synth-actions", split="val")


# --- moving-digits ------------------------------------------------------------------


def test_moving_digits_sequences(cache_dir):
    data = load_dataset("moving-digits", "test", sequences=6, progress=False)
    again = load_dataset("moving-digits", "test", sequences=6, progress=False)
    other = load_dataset("moving-digits", "train", sequences=6, progress=False)
    sequence, label = data[0]
    assert sequence.shape == (20, 1, 64, 64) and label == 0
    assert torch.equal(sequence, again[0][0]) and not torch.equal(sequence, other[0][0])
    lit = (sequence > 0.5).float().sum(dim=(1, 2, 3))
    assert (lit > 30).all(), "every frame shows digits"
    assert (sequence[1:] - sequence[:-1]).abs().sum() > 0, "the digits move"
    inputs, targets = split_sequence(torch.stack([data[i][0] for i in range(4)]))
    assert inputs.shape == (4, 10, 1, 64, 64) and targets.shape == (4, 10, 1, 64, 64)


def test_standard_moving_mnist_file(tmp_path):
    raw = np.random.default_rng(0).integers(0, 256, (20, 3, 64, 64), dtype=np.uint8)
    path = tmp_path / "mnist_test_seq.npy"
    np.save(path, raw)
    data = load_moving_mnist(path)
    assert len(data) == 3
    assert torch.equal(data[2][0], torch.from_numpy(raw[:, 2, None]).float() / 255)
    assert len(load_dataset("moving-digits", "test", root=path)) == 3
    with pytest.raises(InvalidArgumentError, match="test set"):
        load_dataset("moving-digits", "train", root=path)
    np.save(tmp_path / "bad.npy", raw[0])
    with pytest.raises(InvalidDatasetError, match="bad.npy: expected a uint8 array of shape"):
        load_moving_mnist(tmp_path / "bad.npy")
    with pytest.raises(InvalidDatasetError, match="nothing.npy: Moving MNIST file not found"):
        load_moving_mnist(tmp_path / "nothing.npy")


# --- UCF101 / HMDB51 fixture trees --------------------------------------------------


def _tiny_video(path, value: float, frames: int = 6):
    write_video(path, torch.full((frames, 3, 16, 16), value))


@pytest.fixture
def ucf_root(tmp_path, real_clip):
    """A UCF101 tree: 3 classes, official names and split-file formats, one real UCF101 clip."""
    root = tmp_path / "UCF-101"
    videos = {
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi": 0.2,
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi": 0.25,
        "HandstandPushups/v_HandStandPushups_g08_c01.avi": 0.6,  # the case mismatch of the real dataset
        "HandstandPushups/v_HandStandPushups_g01_c02.avi": 0.65,
    }
    for relative, value in videos.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        _tiny_video(root / relative, value)
    (root / "Basketball").mkdir()
    shutil.copy(real_clip("v_Basketball_g01_c01.avi"), root / "Basketball/v_Basketball_g01_c01.avi")
    notes = tmp_path / "ucfTrainTestlist"
    notes.mkdir()
    (notes / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Basketball\n3 HandstandPushups\n")
    train = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "HandstandPushups/v_HandStandPushups_g08_c01.avi 3"]
    test = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Basketball/v_Basketball_g01_c01.avi",
            "HandstandPushups/v_HandStandPushups_g01_c02.avi"]  # fmt: skip
    for fold in (1, 2, 3):
        (notes / f"trainlist0{fold}.txt").write_text("\r\n".join(train) + "\r\n")
        (notes / f"testlist0{fold}.txt").write_text("\r\n".join(test) + "\r\n")
    return root


def test_ucf101_reads_official_splits(ucf_root, cache_dir):
    train = load_dataset("ucf101", "train", root=ucf_root, frames=4, size=8)
    test = load_dataset("ucf101", "test", root=ucf_root, frames=4, size=8, fold=2)
    assert train.classes == ["ApplyEyeMakeup", "Basketball", "HandstandPushups"]
    assert train.labels == [0, 2] and test.labels == [0, 1, 2]
    assert test.video_ids[1] == "Basketball/v_Basketball_g01_c01.avi"
    clip, label = train[1]
    assert clip.shape == (4, 3, 8, 8) and label == 2
    assert clip.mean().item() == pytest.approx(0.6, abs=0.01)
    real, _ = test[1]
    assert real.shape == (4, 3, 8, 8) and real.std() > 0.05


def test_ucf101_flat_layout_and_decode_cache(ucf_root, cache_dir, monkeypatch):
    for video in list(ucf_root.rglob("*.avi")):
        video.rename(ucf_root / video.name)
    notes = ucf_root.parent / "ucfTrainTestlist"
    data = load_dataset("ucf101", "train", root=ucf_root, annotations=notes, frames=4, size=8)
    first = data[0][0]
    assert data.cache_path(0).is_file()
    assert data.precache(progress=False) == 1  # item 0 is cached already

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr("deepsava.data.folder.load_video", no_decoding)
    assert torch.equal(data[0][0], first)


def test_ucf101_missing_split_files_or_videos(ucf_root, cache_dir, tmp_path):
    with pytest.raises(InvalidDatasetError, match="no classInd.txt found in"):
        load_dataset("ucf101", root=tmp_path / "UCF-101", annotations=tmp_path / "elsewhere")
    (tmp_path / "ucfTrainTestlist" / "testlist03.txt").unlink()
    with pytest.raises(InvalidDatasetError, match="split file .*testlist03.txt is missing"):
        load_dataset("ucf101", "test", root=ucf_root, fold=3)
    (ucf_root / "Basketball/v_Basketball_g01_c01.avi").unlink()
    with pytest.raises(InvalidDatasetError, match="1 of the 3 videos listed in testlist01.txt are missing"):
        load_dataset("ucf101", "test", root=ucf_root)
    with pytest.raises(InvalidDatasetError, match="root .*nowhere is not a folder"):
        load_dataset("ucf101", root=tmp_path / "nowhere")


def test_hmdb51_reads_tagged_split_files(tmp_path, cache_dir):
    root = tmp_path / "hmdb51"
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    for label, name in enumerate(["brush_hair", "cartwheel"]):
        lines = []
        for i, tag in enumerate([1, 1, 2, 0]):
            video = f"{name}_clip_{i}.avi"
            (root / name).mkdir(parents=True, exist_ok=True)
            _tiny_video(root / name / video, 0.3 + 0.4 * label)
            lines.append(f"{video} {tag} ")
        (splits / f"{name}_test_split1.txt").write_text("\n".join(lines) + "\n")
    train = load_dataset("hmdb51", "train", root=root, frames=3, size=8)
    test = load_dataset("hmdb51", "test", root=root, frames=3, size=8)
    assert train.classes == ["brush_hair", "cartwheel"]
    assert train.labels == [0, 0, 1, 1] and test.labels == [0, 1]
    assert test.video_ids == ["brush_hair/brush_hair_clip_2.avi", "cartwheel/cartwheel_clip_2.avi"]
    assert test[1][0].mean().item() == pytest.approx(0.7, abs=0.01)
    with pytest.raises(InvalidDatasetError, match="no \\*_test_split2.txt found"):
        load_dataset("hmdb51", root=root, fold=2)


def test_too_short_video_refused_through_a_dataset(tmp_path, cache_dir):
    root = tmp_path / "hmdb51"
    (root / "wave").mkdir(parents=True)
    _tiny_video(root / "wave" / "short.avi", 0.5, frames=3)
    (root / "wave_test_split1.txt").write_text("short.avi 1\n")
    data = load_dataset("hmdb51", root=root, frames=8, short="refuse")
    with pytest.raises(InvalidVideoError, match="short.avi has 3 frames, fewer than the 8"):
        data[0]


def test_unknown_dataset_and_options():
    known = "synth-actions, moving-digits, ucf101, hmdb51"
    with pytest.raises(InvalidArgumentError, match=f"unknown dataset 'kinetics'.*{known}"):
        load_dataset("kinetics")
    with pytest.raises(InvalidArgumentError, match="synth-actions takes no option fold"):
        load_dataset("synth-actions", fold=2)
    with pytest.raises(InvalidArgumentError, match="ucf101 is read from disk"):
        load_dataset("ucf101")


# --- cache and CLI ------------------------------------------------------------------


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "clip.npy"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())
    save_array(target, np.arange(5, dtype=np.uint8))
    assert np.array_equal(np.load(target), np.arange(5)) and [p.name for p in tmp_path.iterdir()] == ["clip.npy"]


def test_data_command_prints_summary_and_writes_preview(cache_dir, tmp_path):
    preview = tmp_path / "preview.png"
    args = ["data", "synth-actions", "--frames", "8", "--num-classes", "2", "--videos-per-class", "4"]
    args += ["--preview", str(preview)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "move-left" in result.output and "move-right" in result.output
    assert "cache:" in result.output and "ready in" in result.output
    assert preview.stat().st_size > 1000
