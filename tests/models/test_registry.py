"""The model registry: spec forms, and help and errors made from its one list; what every model tells; gradients."""

import pytest
import torch

from deepsava.errors import InvalidArgumentError
from deepsava.models import MODEL_FAMILIES, MODELS, create_model, model_family, model_spec_help

SMALL_NETWORK = """
from torch import nn

def make():
    return nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3))
"""


def test_help_and_the_unknown_model_error_list_every_form():
    assert MODELS == ("i3d", "inception-v3", "cnn-lstm", "cnn-gru", "cnn-rnn")
    lines = model_spec_help().splitlines()
    assert len(lines) == len(MODEL_FAMILIES)
    for line, family in zip(lines, MODEL_FAMILIES):
        assert line.startswith(family.form) and line.endswith(family.description)
    forms = "i3d, inception-v3, cnn-lstm, cnn-gru, cnn-rnn, torchvision:NAME, hf:FOLDER, python:MODULE:FACTORY, FILE.py:FACTORY"
    with pytest.raises(InvalidArgumentError, match=f"^unknown model 'resnet50': choose one of {forms}$"):
        create_model("resnet50")


@pytest.mark.parametrize("spec,form,target", [
    ("i3d", "i3d", "i3d"),
    ("torchvision:r2plus1d_18", "torchvision:NAME", "r2plus1d_18"),
    ("hf:models/videomae-base", "hf:FOLDER", "models/videomae-base"),
    ("python:lab.nets:make", "python:MODULE:FACTORY", "lab.nets:make"),
    ("lab/nets.py:make", "FILE.py:FACTORY", "lab/nets.py:make"),
])
def test_a_spec_names_its_family_and_what_it_names_there(spec, form, target):
    family, named = model_family(spec)
    assert (family.form, named) == (form, target)


def test_every_model_says_how_to_rebuild_it_its_classes_and_clip_length():
    ours = create_model("cnn-lstm", 4)
    assert (ours.spec, ours.preset, ours.classes, ours.num_frames, ours.input_options) == ("cnn-lstm", "tiny", None, None, {})
    foreign = create_model("torchvision:r3d_18")
    assert (foreign.spec, foreign.preset, foreign.num_frames, foreign.input_options) == ("torchvision:r3d_18", None, None, {})
    assert foreign.classes[:2] == ["abseiling", "air drumming"] and len(foreign.classes) == 400


def test_options_go_only_where_they_apply():
    with pytest.raises(InvalidArgumentError, match="^torchvision:r3d_18 takes no input options, not size$"):
        create_model("torchvision:r3d_18", size=112)
    with pytest.raises(InvalidArgumentError, match="^i3d takes no input options, not layout$"):
        create_model("i3d", 3, layout="BCTHW")
    with pytest.raises(InvalidArgumentError, match="^unknown torchvision video model 'resnet50': choose one of mc3_18,"):
        create_model("torchvision:resnet50")
    with pytest.raises(InvalidArgumentError, match="num_classes must be an integer >= 2, got 1"):
        create_model("torchvision:r3d_18", 1)


@pytest.mark.parametrize("family", ["torchvision", "hf", "python"])
def test_gradients_reach_every_input_pixel_through_each_wrapper(family, hf_folder, tmp_path):
    torch.manual_seed(0)
    if family == "torchvision":
        model = create_model("torchvision:r3d_18")
    elif family == "hf":
        model = create_model(f"hf:{hf_folder('videomae')[0]}")
    else:
        (tmp_path / "small.py").write_text(SMALL_NETWORK)
        model = create_model(f"{tmp_path / 'small.py'}:make", layout="BCTHW", size=16, mean=[0.5] * 3, std=[0.2] * 3)
    videos = torch.rand(1, model.num_frames or 2, 3, 20, 24, requires_grad=True)
    model.eval()(videos)[:, 0].sum().backward()
    assert torch.isfinite(videos.grad).all() and (videos.grad.abs().sum((2, 3, 4)) > 0).all()  # every frame
