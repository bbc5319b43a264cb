"""deepsava report on the analyses: the four studies' tables and images appear, and the page parses."""

import html.parser
import io
import os

import numpy as np
import pytest
import torch
import yaml
from toymodels import OneFrame, videos_and_labels

from deepsava.evaluate.analysis_report import heatmap_figure
from deepsava.evaluate.prediction import attack_predictor, save_outcomes
from deepsava.evaluate.report import write_report
from deepsava.evaluate.runner import run_experiment
from deepsava.evaluate.saliency import SaliencyView, saliency_maps, temporal_saliency
from deepsava.evaluate.transfer import FOOLING
from deepsava.models.convlstm import NextFramePredictor

pytestmark = pytest.mark.usefixtures("one_thread")

TABLES = ("table12", "table12-paper", "compression", "compression-retention", "compression-clean", "saliency",
          "prediction")
IMAGES = ("table12-heatmap", "table12-paper-heatmap", "compression-plot", "saliency-maps-0", "saliency-curve-0",
          "figure-c9", "prediction-frames")


@pytest.fixture(scope="module")
def analysis_folder(tmp_path_factory):
    """One folder with a tiny transfer + compression experiment, a saliency view and a prediction study."""
    from deepsava.models import create_model, save_checkpoint

    root = tmp_path_factory.mktemp("analyses")
    previous = os.environ.get("DEEPSAVA_CACHE")
    os.environ["DEEPSAVA_CACHE"] = str(root / "cache")
    meta = {"classes": ["move-left", "move-right"], "dataset": "synth-actions"}
    torch.manual_seed(0)
    save_checkpoint(create_model("cnn-lstm", 2, "tiny"), root / "lstm", meta)
    save_checkpoint(create_model("inception-v3", 2, "tiny"), root / "frames", meta)
    config = {
        "name": "analyses", "videos": 4, "batch_size": 4, "examples": 0,
        "dataset": {"name": "synth-actions", "frames": 4, "size": 64,
                    "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}},
        "models": {"lstm": {"checkpoint": str(root / "lstm")}, "frames": {"checkpoint": str(root / "frames")}},
        "transfer": ["lstm", "frames"], "compression": [28],
        "cells": [{"label": "Sparse", "attack": {"method": "sparse", "frames": 1, "steps": 4, "lr": 0.1, "lam": 0.1}},
                  {"label": "DeepSAVA", "attack": {"method": "deepsava", "frames": 1, "selector": "first", "steps": 4,
                                                   "lr": 0.1, "early_stop": [True, False]}}],
    }
    (root / "analyses.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    folder = root / "run"
    run_experiment(root / "analyses.yaml", out=folder, device="cpu", progress=False)

    model = OneFrame(frame=1, num_classes=4).eval()
    videos, labels = videos_and_labels(model, batch=1, frames=4, size=24)
    maps = saliency_maps(model, videos, labels)
    SaliencyView("clip/0", "a", videos[0].permute(0, 2, 3, 1).numpy(), ["toy"], maps.numpy(),
                 temporal_saliency(maps).numpy(), ["a"], np.array([0.5])).save(folder)

    predictor = NextFramePredictor(hidden=4).eval()
    sequences = torch.rand(2, 5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    outcomes = [attack_predictor(predictor, sequences, selector, "l2", steps=2) for selector in ("first", "random")]
    save_outcomes(folder, outcomes, {"dataset": "random", "sequences": 2})
    yield folder
    if previous is None:
        os.environ.pop("DEEPSAVA_CACHE", None)
    else:
        os.environ["DEEPSAVA_CACHE"] = previous


class Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images = set(), 0

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id")
        self.images += tag == "img"


def test_report_shows_the_four_studies_with_their_plots(analysis_folder, tmp_path):
    outcome = write_report(analysis_folder, out=tmp_path / "report", videos=0)
    page = Ids()
    page.feed(outcome.html.read_text())
    page.close()
    for anchor in TABLES:
        assert f'{anchor}-title' in page.ids and anchor in page.ids  # heading and table
    for anchor in IMAGES:
        assert anchor in page.ids
    assert page.images == len(IMAGES)
    markdown = outcome.markdown.read_text()
    for name in ("table12-heatmap", "table12-paper-heatmap", "compression", "saliency-maps-0", "saliency-curve-0",
                 "figure-c9", "prediction-frames"):
        png = tmp_path / "report" / "figures" / f"{name}.png"
        assert png.read_bytes().startswith(b"\x89PNG") and f"figures/{name}.png" in markdown
    assert "p(label)" in markdown and "share of the 5% most salient pixels" in markdown
    assert "largest RMS change (l2,1)" in markdown


def test_heat_map_greys_out_pairs_where_no_video_counts():
    """A pair with no video to count is drawn grey, not as a 0% cell."""
    from matplotlib.image import imread

    empty = {FOOLING: float("nan"), "fooled": 0, "n": 0}
    zero = {FOOLING: 0.0, "fooled": 0, "n": 5}

    def grey_pixels(entries) -> int:
        png = heatmap_figure({"attack": {"s": dict(zip(("a", "b"), entries))}}, ["s"], ["a", "b"], FOOLING,
                             ("fooled", "n"), "title")
        pixels = imread(io.BytesIO(png))[..., :3]
        return int((np.abs(pixels - 0.85) < 0.01).all(axis=-1).sum())

    assert grey_pixels([empty, zero]) > 1000
    assert grey_pixels([zero, zero]) < 200  # only the anti-aliased edges of the text
