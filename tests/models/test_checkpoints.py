"""Checkpoints: round trip, refusal of misfits and of code-carrying pickles, the shipped tiny models."""

import json
import pickle

import pytest
import torch

from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
from deepsava.models import create_model, load_checkpoint, load_shipped, load_weights_file, save_checkpoint
from deepsava.models.checkpoint import SHIPPED_DIR
from deepsava.train.classifier import evaluate_accuracy


@pytest.fixture
def saved(tmp_path):
    """A tiny 12-class cnn-lstm saved as tmp_path/ckpt, with its model."""
    torch.manual_seed(0)
    model = create_model("cnn-lstm", 12).eval()
    stem = save_checkpoint(model, tmp_path / "ckpt", {"dataset": "random", "command": "made in a test"})
    return model, stem


def test_round_trip_gives_identical_logits_and_metadata(saved):
    model, stem = saved
    assert stem.with_name("ckpt.safetensors").is_file() and stem.with_name("ckpt.json").is_file()
    loaded, meta = load_checkpoint(stem)
    videos = torch.rand(2, 6, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(videos), loaded(videos))
    assert not loaded.training
    assert meta["model"] == "cnn-lstm" and meta["preset"] == "tiny" and meta["num_classes"] == 12
    assert meta["command"] == "made in a test" and meta["torch_version"] == torch.__version__
    assert load_checkpoint(stem.with_name("ckpt.safetensors"))[1] == meta  # either file names the checkpoint


def _edit_metadata(stem, **changes):
    path = stem.with_name(stem.name + ".json")
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, **changes}))


def test_wrong_class_count_is_refused(saved):
    _, stem = saved
    _edit_metadata(stem, num_classes=10)
    with pytest.raises(InvalidCheckpointError, match=r"10 classes.*shape mismatches.*classifier.weight \(12, 64\)"
                       r".*they are the weights of cnn-lstm \(tiny preset, 12 classes\)"):
        load_checkpoint(stem)


def test_metadata_is_checked_against_the_weights_header_before_anything_is_allocated(saved, monkeypatch):
    import deepsava.models.checkpoint as checkpoint

    _, stem = saved
    _edit_metadata(stem, num_classes=10, preset="paper")
    monkeypatch.setattr(checkpoint, "create_model", None)  # building the model would fail: it must not happen
    monkeypatch.setattr(checkpoint, "load_weights_file", None)  # nor reading the tensors
    with pytest.raises(InvalidCheckpointError, match=r"metadata: cnn-lstm, paper preset, 10 classes.*"
                       r"cnn-lstm \(tiny preset, 12 classes\)"):
        load_checkpoint(stem)
    _edit_metadata(stem, model=["cnn-lstm"])
    with pytest.raises(InvalidCheckpointError, match="unknown model"):
        checkpoint.inspect_checkpoint(stem)


def test_wrong_architecture_is_refused(saved):
    _, stem = saved
    _edit_metadata(stem, model="cnn-gru")
    with pytest.raises(InvalidCheckpointError, match="cnn-gru.*shape mismatches.*rnn.weight_ih_l0"):
        load_checkpoint(stem)
    _edit_metadata(stem, model="i3d")
    with pytest.raises(InvalidCheckpointError, match="missing keys: Conv3d_1a_7x7.*unexpected keys: classifier.*"
                       r"they are the weights of cnn-lstm \(tiny preset, 12 classes\)"):
        load_checkpoint(stem)
    _edit_metadata(stem, model="resnet")
    with pytest.raises(InvalidCheckpointError, match="unknown model 'resnet'"):
        load_checkpoint(stem)


