"""The top-level API: ``import deepsava as ds`` names what users reach for, lazily, and `deepsava --version`."""

import subprocess
import sys

import torch

import deepsava as ds


def test_the_public_names_resolve_to_the_library_objects():
    from deepsava.attacks import PGD, DeepSAVA, Flicker, Sparse
    from deepsava.data import load_dataset
    from deepsava.experiment.runner import run_experiment
    from deepsava.io import load_video, write_video
    from deepsava.models import create_model
    from deepsava.perturb import ssim, warp
    from deepsava.report.write import write_report

    expected = {"DeepSAVA": DeepSAVA, "Sparse": Sparse, "Flicker": Flicker, "PGD": PGD, "create_model": create_model,
                "load_video": load_video, "write_video": write_video, "load_dataset": load_dataset, "ssim": ssim,
                "warp": warp, "run_experiment": run_experiment, "write_report": write_report}
    for name, value in expected.items():
        assert getattr(ds, name) is value, name
    assert set(expected) <= set(dir(ds))


def test_import_is_lazy_and_unknown_names_fail_as_attributes():
    code = "import sys, deepsava; print('deepsava.attacks' in sys.modules, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]
    try:
        ds.no_such_name
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("an unknown name resolved")


def test_an_attack_runs_through_the_top_level_names():
    model = ds.create_model("cnn-lstm", 3, "tiny").eval()
    videos = torch.rand(2, 4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        labels = model(videos).argmax(1)
    result = ds.DeepSAVA(model, frames=1, selector="first", steps=2)(videos, labels)
    assert result.adversarial.shape == videos.shape and result.clean_correct.all()


def test_version_flag(cli_run):
    code, out, _ = cli_run(["--version"])
    assert code == 0 and out.strip() == f"deepsava {ds.__version__}"
