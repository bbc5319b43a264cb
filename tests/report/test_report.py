"""deepsava report: tables equal to the store's numbers, a self-contained HTML page, partial runs, clear errors."""

import base64
import json
import re
import shutil
import sqlite3

import numpy as np
import pytest
from report_pages import check_page, markdown_rows, percent

from deepsava.errors import InvalidArgumentError
from deepsava.experiment.summary import summarize_store
from deepsava.io import read_frames, video_info
from deepsava.report.run import base_label, load_run
from deepsava.report.write import write_report

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run_dir(make_run):
    """A finished tiny experiment: a random tiny CNN+LSTM over 2 synth-actions classes, 4-frame clips,
    Sparse and DeepSAVA on 1 frame, Sparse on [1, 2] frames, DeepSAVA with lam in [0.5, 1.0]; 4 videos x 2 repeats."""
    steps = {"steps": 8, "lr": 0.1}
    folder, outcome = make_run("tiny-report", 4, [
        {"label": "Sparse", "attack": {"method": "sparse", "frames": 1, "lam": 0.1, **steps}},
        {"label": "DeepSAVA", "attack": {"method": "deepsava", "frames": 1, "selector": "first", **steps}},
        {"label": "Sparse sweep", "attack": {"method": "sparse", "frames": [1, 2], "lam": 0.2, **steps}},
        {"label": "DeepSAVA lam", "attack": {"method": "deepsava", "frames": 1, "selector": "first",
                                             "lam": [0.5, 1.0], **steps}},
    ], description="report test run", videos=4, repeats=2, batch_size=2, examples=2)
    assert outcome.videos_done == 6 * 4 * 2
    return folder


# -- experiment runs --------------------------------------------------------------------------------


def test_report_of_an_experiment(run_dir, tmp_path):
    out = tmp_path / "report"
    outcome = write_report(run_dir, out=out, videos=2)
    assert outcome.markdown == out / "report.md" and outcome.html == out / "report.html" and not outcome.partial

    # The Markdown per-cell table holds the store's fooling rates (and counts).
    text = outcome.markdown.read_text()
    rows = {(r["model"], r["cell"]): r for r in markdown_rows(text, "Results per cell")}
    summary = summarize_store(run_dir / "results.sqlite")
    assert len(rows) == len(summary) == 6
    for cell in summary:
        row = rows[(cell["model"], cell["label"])]
        assert percent(row["FR"]) == pytest.approx(cell["fooling_rate"], abs=5e-4)
        if not np.isnan(cell["fr_ci"]):
            assert float(row["FR"].split("±")[1].strip(" %")) / 100 == pytest.approx(cell["fr_ci"], abs=5e-4)
        assert row["n"] == f"{cell['attacked']}/{cell['videos']}" and row["status"] == "complete"
    assert any(c["fooling_rate"] > 0 for c in summary)  # something to look at

    # The pivots the cells allow: Table 3/6 (unswept cells), Figure 6 data (frames), Table 9 (lambda).
    t3 = {r["attack method"]: r for r in markdown_rows(text, "Table 3: comparison of methods per model"
                                                             " (FR ± 99% CI over repeats, ANI)")}
    assert set(t3) == {"Sparse", "DeepSAVA"}
    by_label = {c["label"]: c for c in summary}
    assert percent(t3["Sparse"]["FR"]) == pytest.approx(by_label["Sparse"]["fooling_rate"], abs=5e-4)
    fig6 = markdown_rows(text, "Figure 6 data: FR against the number of attacked frames")
    assert [r["attack method"] for r in fig6] == ["Sparse sweep"]
    assert percent(fig6[0]["2 frames"]) == pytest.approx(by_label["Sparse sweep (frames=2)"]["fooling_rate"], abs=5e-4)
    t9 = markdown_rows(text, "Table 9: the SSIM weight λ (FR, ASP(SSIM))")
    assert [r["λ"] for r in t9] == ["0.5", "1.0"]
    assert "Table 7" not in text and "Table 5" not in text  # modes and budgets do not vary here

    # Plots and strips as files next to the Markdown; every Markdown link resolves.
    for ref in re.findall(r"\]\(([^)]+)\)", text):
        assert (out / ref).is_file(), ref
    assert (out / "figures" / "figure6.png").is_file() and (out / "figures" / "lambda.png").is_file()
    assert outcome.plots == ["Fooling rate per cell", "Fooling rate against iterations and against SSIM, per model",
                             "Figure 6: fooling rate against the number of attacked frames",
                             "The SSIM weight λ: FR and ASP(SSIM)"]
    assert outcome.examples == 2 and len(outcome.videos) == 2
    sparse, deepsava = text.split("### lstm · Sparse · ")[1], text.split("### lstm · DeepSAVA · ")[1]
    assert "No flow field is stored" in sparse.split("###")[0]  # Sparse has no flow, and the strip says so
    assert "no flow (additive attack)" in sparse.split("###")[0]
    assert "No flow field is stored" not in deepsava.split("###")[0]  # DeepSAVA's flow is stored and drawn
    assert re.search(r"before: move-(left|right), after: move-(left|right)", text)  # class names, not numbers

    # The HTML page: parses, images embedded, only existing relative files linked.
    page = check_page(outcome.html)
    assert sum(tag == "img" for tag, _ in page.refs) == 4 + 2  # four plots, two strips
    embedded = [base64.b64decode(ref.split(",", 1)[1]) for tag, ref in page.refs if tag == "video"]
    assert sorted(embedded) == sorted(path.read_bytes() for path in outcome.videos)  # the mp4s beside it, embedded
    assert outcome.html.read_text().count("is an H.264 re-encoding (CRF 12, yuv420p)") == 2

    # Each mp4: the original next to the adversarial video, H.264, every frame, even size.
    info = video_info(outcome.videos[0])
    assert info.frames == 4 and info.height % 2 == 0 and info.width % 2 == 0 and info.width > 2 * info.height - 20
    clip = read_frames(outcome.videos[0])
    half = (info.width - 6) // 2  # left: original, right: adversarial (a white 2-pixel gap, scaled x3)
    assert (clip[:, :, : info.height - 12, :half] - clip[:, :, : info.height - 12, -half:]).abs().mean() > 0.001


