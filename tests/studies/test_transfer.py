"""Transferability (Table 12): the diagonal of the matrix is the white-box fooling rate of the same run, and a
perturbation travels only to a model that reads the perturbed frame. The report of the four analyses (transfer,
compression, saliency, prediction) is checked over the same tiny run."""

import html.parser
import io
import math
import os
import re
import shutil

import numpy as np
import pytest
import torch
import yaml
from toymodels import OneFrame, videos_and_labels

from deepsava.attacks import DeepSAVA
from deepsava.errors import InvalidConfigError
from deepsava.report.study_figures import heatmap_figure
from deepsava.experiment.runner import run_experiment
from deepsava.experiment.store import ResultStore
from deepsava.studies.transfer import FOOLING, GIVEN_SUCCESS, transfer_matrix, transfer_predictions

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_frame_only_the_source_reads_does_not_transfer():
    """Two classifiers with the same weights, one reading frame 0 and one frame 3, on videos whose frames 0 and 3 are
    equal (so both classify them alike). An attack on one perturbs the frame it reads (saliency selector): it fools
    that model (diagonal > 0, the white-box FR) and leaves the other's input unchanged (off-diagonal exactly 0)."""
    models = {"reads-0": OneFrame(frame=0).eval(), "reads-3": OneFrame(frame=3).eval()}
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(6 * 5, 3, 6, 6, generator=g)
    videos = torch.nn.functional.interpolate(coarse, size=(24, 24), mode="bilinear").view(6, 5, 3, 24, 24)
    videos[:, 3] = videos[:, 0]
    with torch.no_grad():
        labels = models["reads-0"](videos).argmax(dim=1)
        assert torch.equal(models["reads-3"](videos).argmax(dim=1), labels)
    cells, white_box = [], {}
    for source, model in models.items():
        result = DeepSAVA(model, frames=1, selector="saliency", steps=20, lr=0.1)(videos, labels)
        assert result.frames.flatten().tolist() == [model.frame] * 6
        records = result.to_records()
        for record, seen in zip(records, transfer_predictions(videos, result.adversarial, models)):
            record["transfer"] = seen
        cells.append((source, "DeepSAVA", records))
        white_box[source] = result.fooling_rate
    matrix = transfer_matrix(cells, list(models), None)["DeepSAVA"]
    for source in models:
        for target, rates in matrix[source].items():
            assert rates["n"] == 6
            if target == source:
                assert rates[FOOLING] == white_box[source] > 0
                assert rates[GIVEN_SUCCESS] == 1.0 and rates["transferred"] == rates["successes"] == rates["fooled"]
            else:
                assert rates[FOOLING] == 0.0 and rates["fooled"] == 0
                assert rates[GIVEN_SUCCESS] == 0.0 and rates["successes"] == matrix[source][source]["successes"]


