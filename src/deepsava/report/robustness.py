"""How is robustness shown? The worst case over attacks as a table, and a robustness card as a table and as Markdown.

The worst case (:mod:`deepsava.experiment.worst_case`) is a row per group and model; a run folder holding a
card (``card.json``, written by ``deepsava robustness``) gets the card's table too.
"""

import json
from pathlib import Path

from deepsava.report.elements import Table
from deepsava.report.render import markdown_table
from deepsava.report.run import Run
from deepsava.report.text import MISSING, percent, rate_text

CARD_JSON = "card.json"  # a robustness card in a run folder (written by deepsava robustness)

WORST_CASE_CAPTION = (
    "Per video (pooled over repeats), over the videos every attack of the group holds: clean accuracy = videos"
    " classified correctly before any attack; worst-case FR = videos fooled by at least one attack over those"
    " correct; robust accuracy = videos correct and fooled by none over all videos, so it is at most each"
    " attack's own robust accuracy (the strongest attack's is shown). Each with its 95% Wilson interval and the"
    " counts behind it.")


def worst_case_table(rows: list[dict]) -> Table:
    """The worst case of each group and model (rows of ``summarize_worst_cases``)."""
    table = Table("worst-case", "Worst case over attacks",
                  ["model", "group", "attacks", "videos", "clean accuracy", "worst-case FR", "robust accuracy",
                   "strongest single attack"], caption=WORST_CASE_CAPTION)
    for row in rows:
        strongest = min(row["attacks"], key=lambda a: a["robust_accuracy"]["count"], default=None)
        pending = f" (+{row['pending']} pending)" if row["pending"] else ""
        table.rows.append([str(row["model"]), row["name"], str(len(row["attacks"])), f"{row['videos']}{pending}",
                           rate_text(row["clean_accuracy"]), rate_text(row["fooling_rate"]),
                           rate_text(row["robust_accuracy"]),
                           f"{strongest['label']}: {percent(strongest['robust_accuracy']['value'])}"
                           if strongest else MISSING])
    return table


def _model_text(model: dict) -> str:
    """"shipped:i3d (i3d, tiny; SHA-256 1a2b...)" from a canonical model identity."""
    name = model.get("checkpoint") or model.get("spec") or "model"
    kind = ", ".join(str(v) for v in (model.get("model"), model.get("preset")) if v)
    digest = f"SHA-256 {model['sha256']}" if model.get("sha256") else "no weights file to hash"
    return f"{name} ({kind + '; ' if kind else ''}{digest})"


def _dataset_text(dataset: dict) -> str:
    root = f", root {dataset['root']}" if dataset.get("root") else ""
    return (f"{dataset['name']}, {dataset['split']} split, {dataset['frames'] or 'default'} frames of"
            f" {dataset['size']}×{dataset['size']} px, seed {dataset['seed']}{root}")


def card_table(card: dict) -> Table:
    """A card's settings and worst cases: clean accuracy, fooling rate and robust accuracy, 95% Wilson intervals."""
    protocol = card["protocol"]
    table = Table("robustness-card", f"Robustness card (protocol {protocol['version']})",
                  ["setting", "frames", "budget", "clean accuracy", "FR", "robust accuracy"], text_columns=3)
    for s in card["settings"]:
        table.rows.append([s["attack"], str(s["frames"]), s["budget"], rate_text(s["clean_accuracy"]),
                           rate_text(s["fooling_rate"]), rate_text(s["robust_accuracy"])])
    for g in card["worst_case"]:
        table.rows.append(["worst case", g["name"], f"{len(g['settings'])} settings", rate_text(card["clean_accuracy"]),
                           rate_text(g["fooling_rate"]), rate_text(g["robust_accuracy"])])
        table.bold.add((len(table.rows) - 1, 5))
    sample = card["sample"]
    table.caption = (f"Model {_model_text(card['model'])}; dataset {_dataset_text(card['dataset'])}; the first"
                     f" {sample['videos']} videos of the seeded order (seed {sample['seed']}; the protocol's sample is"
                     f" {sample['protocol_videos']}). FR: videos fooled over those classified correctly; robust"
                     " accuracy: videos classified correctly and not fooled over all videos; worst case: fooled by"
                     " any of the settings. 95% Wilson intervals, counts behind them.")
    return table


def card_markdown(card: dict) -> str:
    """``card.md``: what was measured, on what, the table, and what bounds each attack."""
    overall = card["worst_case"][-1]
    software = card["software"]
    lines = [f"# Robustness card: {card['model'].get('checkpoint') or card['model'].get('spec')}", "",
             f"- model: {_model_text(card['model'])}",
             f"- dataset: {_dataset_text(card['dataset'])}",
             (f"- sample: {card['sample']['videos']} videos, the first of the seeded class-interleaved order"
              f" (seed {card['sample']['seed']}; the protocol's sample is {card['sample']['protocol_videos']})"),
             (f"- protocol: version {card['protocol']['version']} (`deepsava robustness --help`; README,"
              " \"Robustness card\")"),
             f"- software: deepsava {software['deepsava']}, torch {software['torch']}, device {software['device']}",
             f"- clean accuracy: {rate_text(card['clean_accuracy'])}",
             f"- **robust accuracy, worst case over {overall['name']}: {rate_text(overall['robust_accuracy'])}**", ""]
    table = card_table(card)
    lines += [markdown_table(table), "", f"*{table.caption}*", "", "## What bounds each attack", ""]
    for s in card["settings"]:
        shown = ", ".join(f"{k}={v}" for k, v in s["parameters"].items() if k != "method")
        lines.append(f"- {s['attack']}, {s['frames']} frame{'' if s['frames'] == 1 else 's'}, {s['budget']}: {s['bound']}"
                     f" (`{s['parameters']['method']}`: {shown})")
    return "\n".join(lines) + "\n"


def robustness_tables(run: Run) -> list[Table]:
    """The worst-case table when the run has groups; the card's table when the folder holds ``card.json``."""
    tables = [worst_case_table(run.worst_case)] if run.worst_case else []
    path = Path(run.folder) / CARD_JSON
    if path.is_file():
        try:
            tables.append(card_table(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError, TypeError) as err:
            run.notes.append(f"{path} is not a robustness card deepsava can read ({type(err).__name__}: {err}):"
                             " it is left out.")
    return tables