def test_report_of_a_partial_run_is_flagged(run_dir, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial, ignore=shutil.ignore_patterns("report"))
    db = sqlite3.connect(str(partial / "results.sqlite"))
    key, label = db.execute("SELECT cell_key, label FROM cells WHERE label = 'DeepSAVA'").fetchone()
    (last,) = db.execute("SELECT cell_key FROM cells WHERE label = 'DeepSAVA lam (lam=1.0)'").fetchone()
    with db:  # as if killed during this cell's second repeat, before the last cell had started
        db.execute("DELETE FROM results WHERE cell_key = ? AND repeat = 1", (key,))
        db.execute("DELETE FROM results WHERE cell_key = ?", (last,))
    db.close()

    outcome = write_report(partial, videos=0)
    assert outcome.partial and outcome.markdown.parent == partial / "report"
    text = outcome.markdown.read_text()
    assert "**Partial run**: 2 of 6 cells hold fewer results than planned (36 of 48 videos stored)" in text
    assert "Resume with: deepsava experiment" in text
    rows = {r["cell"]: r for r in markdown_rows(text, "Results per cell")}
    assert rows["DeepSAVA"]["status"] == "partial (4 of 8)" and rows["Sparse"]["status"] == "complete"
    unstarted = rows["DeepSAVA lam (lam=1.0)"]
    assert unstarted["status"] == "not started (0 of 8)" and unstarted["FR"] == "–"
    assert "Table 9" not in text  # one lambda value left: no sweep to show
    stored = {c["label"]: c for c in summarize_store(partial / "results.sqlite")}
    assert percent(rows["DeepSAVA"]["FR"]) == pytest.approx(stored["DeepSAVA"]["fooling_rate"], abs=5e-4)
    page = check_page(outcome.html)
    assert "partial" in page.ids


def test_flow_field_is_drawn_when_the_examples_hold_it(run_dir, tmp_path):
    copy = tmp_path / "with-flow"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("report"))
    for path in (copy / "examples").rglob("*.npz"):
        with np.load(path) as data:
            item = {k: data[k] for k in data.files}
        k, _, h, w = item["delta"].shape
        item["flow"] = np.ones((k, 2, h, w), dtype=np.float16) * 0.5
        np.savez_compressed(path, **item)
    text = write_report(copy, videos=1, mp4=False).markdown.read_text()
    assert "No flow field is stored" not in text and "videos/" not in text


def test_without_the_dataset_the_strip_shows_the_difference_and_says_why(run_dir, tmp_path):
    copy = tmp_path / "no-data"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("report"))
    db = sqlite3.connect(str(copy / "results.sqlite"))
    with db:  # as if the run's UCF101 folder had moved away
        for key, text in db.execute("SELECT cell_key, config FROM cells").fetchall():
            config = json.loads(text)
            config["dataset"].update(name="ucf101", root=str(tmp_path / "moved"), options={})
            db.execute("UPDATE cells SET config = ? WHERE cell_key = ?", (json.dumps(config), key))
    db.close()
    outcome = write_report(copy, videos=1)
    text = outcome.markdown.read_text()
    assert outcome.examples == 1 and not outcome.videos and (copy / "report" / "figures" / "example-1.png").is_file()
    assert "Clean frames unavailable: its dataset could not be loaded again" in text and "no video is written" in text
    assert "true class move-" in text  # class names from the checkpoint's metadata instead
    check_page(outcome.html)


def test_flow_colours_follow_direction_and_length():
    from deepsava.report.strips import flow_to_rgb

    h = w = 4
    right, left, still = np.zeros((2, h, w)), np.zeros((2, h, w)), np.zeros((2, h, w))
    right[0], left[0] = 1.0, -1.0
    field = np.concatenate([right, left, still], axis=2)  # (2, 4, 12)
    rgb = flow_to_rgb(field)
    assert np.allclose(rgb[:, 8:], 1.0)  # no motion is white
    assert not np.allclose(rgb[0, 0], rgb[0, 4])  # opposite directions, different hues
    assert np.allclose(rgb[:, :4], rgb[0, 0]) and rgb[0, 0].min() < 0.1  # full length: a saturated colour


