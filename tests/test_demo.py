"""deepsava demo in reduced form: the stored configuration and resume command, the report, Ctrl-C."""

import os
import signal

import pytest
from rich.console import Console
from report_pages import check_page

from deepsava.demo import run_demo
from deepsava.experiment.store import ResultStore

pytestmark = pytest.mark.usefixtures("one_thread")


def console() -> Console:
    return Console(record=True, width=200, force_terminal=False)


def test_reduced_demo_reports_and_stores_how_to_resume(tmp_path):
    out = tmp_path / "demo"
    screen = console()
    page = run_demo(videos=2, device="cpu", out=out, console=screen, steps=10)
    printed = screen.export_text()
    assert "Clean test accuracy of the shipped" in printed
    assert "Reduced Table 3: one perturbed frame" in printed and "DeepSAVA (BO)" in printed
    assert f"report: {page}" in printed and page == out / "report" / "report.html"

    with ResultStore(out / "results.sqlite") as store:
        meta = store.meta()
    assert meta["resume_command"] == f"deepsava demo --out {out} --videos 2 --steps 10 --device cpu"
    assert "name: demo" in meta["config_source"] and "steps: 10" in meta["config_source"]

    text = (out / "report" / "report.md").read_text()
    assert "could not be read back" not in text and "Partial run" not in text
    assert "## Configuration" in text and "Table 3: comparison of methods per model" in text
    links = check_page(page)  # parses, every image and video embedded, no missing or external file
    assert sum(tag == "video" for tag, _ in links.refs) >= 1 and sum(tag == "img" for tag, _ in links.refs) >= 1


def test_interrupted_demo_says_how_to_resume_and_writes_no_report(tmp_path, monkeypatch):
    import deepsava.demo as demo
    import deepsava.experiment.runner as runner

    monkeypatch.setattr(demo, "accuracy_table", lambda device: ("(clean accuracies: tested above)", {}))
    attack_batch = runner._run_batch

    def then_ctrl_c(*args, **kwargs):  # Ctrl-C while the first batch is attacked
        attack_batch(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(runner, "_run_batch", then_ctrl_c)
    out = tmp_path / "demo"
    screen = console()
    assert run_demo(videos=1, device="cpu", out=out, console=screen, steps=5) is None
    printed = " ".join(screen.export_text().split())
    assert "interrupted: 1/12 videos stored" in printed and "no report written" in printed
    assert f"resume with: deepsava demo --out {out} --videos 1 --steps 5 --device cpu" in printed
    assert not (out / "report").exists()