def test_missing_or_broken_files_are_refused(saved, tmp_path):
    _, stem = saved
    with pytest.raises(InvalidCheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")
    stem.with_name("ckpt.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidCheckpointError, match="cannot read weights file"):
        load_checkpoint(stem)
    stem.with_name("ckpt.json").write_text("{")
    with pytest.raises(InvalidCheckpointError, match="not valid JSON"):
        load_checkpoint(stem)


class MakesMarker:
    """Unpickling this would create a marker file: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_code_carrying_pickle_is_refused_without_running(tmp_path, writer, monkeypatch):
    # torch 2.6+ defaults to weights_only=True; this variable turns that default off, so that only
    # deepsava's explicit weights_only=True stands between the file and its code (torch.serialization.load).
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    probe = tmp_path / "probe.pt"
    torch.save(MakesMarker(tmp_path / "probe-ran"), probe)
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        torch.load(probe).close()  # a bare torch.load now runs the payload ...
    assert (tmp_path / "probe-ran").exists()
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    payload = {"conv.weight": torch.zeros(2), "evil": MakesMarker(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    assert not marker.exists()  # ... deepsava's loader must not
    with pytest.raises(InvalidCheckpointError, match="refusing .*evil.pt: the safe unpickler rejected it"):
        load_weights_file(path)
    assert not marker.exists()
    with pytest.raises(InvalidCheckpointError):
        create_model("i3d", 4, weights=path)
    assert not marker.exists()


def test_non_state_dict_files_are_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(InvalidCheckpointError, match="state dict of tensors"):
        load_weights_file(path)
    torch.save({"state_dict": {"module.a": torch.ones(1)}}, path)
    assert list(load_weights_file(path)) == ["a"]


def test_unknown_shipped_name_is_refused():
    with pytest.raises(InvalidArgumentError, match="i3d, inception-v3, cnn-lstm"):
        load_shipped("resnet")


SHIPPED = sorted(p.stem for p in SHIPPED_DIR.glob("*.safetensors"))


def test_every_shipped_name_has_its_files_and_every_file_a_name():
    from deepsava.models.checkpoint import DEFENDED
    from deepsava.models.checkpoint import SHIPPED as NAMED

    assert sorted(NAMED) == SHIPPED
    assert sorted(DEFENDED) == sorted(p.stem for p in (SHIPPED_DIR / "defended").glob("*.safetensors"))


@pytest.fixture(scope="module")
def test_split():
    from deepsava.data import load_dataset

    return load_dataset("synth-actions", split="test", frames=40, size=64)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_reaches_its_recorded_accuracy(name, test_split):
    model, meta = load_shipped(name)
    assert meta["dataset"] == "synth-actions" and meta["classes"] == test_split.classes
    assert name.startswith(meta["model"]) and meta["command"].startswith(f"deepsava train --model {meta['model']} ")
    accuracy = evaluate_accuracy(model, test_split, batch_size=30)["top1"]
    assert abs(accuracy - meta["test_top1"]) <= 0.02
    assert accuracy < 1.0


def test_three_models_are_shipped_and_temporal_ones_beat_the_frame_wise_one():
    assert {"i3d", "inception-v3", "cnn-lstm"} <= set(SHIPPED)
    accuracy = {name: load_shipped(name)[1]["test_top1"] for name in SHIPPED}
    for temporal in ("i3d", "cnn-lstm"):  # a frame-wise model cannot tell the classes of a pair apart
        assert accuracy[temporal] > accuracy["inception-v3"] + 0.05, accuracy


def test_starting_weights_resolve_shipped_names_stems_and_files(tmp_path):
    from deepsava.errors import InvalidArgumentError
    from deepsava.models.checkpoint import SHIPPED_DIR, starting_weights

    path, meta = starting_weights("shipped:inception-v3-pgd")
    assert path == SHIPPED_DIR / "defended" / "inception-v3-pgd.safetensors" and meta["defence"]["method"] == "pgd"
    stem = SHIPPED_DIR / "inception-v3"
    assert starting_weights(str(stem))[0] == starting_weights(str(stem) + ".safetensors")[0] == stem.with_suffix(".safetensors")
    assert starting_weights(None) == (None, {})
    for bad in ("shipped:no-such-model", str(tmp_path / "missing")):
        with pytest.raises(InvalidArgumentError):
            starting_weights(bad)


def test_weights_for_another_class_count_are_refused_unless_fine_tuning(tmp_path, caplog):
    path = tmp_path / "twelve.safetensors"
    from safetensors.torch import save_file

    save_file(create_model("cnn-lstm", 12).state_dict(), str(path))
    with pytest.raises(InvalidCheckpointError, match="the weights are a cnn-lstm for 12 classes, not 7"):
        create_model("cnn-lstm", 7, weights=path)  # used as it is (attack): a random head would be attacked
    with pytest.raises(InvalidCheckpointError, match=r"they are the weights of cnn-lstm \(tiny preset, 12 classes\)"):
        create_model("cnn-gru", 7, weights=path)
    with caplog.at_level("INFO", logger="deepsava"):
        tuned = create_model("cnn-lstm", 7, weights=path, fine_tune=True)
    assert tuned.classifier.weight.shape == (7, 64)
    assert "classifier. freshly initialised for fine-tuning (the weights' head is for 12 classes" in caplog.text
    frames = tmp_path / "frames.safetensors"
    save_file(create_model("inception-v3", 12).state_dict(), str(frames))
    with pytest.raises(InvalidCheckpointError, match=r"only part of a cnn-lstm \(rnn., classifier. missing\)"):
        create_model("cnn-lstm", 12, weights=frames)


def test_cli_attack_refuses_and_train_fine_tunes_weights_of_another_class_count(tmp_path, monkeypatch, cli_run):
    import deepsava.train.job
    from toymodels import BrightnessClips

    weights = SHIPPED_DIR / "cnn-lstm.safetensors"  # 12 classes
    video = SHIPPED_DIR.parents[2] / "../shared/data/clips/v_Basketball_g01_c01.avi"
    if not video.resolve().is_file():
        pytest.skip("real clips not available")
    code, _, err = cli_run(["attack", "--model", "cnn-lstm", "--weights", weights, "--num-classes", "7", "--preset",
                            "tiny", "--video", video, "--length", "4", "--steps", "1", "--device", "cpu"])
    assert code == InvalidCheckpointError.exit_code and "for 12 classes, not 7" in err and "Traceback" not in err
    monkeypatch.setattr(deepsava.train.job, "load_dataset", lambda *a, **k: BrightnessClips(n=6))
    code, _, err = cli_run(["train", "--model", "cnn-lstm", "--dataset", "bright", "--out", tmp_path / "tuned",
                            "--weights", weights, "--epochs", "1", "--device", "cpu", "--no-progress"])
    assert code == 0, err
    assert "cnn-lstm: classifier. freshly initialised for fine-tuning (the weights' head is for 12 classes," \
           " this model's for 3)" in err
    assert load_checkpoint(tmp_path / "tuned")[0].num_classes == 3


@pytest.mark.parametrize("kind", ["classifier", "predictor"])
def test_a_checkpoint_write_cut_short_leaves_the_earlier_checkpoint_whole(tmp_path, monkeypatch, kind):
    import deepsava.models.checkpoint as checkpoint
    from deepsava.models.convlstm import NextFramePredictor, load_predictor, save_predictor

    model = create_model("cnn-lstm", 3) if kind == "classifier" else NextFramePredictor()
    save, load = (save_checkpoint, load_checkpoint) if kind == "classifier" else (save_predictor, load_predictor)
    save(model, tmp_path / "ckpt", {"run": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def killed(state, path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt  # the process stops in the middle of writing

    monkeypatch.setattr(checkpoint, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        save(model, tmp_path / "ckpt", {"run": 2})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no stray temporary file either
    assert load(tmp_path / "ckpt")[1]["run"] == 1
