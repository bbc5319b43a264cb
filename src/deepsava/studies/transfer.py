"""Transferability (paper Section 4.4, Table 12): adversarial videos made on one model, judged by others.

An experiment whose configuration names ``transfer: [model labels]`` evaluates
every batch's adversarial videos (and their clean originals) on each of those
target models as well, and stores the predictions in each per-video record::

    record["transfer"] = {target label: {"clean_pred": int, "adv_pred": int}}

The fooling rate of source S on target T counts the videos both models
classify correctly before the attack, and among them those T misclassifies
after it. The target set includes the source itself, where this is exactly the
white-box fooling rate of the run. The paper reports instead the rate among the
videos the white-box attack fooled (100% on its diagonal): that conditional rate
is given too. Both are per repeat, then averaged over repeats, as the runner's
fooling rate is.
"""


import torch

from deepsava.metrics import nan_mean

FOOLING = "fooling_rate"  # over videos both models classify correctly
GIVEN_SUCCESS = "given_success"  # over those the white-box attack fooled (the paper's Table 12)


@torch.no_grad()
def transfer_predictions(videos: torch.Tensor, adversarial: torch.Tensor, targets: dict) -> list[dict]:
    """Each target's predictions on clean and adversarial videos (B, T, C, H, W) -> one dict per video."""
    per_video = [{} for _ in range(videos.shape[0])]
    for label, model in targets.items():
        device = next(model.parameters()).device
        clean = model(videos.to(device)).argmax(dim=1).tolist()
        adv = model(adversarial.to(device)).argmax(dim=1).tolist()
        for i, entry in enumerate(per_video):
            entry[label] = {"clean_pred": clean[i], "adv_pred": adv[i]}
    return per_video


def transfer_rates(records: list[dict], target: str) -> dict:
    """Fooling rates on ``target`` of one cell's records (with a ``transfer`` field), averaged over repeats.

    Returns ``{FOOLING: float, GIVEN_SUCCESS: float}`` (nan where no video counts) and the counts summed over
    repeats: ``n`` videos both models got right, ``fooled`` of them misclassified by the target after the
    attack; ``successes`` of the ``n`` fooled the attacked model, ``transferred`` of those fooled the target.
    """
    repeats = sorted({r.get("repeat", 0) for r in records})
    fooling, given = [], []
    counts = dict.fromkeys(("n", "fooled", "successes", "transferred"), 0)
    for repeat in repeats:
        both = [r for r in records if r.get("repeat", 0) == repeat and r["clean_correct"]
                and r["transfer"][target]["clean_pred"] == r["label"]]
        fooled = [r for r in both if r["transfer"][target]["adv_pred"] != r["label"]]
        wins = [r for r in both if r["success"]]
        transferred = [r for r in wins if r["transfer"][target]["adv_pred"] != r["label"]]
        for key, group in (("n", both), ("fooled", fooled), ("successes", wins), ("transferred", transferred)):
            counts[key] += len(group)
        if both:
            fooling.append(len(fooled) / len(both))
        if wins:
            given.append(len(transferred) / len(wins))
    return {FOOLING: nan_mean(fooling), GIVEN_SUCCESS: nan_mean(given), **counts}


def transfer_matrix(cells: list[tuple[str, str, list[dict]]], targets: list[str], rate: str = FOOLING) -> dict:
    """``{attack label: {source: {target: rate}}}`` from ``(source model, attack label, records)`` per cell.

    ``rate``: FOOLING or GIVEN_SUCCESS; or None for the whole :func:`transfer_rates` dict of each pair.
    """
    matrix: dict = {}
    for source, attack, records in cells:
        rates = {t: transfer_rates(records, t) for t in targets}
        matrix.setdefault(attack, {})[source] = {t: r if rate is None else r[rate] for t, r in rates.items()}
    return matrix