@pytest.mark.parametrize("head", ["cnn-lstm-shared", "cnn-gru-shared", "cnn-rnn-shared"])
def test_shared_heads_read_the_frame_features_of_the_shipped_inception_v3(head):
    """Table 12's premise: the recurrent heads run over the very frame CNN of the shipped inception-v3."""
    from deepsava.models import load_checkpoint, shipped_checkpoint

    frames, _ = load_checkpoint(shipped_checkpoint("inception-v3"))
    model, _ = load_checkpoint(shipped_checkpoint(head))
    mine, theirs = model.cnn.state_dict(), frames.cnn.state_dict()
    assert len(mine) > 50 and mine.keys() == theirs.keys()
    assert all(torch.equal(mine[name], theirs[name]) for name in mine)
    assert set(model.state_dict()) - {f"cnn.{name}" for name in mine}  # and a head of its own on top


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory):
    """Two random tiny models over 2 synth-actions classes, attacked by Sparse and DeepSAVA (stopping at the first
    success, and not), each judged by both, and after H.264 at CRF 28."""
    from deepsava.data import load_dataset
    from deepsava.models import create_model, save_checkpoint

    root = tmp_path_factory.mktemp("transfer")
    previous = os.environ.get("DEEPSAVA_CACHE")
    os.environ["DEEPSAVA_CACHE"] = str(root / "cache")
    meta = {"classes": ["move-left", "move-right"], "dataset": "synth-actions"}
    torch.manual_seed(0)
    save_checkpoint(create_model("cnn-lstm", 2, "tiny"), root / "lstm", meta)
    save_checkpoint(create_model("inception-v3", 2, "tiny"), root / "frames", meta)
    dataset = {"name": "synth-actions", "frames": 4, "size": 64,
               "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}}
    config = {
        "name": "transfer", "dataset": dataset, "videos": 8, "batch_size": 4, "examples": 0,
        "models": {"lstm": {"checkpoint": str(root / "lstm")}, "frames": {"checkpoint": str(root / "frames")}},
        "transfer": ["lstm", "frames"], "compression": [28],
        "cells": [{"label": "Sparse", "attack": {"method": "sparse", "frames": 2, "steps": 20, "lr": 0.1, "lam": 0.1}},
                  {"label": "DeepSAVA", "attack": {"method": "deepsava", "frames": 2, "selector": "random", "steps": 15,
                                                   "lr": 0.1, "early_stop": [True, False]}}],
    }
    path = root / "transfer.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run_experiment(path, out=root / "run", device="cpu", progress=False)
    test = load_dataset("synth-actions", split="test", frames=4, size=64, num_classes=2, videos_per_class=10,
                        progress=False)
    yield config, outcome, test
    if previous is None:
        os.environ.pop("DEEPSAVA_CACHE", None)
    else:
        os.environ["DEEPSAVA_CACHE"] = previous


def _cells(outcome):
    with ResultStore(outcome.store_path) as store:
        return [(row, store.records(row["cell_key"])) for row in outcome.summary]


def test_diagonal_is_the_white_box_fooling_rate(transfer_run):
    _, outcome, _ = transfer_run
    cells = _cells(outcome)
    matrix = transfer_matrix([(row["model"], row["label"], records) for row, records in cells], ["lstm", "frames"])
    checked = 0
    for row, _ in cells:
        white_box = row["fooling_rate"]
        assert matrix[row["label"]][row["model"]][row["model"]] == pytest.approx(white_box, abs=1e-12)
        checked += not math.isnan(white_box)
    assert checked >= 2  # some cells attacked videos at all
    assert any(0 < row["fooling_rate"] for row, _ in cells)  # and fooled some


def test_records_hold_each_target_models_own_predictions(transfer_run):
    from deepsava.models import load_checkpoint

    config, outcome, test = transfer_run
    target, _ = load_checkpoint(config["models"]["frames"]["checkpoint"])
    index = {vid: i for i, vid in enumerate(test.video_ids)}
    for row, records in _cells(outcome):
        assert all(r["transfer"][row["model"]]["adv_pred"] == r["adv_pred"] for r in records)  # the source itself
        if row["model"] != "lstm":
            continue
        clips = torch.stack([test[index[r["video_id"]]][0] for r in records])
        with torch.no_grad():
            expected = target(clips).argmax(dim=1).tolist()
        assert [r["transfer"]["frames"]["clean_pred"] for r in records] == expected


def test_transfer_command_needs_a_transfer_list(transfer_run, tmp_path, monkeypatch, capsys):
    import sys

    from deepsava.cli.main import run

    config, _, _ = transfer_run
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in config.items() if k != "transfer"}, sort_keys=False))
    monkeypatch.setattr(sys, "argv", ["deepsava", "transfer", str(path)])
    with pytest.raises(SystemExit) as exit_:
        run()
    assert exit_.value.code == InvalidConfigError.exit_code
    assert "names no transfer: list the target models under a top-level 'transfer:' key" in capsys.readouterr().err


TABLES = ("table12", "table12-paper", "compression", "compression-retention", "compression-clean", "saliency",
          "prediction")
IMAGES = ("fr-cells", "fr-models", "table12-heatmap", "table12-paper-heatmap", "compression-plot", "saliency-maps-0",
          "saliency-curve-0", "figure-c9", "prediction-frames")


