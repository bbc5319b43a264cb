"""The report of a one-cell run (what ``deepsava attack --out`` writes): numbers from the store, the model's label,
class names, what the label is, the flow of a combined attack, strips in temporal context, plots for any run."""

import json
import re
import shutil
import sqlite3

import numpy as np
import pytest
from report_pages import check_page, markdown_rows, percent

from deepsava.io import video_info
from deepsava.report.write import write_report

pytestmark = pytest.mark.usefixtures("one_thread")

FRAMES = 8


@pytest.fixture(scope="module")
def one_cell(make_run):
    """DeepSAVA in combined mode (noise and flow) on two randomly chosen frames of 4 clips of 8 frames; 2 examples."""
    folder, outcome = make_run("one-cell", FRAMES, [{"label": "DeepSAVA", "attack": {
        "method": "deepsava", "mode": "combined", "frames": 2, "lam": 0.1, "selector": "random", "steps": 20,
        "lr": 0.3}}], videos=4, repeats=1, batch_size=2, examples=2)
    assert outcome.summary[0]["successes"] > 0  # something to draw
    return folder


def edit_store(folder, cells=None, records=None, meta=None):
    """Rewrite a copied run's store: ``cells(config) -> config``, ``records(record) -> record``; drop ``meta`` keys."""
    db = sqlite3.connect(str(folder / "results.sqlite"))
    with db:
        for table, column, key, change in (("cells", "config", "cell_key", cells),
                                           ("results", "record", "id", records)):
            if change is not None:
                for ident, text in db.execute(f"SELECT {key}, {column} FROM {table}").fetchall():
                    db.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                               (json.dumps(change(json.loads(text)), sort_keys=True), ident))
        for name in meta or ():
            db.execute("DELETE FROM meta WHERE key = ?", (name,))
    db.close()


def headings(text: str) -> list[str]:
    """What each example's heading says of the label ("### model · cell · video: <this>")."""
    return [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("### ")]


def copy(one_cell, tmp_path, name: str):
    return shutil.copytree(one_cell, tmp_path / name, ignore=shutil.ignore_patterns("report"))


