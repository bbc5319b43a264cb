"""`deepsava robustness` on a shipped tiny model: the worst case against each attack, a card reproduced byte for
byte in a fresh folder, a resume with nothing to do, a folder of another model refused, the report's section.

The protocol's steps are shrunk here (and only here) so that a card takes seconds: 2 steps per attack, BO with
2 probes of 1 step, 2 videos of 8 frames of the shipped CNN+RNN.
"""

import copy
import json

import pytest

from deepsava.errors import InvalidArgumentError
from deepsava.experiment.store import ResultStore
from deepsava.robustness import protocol

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def shrunk(monkeypatch):
    small = copy.deepcopy(protocol.PROTOCOL)
    for setting in small["settings"]:
        setting["parameters"]["steps"] = 2
        if setting["parameters"]["method"] == "deepsava":
            setting["parameters"]["selector_options"] = {"evaluations": 2, "initial": 1, "probe_steps": 1}
    monkeypatch.setattr(protocol, "PROTOCOL", small)
    return small


COMMAND = ["robustness", "--model", "shipped:cnn-rnn", "--length", "8", "--limit", "2", "--device", "cpu",
           "--no-progress"]


def test_card_worst_case_reproduction_and_resume(shrunk, tmp_path, cli_run):
    first, second = tmp_path / "first", tmp_path / "second"
    code, out, err = cli_run([*COMMAND, "--out", first])
    assert code == 0, err
    card = json.loads((first / "card.json").read_text())
    assert card["protocol"] == shrunk and card["sample"]["videos"] == 2 and len(card["settings"]) == 10
    assert len(card["model"]["sha256"]) == 64 and card["dataset"]["split"] == "test"
    assert card["clean_accuracy"]["count"] >= 1  # something to attack: the comparisons below are not vacuous

    # The worst case is at most every single attack's robust accuracy, group by group.
    robust = {(s["attack"], s["frames"], s["budget"]): s["robust_accuracy"]["count"] for s in card["settings"]}
    groups = {g["name"]: g["robust_accuracy"]["count"] for g in card["worst_case"]}
    for k, name in ((1, "1 frame"), (4, "4 frames")):
        assert groups[name] <= min(n for (_, frames, _), n in robust.items() if frames == k)
        assert groups[protocol.ALL] <= groups[name]
    # ... and is what the stored per-video records say: correct for every attack and fooled by none.
    with ResultStore(first / "results.sqlite") as store:
        records = [r for key in store.cells() for r in store.records(key)]
    videos = {r["video_id"] for r in records}
    expected = sum(all(r["clean_correct"] and not r["success"] for r in records if r["video_id"] == v) for v in videos)
    assert len(records) == 20 and groups[protocol.ALL] == expected

    code, out, err = cli_run([*COMMAND, "--out", second])  # a fresh folder: the same card, byte for byte
    assert code == 0, err
    for name in ("card.json", "card.md"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name
    before = (first / "card.json").read_bytes()
    code, out, err = cli_run([*COMMAND, "--out", first])  # the same folder: nothing left to do
    assert code == 0 and "(0 batches run now)" in out and (first / "card.json").read_bytes() == before

    code, out, err = cli_run([*COMMAND[:2], "shipped:i3d", *COMMAND[3:], "--out", first])
    assert code == InvalidArgumentError.exit_code and "other settings (model: shipped:cnn-rnn then, shipped:i3d" in err

    from deepsava.report.robustness import robustness_tables
    from deepsava.report.run import load_run

    titles = [t.title for t in robustness_tables(load_run(first))]
    assert titles == ["Worst case over attacks", f"Robustness card (protocol {shrunk['version']})"]
