"""``deepsava robustness``: run the card's protocol on one model through the experiment runner, then write the card.

The protocol's experiment (:func:`~deepsava.robustness.protocol.robustness_config`) runs as any one-model
run does (:func:`deepsava.experiment.attack_job.run_attack`): batches stored as they finish, the same
command resumes (a finished run: nothing to do), a second process is kept out, and a folder holding a card
run of another model, dataset or protocol is refused (``force`` replaces it). Once every video is stored,
``card.json`` and ``card.md`` are written (:mod:`deepsava.robustness.card`).
"""

from pathlib import Path

from deepsava.experiment.attack_job import run_attack
from deepsava.experiment.runner import RunOutcome
from deepsava.report.robustness import CARD_JSON
from deepsava.robustness import protocol as protocols
from deepsava.robustness.card import CARD_MD, make_card, write_card


def run_robustness(model: dict, dataset: dict, out: str | Path, limit: int | None = None, device: str = "auto",
                   force: bool = False, progress: bool = True, console=None,
                   resume: str | None = None) -> tuple[RunOutcome, dict | None]:
    """Run (or resume) the protocol on ``model`` (a ``models.<label>`` entry) over ``dataset``; write the card.

    -> (the run's outcome, the card; None when the run was interrupted before every video was stored).
    """
    out = Path(out)
    protocol = protocols.PROTOCOL
    config = protocols.robustness_config(model, dataset, protocol)
    if force:
        for name in (CARD_JSON, CARD_MD):
            (out / name).unlink(missing_ok=True)
    outcome = run_attack(config, out, limit=limit, force=force, device=device, progress=progress, console=console,
                         resume=resume)
    if outcome.interrupted:
        return outcome, None
    card = make_card(protocol, outcome, limit)
    write_card(out, card)
    return outcome, card
