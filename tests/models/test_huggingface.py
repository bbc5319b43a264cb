"""Hugging Face folders: our logits equal the model on its processor's output; bad folders are refused clearly."""

import shutil
import sys

import pytest
import torch

from deepsava.errors import InvalidArgumentError, InvalidCheckpointError, InvalidVideoError
from deepsava.models import create_model
from deepsava.models.preprocess import Preprocess

pytest.importorskip("transformers")

# kind -> frame size and whether the processor is given 8-bit frames (else floats in [0, 1] with do_rescale=False).
# videomae: the torchvision-backend processor resizes 45x62 to 40x55, so the resize is compared too; the PIL
# backends get frames at their resize size (PIL's rounding is compared in its own test); the odd crop
# margins (55 - 32, 39 - 32, 47 - 32) tell rounding down from rounding half to even.
CASES = {"videomae": ((45, 62), False), "timesformer": ((39, 40), True), "vivit": ((40, 47), True)}


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).norm() / reference.norm()).item()


@pytest.mark.parametrize("kind", CASES)
def test_logits_equal_the_model_on_its_processors_output(kind, hf_folder):
    folder, reference, processor = hf_folder(kind)
    model = create_model(f"hf:{folder}").eval()
    assert (model.num_classes, model.num_frames) == (5, 4)
    assert model.classes == [reference.config.id2label[i] for i in range(5)] and model.classes[1] == "rock climbing"
    (height, width), eight_bit = CASES[kind]
    torch.manual_seed(1)
    pixels = torch.randint(0, 256, (1, 4, 3, height, width), dtype=torch.uint8)
    videos = pixels / 255.0
    if eight_bit:
        inputs = processor([list(pixels[0].numpy())], return_tensors="pt").pixel_values
    else:
        inputs = processor([list(videos[0])], do_rescale=False, return_tensors="pt").pixel_values
    assert (model.transform(videos) - inputs).abs().max() <= 1e-5  # resize, crop, rescale and normalisation
    with torch.no_grad():
        assert relative_error(model(videos), reference(pixel_values=inputs).logits) <= 1e-5


def test_pil_resizing_differs_from_ours_only_by_its_rounding():
    from transformers import VideoMAEImageProcessorPil

    torch.manual_seed(0)
    pixels = torch.randint(0, 256, (4, 3, 100, 130), dtype=torch.uint8)
    pil = VideoMAEImageProcessorPil(size={"shortest_edge": 37}, do_center_crop=False, do_normalize=False)
    theirs = pil([list(pixels.numpy())], return_tensors="pt").pixel_values
    ours = Preprocess(resize=37, mode="bilinear", antialias=True)(pixels[None] / 255.0)
    assert theirs.shape == ours.shape == (1, 4, 3, 37, 48)
    difference = (theirs - ours).abs() * 255
    assert difference.max() <= 1.0 + 1e-4 and difference.mean() < 0.35  # the huggingface module's docstring


def _copy(hf_folder, kind, tmp_path):
    folder = tmp_path / kind
    shutil.copytree(hf_folder(kind)[0], folder)
    return folder


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "preprocessor_config.json"])
def test_a_folder_missing_a_file_is_refused_naming_it(missing, hf_folder, tmp_path):
    folder = _copy(hf_folder, "videomae", tmp_path)
    (folder / missing).unlink()
    with pytest.raises(InvalidCheckpointError, match=f"^Hugging Face folder {folder} lacks {missing}"):
        create_model(f"hf:{folder}")
    with pytest.raises(InvalidArgumentError, match="no such folder"):
        create_model(f"hf:{tmp_path / 'nowhere'}")


def test_weights_of_another_model_or_a_broken_file_are_refused(hf_folder, tmp_path):
    folder = _copy(hf_folder, "videomae", tmp_path)
    shutil.copy(hf_folder("timesformer")[0] / "model.safetensors", folder)
    with pytest.raises(InvalidCheckpointError, match=r"model.safetensors does not fit hf:.*videomae: \d+ missing keys: "
                       r".*\d+ unexpected keys: .*timesformer"):
        create_model(f"hf:{folder}")
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidCheckpointError, match="cannot read weights file .*model.safetensors"):
        create_model(f"hf:{folder}")


def test_an_unsupported_architecture_is_refused_listing_the_supported_ones(hf_folder):
    folder = hf_folder("vit")[0]
    with pytest.raises(InvalidArgumentError, match="is a ViTForImageClassification: only VideoMAEForVideoClassification,"
                       " TimesformerForVideoClassification, VivitForVideoClassification are supported"):
        create_model(f"hf:{folder}")


def test_another_class_count_is_refused_unless_fine_tuning_a_fresh_head(hf_folder, caplog):
    folder, reference, _ = hf_folder("videomae")
    with pytest.raises(InvalidCheckpointError, match=f"the weights are a hf:{folder} for 5 classes, not 3"):
        create_model(f"hf:{folder}", 3)
    with caplog.at_level("INFO", logger="deepsava"):
        tuned = create_model(f"hf:{folder}", 3, fine_tune=True)
    assert "net.classifier. freshly initialised for fine-tuning (the weights' head is for 5 classes" in caplog.text
    assert tuned.classes is None and tuned.net.classifier.weight.shape == (3, 32)
    body = reference.videomae.state_dict()
    assert all(torch.equal(v, body[k]) for k, v in tuned.net.videomae.state_dict().items())


def test_the_clip_length_is_the_configs(hf_folder):
    model = create_model(f"hf:{hf_folder('timesformer')[0]}")
    with pytest.raises(InvalidVideoError, match=r"^hf:.*timesformer\d* needs 4 frames, got 3$"):
        model(torch.rand(1, 3, 3, 32, 32))


def test_without_transformers_the_error_says_what_to_install(hf_folder, monkeypatch):
    folder = hf_folder("vivit")[0]
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now raises ImportError
    with pytest.raises(InvalidArgumentError, match=r"pip install 'deepsava\[hf\]'"):
        create_model(f"hf:{folder}")