def _add_saliency_and_prediction(folder):
    """A saliency view (a toy model) and a prediction study (a random predictor) in the run folder."""
    from deepsava.studies.prediction import attack_predictor, save_outcomes
    from deepsava.studies.saliency import SaliencyView, saliency_maps, temporal_saliency
    from deepsava.models.convlstm import NextFramePredictor

    model = OneFrame(frame=1, num_classes=4).eval()
    videos, labels = videos_and_labels(model, batch=1, frames=4, size=24)
    maps = saliency_maps(model, videos, labels)
    SaliencyView("clip/0", "a", videos[0].permute(0, 2, 3, 1).numpy(), ["toy"], maps.numpy(),
                 temporal_saliency(maps).numpy(), ["a"], np.array([0.5])).save(folder)
    predictor = NextFramePredictor(hidden=4).eval()
    sequences = torch.rand(2, 5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    outcomes = [attack_predictor(predictor, sequences, selector, "l2", steps=2) for selector in ("first", "random")]
    save_outcomes(folder, outcomes, {"dataset": "random", "sequences": 2})


class Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images = set(), 0

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id")
        self.images += tag == "img"


def test_report_shows_the_four_studies_with_their_plots(transfer_run, tmp_path):
    from deepsava.report.write import write_report

    folder = shutil.copytree(transfer_run[1].out, tmp_path / "run")
    _add_saliency_and_prediction(folder)
    outcome = write_report(folder, out=tmp_path / "report", videos=0)
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
    assert re.search(r"\| \d+\.\d% \(\d+/\d+\) \|", markdown)  # rates come with their counts k/n


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


def test_a_transfer_matrix_across_model_families(workdir, tmp_path, torchvision_file):
    """Our CNN+LSTM, a torchvision R3D-18 and a Hugging Face VideoMAE as sources and targets of one run: every
    target classifies every adversarial video, and the diagonal of the matrix is each source's white-box FR."""
    transformers = pytest.importorskip("transformers")
    from deepsava.report.analyses import transfer_tables
    from deepsava.report.run import load_run

    _, r3d = torchvision_file("r3d_18", num_classes=2)
    torch.manual_seed(0)
    classes = {0: "move-left", 1: "move-right"}
    videomae = transformers.VideoMAEForVideoClassification(transformers.VideoMAEConfig(
        image_size=32, patch_size=8, num_frames=4, tubelet_size=2, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=37, id2label=classes, label2id={v: k for k, v in classes.items()}))
    videomae.save_pretrained(tmp_path / "videomae")
    transformers.VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path / "videomae")
    models = {"lstm": {"checkpoint": str(workdir / "lstm")},
              "r3d": {"model": "torchvision:r3d_18", "weights": str(r3d)},
              "videomae": {"model": f"hf:{tmp_path / 'videomae'}"}}
    config = {"name": "families", "videos": 2, "batch_size": 2, "examples": 0, "transfer": list(models),
              "dataset": {"name": "synth-actions", "frames": 4, "size": 64,
                          "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}},
              "models": models, "cells": [{"label": "Sparse", "attack": {"method": "sparse", "frames": 1, "steps": 3}}]}
    outcome = run_experiment(config_file(tmp_path, config), out=tmp_path / "run", device="cpu", progress=False)
    assert outcome.videos_done == 6 and not outcome.interrupted
    with ResultStore(outcome.store_path) as store:
        cells = [(row["model"], row["label"], store.records(row["cell_key"])) for row in outcome.summary]
    assert all(set(record["transfer"]) == set(models) for _, _, records in cells for record in records)
    matrix = transfer_matrix(cells, list(models), None)["Sparse"]
    for row in outcome.summary:
        diagonal = matrix[row["model"]][row["model"]]
        assert diagonal["n"] == row["attacked"] and diagonal[FOOLING] == pytest.approx(row["fooling_rate"], nan_ok=True)
    [table, *_] = transfer_tables(load_run(tmp_path / "run"))
    assert [row[0] for row in table.rows] == list(models) and len(table.columns) == 1 + len(models)  # sources x targets


def config_file(folder, config: dict):
    path = folder / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
