"""Training and clean accuracy: the loss falls, a seed fixes the result, accuracy is counted right; the CLI."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from deepsava.cli.main import app
from deepsava.errors import InvalidArgumentError
from deepsava.models import create_model, load_checkpoint
from deepsava.train.classifier import evaluate_accuracy, shift_videos, train_classifier
from toymodels import BrightnessClips


def _train(seed: int = 0, epochs: int = 3):
    torch.manual_seed(seed)
    model = create_model("cnn-gru", 3)
    data = BrightnessClips()
    history = train_classifier(model, data, epochs=epochs, lr=1e-2, batch_size=8, seed=seed, progress=False)
    return model, history


def test_training_lowers_the_loss_and_is_deterministic():
    model, history = _train()
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    assert not model.training
    again, history_again = _train()
    assert history == history_again
    for (key, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), key


def test_training_reports_test_accuracy_and_checks_arguments():
    model = create_model("inception-v3", 3)
    data = BrightnessClips(n=6)
    history = train_classifier(model, data, data, epochs=1, batch_size=3, augment=True, progress=False)
    assert 0 <= history[0]["test_top1"] <= 1
    with pytest.raises(InvalidArgumentError, match="epochs must be positive"):
        train_classifier(model, data, epochs=0, progress=False)


def test_freezing_the_cnn_trains_only_the_recurrent_head():
    torch.manual_seed(0)
    model = create_model("cnn-lstm", 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_classifier(model, BrightnessClips(n=12), epochs=1, lr=1e-2, batch_size=4, freeze=("cnn",), progress=False)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("rnn.", "classifier.")) for k in changed), changed  # BN statistics included
    with pytest.raises(InvalidArgumentError, match="no such submodule"):
        train_classifier(model, BrightnessClips(n=6), epochs=1, freeze=("cnnn",), progress=False)


class FixedAnswers(nn.Module):
    """Predicts class 0 for every video whose mean brightness is below 0.4, else class 2."""

    def forward(self, videos):
        bright = videos.mean(dim=(1, 2, 3, 4)) > 0.4
        return torch.nn.functional.one_hot(bright.long() * 2, 3).float()


def test_evaluate_accuracy_counts_per_class():
    result = evaluate_accuracy(FixedAnswers(), BrightnessClips(n=12), batch_size=5)
    assert result["n"] == 12
    assert result["per_class"] == {"dim": 1.0, "mid": 0.0, "bright": 1.0}
    assert result["top1"] == pytest.approx(8 / 12)


def test_shift_videos_moves_whole_clips_within_bounds():
    videos = torch.rand(3, 5, 3, 10, 12)
    shifted = shift_videos(videos, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == videos.shape
    assert shifted.min() >= videos.min() and shifted.max() <= videos.max()
    inner = shifted[..., 2:-2, 2:-2]
    for v, s in zip(videos, inner):  # each clip is one crop of the original, the same for every frame
        found = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(v[..., dy : dy + 6, dx : dx + 8], s)]
        assert len(found) == 1


def test_cli_train_then_evaluate(tmp_path, monkeypatch):
    import deepsava.train.job

    def fake_load_dataset(name, split, root, frames, size):
        return BrightnessClips(n=9)

    monkeypatch.setattr(deepsava.train.job, "load_dataset", fake_load_dataset)
    out = tmp_path / "ckpt" / "gru"
    runner = CliRunner()
    args = ["train", "--model", "cnn-gru", "--dataset", "bright", "--out", str(out), "--epochs", "1", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "clean test top-1" in result.output
    meta = json.loads((tmp_path / "ckpt" / "gru.json").read_text())
    assert meta["command"] == (
        f"deepsava train --model cnn-gru --dataset bright --out {out} --preset tiny --epochs 1 --lr 0.001"
        " --batch-size 8 --seed 0 --no-augment --size 64 --device cpu"  # every option, defaults included
    )
    assert meta["frames"] == 4 and meta["size"] == 64
    assert meta["classes"] == BrightnessClips.classes and meta["training"]["epochs"] == 1
    assert 0 <= meta["test_top1"] <= 1 and len(meta["history"]) == 1
    model, _ = load_checkpoint(out)
    assert model.name == "cnn-gru"

    result = runner.invoke(app, ["evaluate", "--checkpoint", str(out), "--per-class", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert f"top-1 {meta['test_top1']:.3f} (n=9)" in result.output and "bright" in result.output


def test_evaluate_takes_a_shipped_checkpoint_reference(cli_run):
    """`--checkpoint shipped:NAME` works in evaluate as everywhere else (it once looked for shipped:NAME.json)."""
    code, out, err = cli_run(["evaluate", "--checkpoint", "shipped:cnn-lstm", "--frames", "8", "--device", "cpu"])
    assert code == 0, err
    assert "cnn-lstm (tiny) on synth-actions test: clean top-1" in out and "(n=180)" in out


def test_a_torchvision_model_is_fine_tuned_then_defended_and_attacked_from_the_cli(tmp_path, monkeypatch, cli_run,
                                                                                  torchvision_file, one_thread):
    """The README's route for a user with torchvision's published weights: fine-tune a new head on their classes
    (train), adversarially train it (defend), attack the checkpoint; class names recorded along the way."""
    import deepsava.data
    import deepsava.train.job

    def load_dataset(name, split, root=None, frames=None, size=64, **options):
        return BrightnessClips(n=6, frames=frames or 4)

    for module in (deepsava.data, deepsava.train.job):
        monkeypatch.setattr(module, "load_dataset", load_dataset)
    _, weights = torchvision_file("r3d_18")  # the Kinetics-400 layout, as published
    common = ["--dataset", "bright", "--epochs", "1", "--batch-size", "3", "--device", "cpu", "--no-progress"]
    code, out, err = cli_run(["train", "--model", "torchvision:r3d_18", "--weights", weights, *common,
                              "--out", tmp_path / "tuned"])
    assert code == 0, err
    assert "fc. freshly initialised for fine-tuning (the weights' head is for 400 classes, this model's for 3)" in err
    tuned, meta = load_checkpoint(tmp_path / "tuned")
    assert tuned.name == "torchvision:r3d_18" and tuned.num_classes == 3 and tuned.classes == BrightnessClips.classes
    assert meta["command"].startswith("deepsava train --model torchvision:r3d_18 --dataset bright")
    code, out, err = cli_run(["defend", "--method", "pgd", "--steps", "1", "--model", "torchvision:r3d_18",
                              "--weights", tmp_path / "tuned", *common, "--out", tmp_path / "defended"])
    assert code == 0, err
    defended, meta = load_checkpoint(tmp_path / "defended")
    assert meta["defence"]["method"] == "pgd" and defended.classes == BrightnessClips.classes
    assert not torch.equal(defended.state_dict()["net.fc.weight"], tuned.state_dict()["net.fc.weight"])
    clip = Path(__file__).parents[2] / "../shared/data/clips/abseiling_k400.mp4"
    if not clip.resolve().is_file():
        pytest.skip("real clip not available")
    monkeypatch.undo()  # the attack reads the real video
    code, out, err = cli_run(["attack", "--checkpoint", tmp_path / "defended", "--video", clip, "--length", "4", "--size",
                              "32", "--selector", "first", "--steps", "1", "--device", "cpu"])
    assert code == 0, err
    assert any(f"true class {name} (the clean prediction" in " ".join(out.split()) for name in BrightnessClips.classes)


def test_evaluate_takes_any_model_spec_with_its_weights(tmp_path, monkeypatch, cli_run, torchvision_file, hf_folder):
    import deepsava.train.job

    monkeypatch.setattr(deepsava.train.job, "load_dataset",
                        lambda name, split, root=None, frames=None, size=64: BrightnessClips(n=6, frames=frames or 4))
    _, weights = torchvision_file("r3d_18", num_classes=3)
    code, out, err = cli_run(["evaluate", "--model", "torchvision:r3d_18", "--weights", weights, "--dataset", "bright",
                              "--device", "cpu"])
    assert code == 0, err
    assert "torchvision:r3d_18 on bright test: clean top-1" in out and "(n=6)" in out
    folder, _, _ = hf_folder("videomae")  # 5 Kinetics-like classes: not this dataset's
    code, _, err = cli_run(["evaluate", "--model", f"hf:{folder}", "--dataset", "bright", "--device", "cpu"])
    assert code == 5 and "for 5 classes, not 3" in err  # its head is for 5 classes, bright has 3
