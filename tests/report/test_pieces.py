"""The report's pieces on their own: numbers as text, the terminal table, the fooled-within curve, label wording,
the HTML template's escaping."""

import math

import pytest
from rich.console import Console

from deepsava.report.text import MISSING, fr_both, number, percent, points, share


def test_missing_values_are_one_dash_everywhere():
    for value in (None, math.nan):
        assert number(value) == percent(value) == points(value) == MISSING == "–"
    assert share(0.5, 0, 0) == MISSING and fr_both(None) == MISSING
    assert number(0.12345) == "0.123" and number(12.34, "{:.1f}") == "12.3"
    assert percent(0.529) == "52.9%" and points(-0.042) == "-4.2" and share(9 / 17, 9, 17) == "52.9% (9/17)"


def summary_row(model: str, label: str) -> dict:
    return {"model": model, "label": label, "fooling_rate": 0.562, "fr_ci": 0.017, "fr_ci_low": 0.545,
            "fr_ci_high": 0.579, "fr_wilson_low": 0.41, "fr_wilson_high": 0.8, "successes": 15, "attacked": 24,
            "videos": 30, "expected": 40, "ani": 13.2, "aap_l21": 0.05, "aap_ssim": 0.03, "asp_ssim": 0.0123,
            "ssim": 0.98, "l21": 0.04, "seconds_per_video": 1.23}


@pytest.mark.parametrize("width", [80, 200])
def test_the_terminal_table_fits_the_terminal(width):
    from deepsava.report.console import summary_table

    screen = Console(record=True, width=width, force_terminal=False)
    rows = [summary_row("inception-v3", "Sparse Flickering"), summary_row("cnn-lstm", "DeepSAVA (without BO)")]
    screen.print(summary_table(rows, title="Reduced Table 3: one perturbed frame (cf. paper Table 3)"))
    text = screen.export_text()
    assert "…" not in text and "56.2% ± 1.7%" in text and "DeepSAVA (without BO)" in text and "24/30 of 40" in text
    assert max(map(len, text.splitlines())) <= width
    assert ("41.0–80.0% (15/24)" in text) == (width == 200)  # the full table where it fits, else the compact one
    assert ("All columns: deepsava report" in text) == (width == 80)


def test_fooled_within_counts_successes_by_their_iterations():
    from deepsava.report.plots import fooled_within

    records = [{"clean_correct": True, "success": True, "iterations": 3},
               {"clean_correct": True, "success": True, "iterations": 7},
               {"clean_correct": True, "success": False, "iterations": 10},
               {"clean_correct": True, "success": False, "iterations": 10},
               {"clean_correct": False, "success": False, "iterations": 0}]  # not attacked: not counted
    assert fooled_within(records, 10) == ([0, 3, 7, 10], [0.0, 0.25, 0.5, 0.5])


def test_the_label_says_where_it_came_from():
    from deepsava.report.examples import label_text

    assert label_text("dataset", "move-left") == label_text(None, "move-left") == "true class move-left"
    assert label_text("given", "move-left") == "true class move-left (the label given)"
    assert "clean prediction, move-left (no label was given)" in label_text("clean prediction", "move-left")


def test_the_html_page_escapes_what_the_run_holds(tmp_path):
    from deepsava.report.elements import Table
    from deepsava.report.render import render_html
    from deepsava.report.run import Run

    run = Run(tmp_path, "experiment", "<script>alert(1)</script>", description="a & b", config_source="x: <y>")
    table = Table("t", "<T>", ["model", "cell", "FR"], [["<m>", "c", "50%"]], bold={(0, 2)})
    page = render_html(run, [table], [], [], [], "now")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page and "x: &lt;y&gt;" in page and "<td class=\"t\">&lt;m&gt;</td>" in page
    assert '<td class="best">50%</td>' in page and "border-collapse" in page  # bold cell; the style sheet inlined


def test_a_report_table_prints_in_the_terminal_as_it_is():
    from deepsava.report.console import rich_table
    from deepsava.report.elements import Table

    table = Table("t", "Table 12", ["source", "Sparse", "Sparse"], [["[a]", "50.0% (1/2)", "–"]],
                  groups=[("", 1), ("i3d", 1), ("lstm", 1)], text_columns=1, caption="k/n", bold={(0, 1)})
    screen = Console(record=True, width=120, force_terminal=False)
    screen.print(rich_table(table))
    text = screen.export_text()
    assert "i3d Sparse" in text and "lstm Sparse" in text and "[a]" in text and "50.0% (1/2)" in text