def test_report_of_a_one_cell_run(one_cell, tmp_path):
    from deepsava.experiment.store import ResultStore

    outcome = write_report(one_cell, out=tmp_path / "report", videos=2)
    text = outcome.markdown.read_text()
    (row,) = markdown_rows(text, "Results per cell")
    with ResultStore(one_cell / "results.sqlite") as store:
        (records,) = [store.records(key) for key in store.cells()]
    fooled = [r for r in records if r["clean_correct"]]
    assert percent(row["FR"]) == pytest.approx(sum(r["success"] for r in fooled) / len(fooled), abs=5e-4)
    assert row["model"] == "lstm" and row["status"] == "complete" and not outcome.partial
    assert outcome.examples == 2 and len(outcome.videos) == 2
    check_page(outcome.html)
    # The clean originals come from the dataset the cell records, shown next to the adversarial videos.
    assert "Clean frames unavailable" not in text and "(mp4" in text
    info = video_info(outcome.videos[0])
    assert info.width > 2 * (info.height - 12)  # side by side
    # Plots that fit any run, though nothing is swept: FR per cell, FR against iterations and SSIM.
    assert outcome.plots == ["Fooling rate per cell", "Fooling rate against iterations and against SSIM, per model"]
    for name in ("fr-cells", "fr-models"):
        assert (tmp_path / "report" / "figures" / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_a_combined_attack_shows_its_flow_and_never_claims_none(one_cell, tmp_path):
    text = write_report(one_cell, out=tmp_path / "report", videos=2, mp4=False).markdown.read_text()
    assert text.count("flow field drawn (up to ") == 2
    assert "No flow field is stored" not in text and "additive attack" not in text


def test_strips_show_each_perturbed_frame_among_its_neighbours(one_cell, tmp_path, monkeypatch):
    import deepsava.report.examples

    drawn = []
    draw = deepsava.report.examples.strip_figure
    monkeypatch.setattr(deepsava.report.examples, "strip_figure",
                        lambda blocks, *args: drawn.append(blocks) or draw(blocks, *args))
    text = write_report(one_cell, out=tmp_path / "report", videos=2, mp4=False).markdown.read_text()
    assert len(drawn) == 2 and "with up to 2 frames either side, clean above, adversarial below" in text
    changed_somewhere = False
    for block in (block for blocks in drawn for block in blocks):
        f = block.frame
        assert block.shown == list(range(max(0, f - 2), min(FRAMES, f + 3))) and len(block.shown) >= 3
        assert f in block.perturbed <= set(block.shown) and block.flow.shape == (2, 64, 64)
        changed = {t for t, clean, adv in zip(block.shown, block.clean, block.adversarial)
                   if not np.array_equal(clean, adv)}
        assert changed <= block.perturbed  # the neighbours the attack left alone are the clean frames
        changed_somewhere |= f in changed
        i = block.shown.index(f)
        assert np.allclose(block.adversarial[i] - block.clean[i], block.delta, atol=1e-3)
    assert changed_somewhere


def test_labels_name_classes_from_the_dataset_or_the_models_identity(one_cell, tmp_path):
    text = write_report(one_cell, out=tmp_path / "report", videos=2, mp4=False).markdown.read_text()
    assert not re.search(r"\bclass \d", text)
    assert [re.sub(r"move-(left|right)$", "", h) for h in headings(text)] == ["true class "] * 2  # the dataset's names

    foreign = copy(one_cell, tmp_path, "foreign")  # a model that records its own class names, the data moved away

    def identity(config):
        config["model"]["classes"] = ["leftward", "rightward"]
        config["dataset"].update(name="ucf101", root=str(tmp_path / "moved"), options={})
        return config

    edit_store(foreign, cells=identity)
    text = write_report(foreign, videos=2, mp4=False).markdown.read_text()
    assert [re.sub(r"(left|right)ward$", "", h) for h in headings(text)] == ["true class "] * 2
    predictions = re.findall(r"before: (\S+), after: (\S+) \(", text)
    assert len(predictions) == 2 and {name for pair in predictions for name in pair} <= {"leftward", "rightward"}


def test_a_label_that_is_the_clean_prediction_says_so(one_cell, tmp_path):
    folder = copy(one_cell, tmp_path, "unlabelled")
    edit_store(folder, records=lambda record: {**record, "label_source": "clean prediction"})
    text = write_report(folder, videos=1, mp4=False).markdown.read_text()
    assert "true class = the model's clean prediction, move-" in text and "(no label was given)" in text


def test_the_model_column_names_the_model_even_without_a_configuration(one_cell, tmp_path):
    folder = copy(one_cell, tmp_path, "bare")
    edit_store(folder, records=lambda record: {k: v for k, v in record.items() if k != "model"},
               meta=("config_source",))
    outcome = write_report(folder, videos=0)
    (row,) = markdown_rows(outcome.markdown.read_text(), "Results per cell")
    assert row["model"] == str(one_cell.parent / "lstm")  # the checkpoint the cell's identity names, never "–"


def test_without_the_dataset_no_video_is_written_and_the_report_says_why(one_cell, tmp_path):
    folder = copy(one_cell, tmp_path, "moved")
    moved = {"name": "ucf101", "root": str(tmp_path / "moved-data"), "options": {}}
    edit_store(folder, cells=lambda config: {**config, "dataset": {**config["dataset"], **moved}})
    outcome = write_report(folder, videos=1)
    text = outcome.markdown.read_text()
    assert "Clean frames unavailable: its dataset could not be loaded again" in text and "no video is written" in text
    assert not outcome.videos and outcome.examples == 1
    check_page(outcome.html)


def test_a_run_cut_short_is_flagged_partial(one_cell, tmp_path):
    folder = copy(one_cell, tmp_path, "cut")
    db = sqlite3.connect(str(folder / "results.sqlite"))
    with db:  # as if killed after the first batch
        db.execute("DELETE FROM results WHERE id IN (SELECT id FROM results ORDER BY id DESC LIMIT 2)")
    db.close()
    outcome = write_report(folder, videos=0)
    assert outcome.partial and "**Partial run**: 1 of 1 cells hold fewer results than planned" in \
        outcome.markdown.read_text()


def test_a_single_video_without_a_label_is_reported_against_the_clean_prediction(make_run, workdir, tmp_path):
    """``deepsava attack --video clip --out DIR`` without --label: the clean prediction is the label, and says so."""
    from deepsava.data import load_dataset
    from deepsava.io import write_video

    clip = load_dataset("synth-actions", split="test", frames=FRAMES, size=64, num_classes=2, videos_per_class=10,
                        progress=False)[0][0]
    path = write_video(workdir / "clip.mkv", clip)  # lossless: decoded again, the frames are the clip's
    folder, _ = make_run("single-video", FRAMES, [{"label": "DeepSAVA", "attack": {
        "method": "deepsava", "frames": 1, "selector": "first", "steps": 5, "lr": 0.1}}],
        dataset={"name": "video", "root": str(path), "frames": FRAMES, "size": 64}, videos=1, examples=1)
    outcome = write_report(folder, out=tmp_path / "report", videos=1)
    text = outcome.markdown.read_text()
    (row,) = markdown_rows(text, "Results per cell")
    assert row["model"] == "lstm" and row["n"] == "1/1"
    (heading,) = headings(text)
    assert re.fullmatch(r"true class = the model's clean prediction, move-(left|right) \(no label was given\)", heading)
    assert "Clean frames unavailable" not in text and len(outcome.videos) == 1
    check_page(outcome.html)
