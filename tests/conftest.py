"""Fixtures shared by the test modules: real clips and an isolated cache folder."""

import os

# Before torch loads: idle OpenMP threads sleep instead of spinning, so the tests that start a
# second torch process (CLI, kill-and-resume) do not slow each other down on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared helpers (toymodels) for tests in subfolders

CLIPS = (Path(__file__).parents[1] / "../shared/data/clips").resolve()


@pytest.fixture
def real_clip():
    """Path to a real clip under ../shared/data/clips (skips the test when it is absent)."""

    def get(name: str) -> Path:
        path = CLIPS / name
        if not path.is_file():
            pytest.skip(f"real clip {path} is not available")
        return path

    return get


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh $DEEPSAVA_CACHE for one test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("DEEPSAVA_CACHE", str(path))
    return path


@pytest.fixture
def one_thread():
    """Single-threaded torch for a test: on a shared 2-core machine extra threads spin-wait and run slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cli_run(capsys):
    """Run the deepsava command line in this process: ``cli_run(args) -> (exit code, stdout, stderr)``."""
    import sys

    from deepsava.cli.main import run as cli_main

    def run(args) -> tuple[int, str, str]:
        old = sys.argv
        sys.argv = ["deepsava", *map(str, args)]
        try:
            cli_main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        finally:
            sys.argv = old
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# -- foreign models saved the way their own libraries save them: torchvision state dicts, Hugging Face folders --


@pytest.fixture
def torchvision_file(tmp_path):
    """``torchvision_file(arch, num_classes=400) -> (network in eval mode, path)``: a random torchvision video
    model and its state dict saved as torchvision publishes its weights (``torch.save``, a ``.pth``)."""
    from torchvision.models import get_model

    def make(arch: str, num_classes: int = 400):
        torch.manual_seed(0)
        net = get_model(arch, weights=None, num_classes=num_classes).eval()
        path = tmp_path / f"{arch}-{num_classes}.pth"
        torch.save(net.state_dict(), path)
        return net, path

    return make


KINETICS_LIKE = {0: "abseiling", 1: "rock climbing", 2: "juggling balls", 3: "surfing water", 4: "yoga"}


def _tiny(kind: str):
    """A random tiny classifier of ``kind`` (hidden 32, 1 layer, 4 frames of 32x32, 5 classes) and its processor."""
    import transformers as tf

    common = dict(image_size=32, num_frames=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=37, id2label=KINETICS_LIKE, label2id={v: k for k, v in KINETICS_LIKE.items()})
    if kind == "videomae":  # torchvision-backend processor: resizes the shorter side, crops
        return (tf.VideoMAEForVideoClassification(tf.VideoMAEConfig(patch_size=8, tubelet_size=2, **common)),
                tf.VideoMAEImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}))
    if kind == "timesformer":  # PIL-backend processor, exact size, ImageNet mean/std
        return (tf.TimesformerForVideoClassification(tf.TimesformerConfig(patch_size=8, **common)),
                tf.VideoMAEImageProcessorPil(size={"height": 39, "width": 40}, crop_size={"height": 32, "width": 32},
                                             image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]))
    if kind == "vivit":  # rescales to [-1, 1] (offset), then normalises
        return (tf.VivitForVideoClassification(tf.VivitConfig(tubelet_size=[2, 8, 8], **common)),
                tf.VivitImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}))
    if kind == "vit":  # an image classifier: not a supported video model
        return (tf.ViTForImageClassification(tf.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                                           num_attention_heads=2, intermediate_size=37)),
                tf.ViTImageProcessor(size={"height": 32, "width": 32}))
    raise ValueError(kind)


@pytest.fixture(scope="session")
def hf_folder(tmp_path_factory):
    """``hf_folder(kind) -> (folder, network in eval mode, processor)``: a tiny random model of ``kind`` and its
    processor saved with ``save_pretrained`` into one folder (made once per session: copy it before changing it)."""
    pytest.importorskip("transformers")
    made = {}

    def get(kind: str):
        if kind not in made:
            torch.manual_seed(0)
            net, processor = _tiny(kind)
            folder = tmp_path_factory.mktemp(kind)
            net.save_pretrained(folder)
            processor.save_pretrained(folder)
            made[kind] = folder, net.eval(), processor
        return made[kind]

    return get


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding ``cache/`` ($DEEPSAVA_CACHE for the module) and ``lstm``: a random tiny CNN+LSTM checkpoint over
    2 synth-actions classes (move-left, move-right)."""
    from deepsava.models import create_model, save_checkpoint

    root = tmp_path_factory.mktemp("work")
    previous = os.environ.get("DEEPSAVA_CACHE")
    os.environ["DEEPSAVA_CACHE"] = str(root / "cache")
    torch.manual_seed(0)
    save_checkpoint(create_model("cnn-lstm", 2, "tiny"), root / "lstm",
                    {"classes": ["move-left", "move-right"], "dataset": "synth-actions"})
    yield root
    if previous is None:
        os.environ.pop("DEEPSAVA_CACHE", None)
    else:
        os.environ["DEEPSAVA_CACHE"] = previous