# -- errors -------------------------------------------------------------------------------------------


def test_missing_or_empty_run_folders_give_one_clear_line(tmp_path, cli_run):
    with pytest.raises(InvalidArgumentError, match=r"^run folder .*nowhere does not exist$"):
        write_report(tmp_path / "nowhere")
    with pytest.raises(InvalidArgumentError, match="holds no results: neither results.sqlite"):
        write_report(tmp_path)
    from deepsava.experiment.store import ResultStore

    with ResultStore(tmp_path / "results.sqlite") as store:
        store.add_cell("k", "cell", {"attack": {"spec": {"method": "sparse"}}})
    with pytest.raises(InvalidArgumentError, match="holds no results yet"):
        load_run(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.sqlite").write_bytes(b"not a database, honestly" * 100)
    with pytest.raises(InvalidArgumentError, match="results.sqlite is not a readable result database"):
        write_report(tmp_path / "bad")
    assert not (tmp_path / "report").exists()

    code, _, err = cli_run(["report", tmp_path / "nowhere"])
    assert code == InvalidArgumentError.exit_code
    assert err.strip() == f"error: run folder {tmp_path / 'nowhere'} does not exist"


def test_cli_report_prints_the_paths(run_dir, tmp_path, cli_run):
    out = tmp_path / "cli-report"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "example-7.png").write_bytes(b"left by an earlier report")
    code, printed, _ = cli_run(["report", run_dir, "--out", out, "--videos", "1", "--no-mp4"])
    assert code == 0
    assert f"html: {out / 'report.html'}" in printed and (out / "report.html").is_file()
    assert sorted(p.name for p in (out / "figures").glob("example-*")) == ["example-1.png"]
    assert not (out / "videos").exists() or not any((out / "videos").iterdir())


def test_table6_comes_from_the_cells_constrained_as_the_paper_computes_aap(tmp_path):
    """Table 6 holds the cells under l2,1 <= 0.1 and SSIM >= 0.92 (not Table 3's nor Table 5's); † flags D > D_max."""
    from deepsava.experiment.summary import summarize_repeats
    from deepsava.report.run import CellView, Run
    from deepsava.report.write import build_tables

    def records(wins, l21, ssim):
        return [{"clean_correct": True, "success": i < wins, "iterations": 4, "ssim": ssim, "l21": l21, "seconds": 1.0}
                for i in range(10)]

    def cell(label, budgets, wins, l21=0.05, ssim=0.95):
        return CellView(f"{label}-{budgets}", label, label, "m", "sparse", dict(budgets),
                        summarize_repeats([records(wins, l21, ssim)]))

    aap = {"l21_budget": 0.1, "ssim_budget": 0.92}
    run = Run(tmp_path, "experiment", "t", cells=[
        cell("Sparse", {}, 6, l21=0.3, ssim=0.6), cell("DeepSAVA", {}, 5),  # unconstrained: Table 3
        cell("Sparse", aap, 4), cell("DeepSAVA", aap, 7),  # Table 6
        cell("Sparse", {"l21_budget": 0.08}, 3), cell("DeepSAVA", {"l21_budget": 0.08}, 2),  # Table 5
    ])
    tables = {t.anchor: t for t in build_tables(run)}
    assert [r[2] for r in tables["table3"].rows] == ["60.0%", "50.0%"]
    t6 = tables["table6"]
    assert [r[1] for r in t6.rows] == ["Sparse", "DeepSAVA"] and (1, 2) in t6.bold
    # AAP(l2,1) = 0.05 * 0.4 + 0.1 * 0.6 = 0.080; AAP(SSIM) = 0.05 * 0.4 + 0.08 * 0.6 = 0.068; Wilson of 4/10
    assert t6.rows[0][2:] == ["40.0%", "12.8–75.2% (4/10)", "4.0", "0.080", "0.068", "10/10"]
    assert [r[1] for r in tables["table5"].rows] == ["l2,1 ≤ 0.08"]
    # Only the unconstrained Sparse successes lie beyond D_max: AAP = 0.3 * 0.6 + 0.1 * 0.4 = 0.220, flagged.
    flagged = [r for r in tables["cells"].rows if "†" in r[6] + r[7]]
    assert len(tables["cells"].rows) == 6 and [r[6:8] for r in flagged] == [["0.220†", "0.272†"]]


def test_base_label_strips_only_the_sweep_suffix():
    assert base_label("Sparse (frames=2)", {"frames": 2}) == "Sparse"
    assert base_label("D+S (BO) (frames=1, lam=1.0)", {"frames": 1, "lam": 1.0}) == "D+S (BO)"
    assert base_label("DeepSAVA (BO)", {"frames": 1}) == "DeepSAVA (BO)"
    assert base_label("X (frames=3)", {"frames": 2}) == "X (frames=3)"
