"""``deepsava saliency``, ``prediction-attack`` and ``sensitivity``: the analyses of Appendices D and C, and which
frame positions a model is sensitive to."""

from pathlib import Path
from typing import Optional

import typer

from deepsava.cli.common import at_least_one, invocation
from deepsava.errors import InvalidArgumentError


def _load_model_spec(spec: str, device, weights) -> tuple:
    """A shipped checkpoint (``inception-v3``, ``shipped:inception-v3-pgd``), a checkpoint path stem, an ``hf:`` folder,
    a user's module, or a ``torchvision:`` spec with the next of ``weights`` (an iterator of files)
    -> (model in eval mode, the name it is shown by)."""
    from deepsava.models import create_model, load_checkpoint, model_family
    from deepsava.models.checkpoint import DEFENDED, SHIPPED, checkpoint_stem

    name = spec.removeprefix("shipped:")
    if spec.startswith("shipped:") or name in SHIPPED + DEFENDED:
        return load_checkpoint(checkpoint_stem("shipped:" + name), device)[0], name
    if spec.startswith("torchvision:"):
        file = next(weights, None)
        if file is None:
            raise InvalidArgumentError(f"--model {spec} needs its weights: give a --weights file for it (in order)")
        return create_model(spec, weights=file).to(device).eval(), spec
    if spec.startswith("hf:") or ":" in spec and model_family(spec)[0].runs_user_code:
        return create_model(spec).to(device).eval(), spec
    return load_checkpoint(spec, device)[0], str(Path(spec).with_suffix(""))


def _load_models(specs: list[str], weights: list[str] | None, device) -> list[tuple]:
    """Every ``--model`` spec, the torchvision ones taking the ``--weights`` files in order -> [(model, name)]."""
    wanted = sum(spec.startswith("torchvision:") for spec in specs)
    if len(weights or []) != wanted:
        raise InvalidArgumentError(f"give one --weights per torchvision: --model, in order: {wanted} model(s),"
                                   f" {len(weights or [])} --weights")
    files = iter(weights or [])
    return [_load_model_spec(spec, device, files) for spec in specs]


def saliency_command(
    model: list[str] = typer.Option(..., "--model", help="A shipped model name, a checkpoint path stem (any model"
                                    " `deepsava train` or `defend` wrote), an hf: folder, a python: module or a"
                                    " torchvision: spec with --weights; repeat it to compare models side by side (e.g."
                                    " undefended and defended, Figure D.10)."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", help="The weights file of each torchvision: --model,"
                                                " in the order of those models."),
    video: Optional[str] = typer.Option(None, help="A video file (else test video --index of --dataset)."),
    index: int = typer.Option(0, help="Which test video of --dataset to draw when no --video is given."),
    dataset: str = typer.Option("synth-actions", help="Dataset of --index (its test split)."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder for --dataset."),
    label: Optional[int] = typer.Option(None, help="True class of --video (default: the first model's prediction)."),
    length: int = typer.Option(40, help="Frames sampled from --video."),
    size: int = typer.Option(64, help="Frame size of the loaded clip."),
    columns: int = typer.Option(10, help="Frames drawn per model (evenly spaced)."),
    score: str = typer.Option("logit", help="What the maps are the gradient of: logit (the true class's logit,"
                              " Simonyan et al.) or loss (its cross-entropy, whose gradient also scales with 1 - p(label))."),
    out: str = typer.Option("runs/saliency", help="Folder for saliency-<video>.npz and its PNGs (deepsava report reads it)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, "--force", help="Overwrite the .npz and PNGs of this video in --out."),
) -> None:
    """Input-gradient saliency maps overlaid on the frames, per model, and the temporal saliency curve (Appendix D)."""
    from deepsava.data import load_dataset
    from deepsava.io import load_video
    from deepsava.report.study_figures import saliency_curve_figure, saliency_overlay_figure
    from deepsava.runtime import resolve_device
    from deepsava.select.saliency import SCORES
    from deepsava.studies.saliency import saliency_file, saliency_study, total_saliency

    at_least_one(length=length, size=size, columns=columns)
    if index < 0:
        raise InvalidArgumentError(f"--index must be at least 0, got {index}")
    if score not in SCORES:
        raise InvalidArgumentError(f"--score must be one of {', '.join(SCORES)}, got {score!r}")
    dev = resolve_device(device)
    models = _load_models(model, weights, dev)
    if video is not None:
        clip, name, classes = load_video(video, frames=length, size=size), video, None
    else:
        data = load_dataset(dataset, split="test", root=root, size=size)
        if not 0 <= index < len(data):
            raise InvalidArgumentError(f"--index must lie in 0..{len(data) - 1} for the {dataset} test split, got {index}")
        (clip, label), name, classes = data[index], data.video_ids[index], data.classes
    if saliency_file(out, name).exists() and not force:
        raise InvalidArgumentError(f"{saliency_file(out, name)} exists: pass --force to overwrite it or choose"
                                   " another --out")
    view = saliency_study(models, clip, name, label, classes or getattr(models[0][0], "classes", None), score)
    path = view.save(out)
    path.with_name(path.stem + "-maps.png").write_bytes(saliency_overlay_figure(view, columns))
    path.with_name(path.stem + "-curve.png").write_bytes(saliency_curve_figure(view))
    for m, (name_m, pred, curve) in enumerate(zip(view.models, view.predictions, view.curves)):
        top = curve.argsort()[::-1][:3].tolist()
        typer.echo(f"{name_m} (predicts {pred}, p(label) {view.confidence[m]:.3f}, total {score}-gradient"
                   f" {total_saliency(view.maps[m]):.4g}): most salient frames {top}"
                   f" ({', '.join(f'{100 * curve[t]:.1f}%' for t in top)} of the saliency),"
                   f" least salient frame {int(curve.argmin())}")
    typer.echo(f"wrote {path} and its -maps.png, -curve.png")


def prediction_attack_command(
    ctx: typer.Context,
    checkpoint: Optional[str] = typer.Option(None, help="Predictor checkpoint stem (default: the shipped ConvLSTM trained"
                                             " on moving-digits)."),
    moving_mnist: Optional[str] = typer.Option(None, help="Attack sequences of the standard mnist_test_seq.npy (its last"
                                               " 10%, held out by train-predictor) instead of moving-digits' test split."),
    sequences: int = typer.Option(100, help="Held-out sequences attacked (the paper: 100)."),
    selectors: str = typer.Option("first,bo", help="Comma-separated key-frame selectors compared (first: the first"
                                  " frame; bo: Bayesian optimisation; also random, brute, saliency, ...)."),
    budgets: str = typer.Option("l2,ssim", help="Comma-separated budgets: l2 (the paper's l2 ball of 0.03, read as the"
                                " per-pixel RMS change of the frame, = its l2,1 norm) and/or ssim (SSIM >= 0.95)."),
    steps: int = typer.Option(100, help="Adam steps of the attack."),
    lam: float = typer.Option(0.0, help="Weight λ of Eq. C.1's SSIM term, λ·Σ(1 − SSIM); 0: the budget alone bounds"
                              " the change."),
    lr: float = typer.Option(0.01, help="Adam learning rate of noise and flow."),
    batch_size: int = typer.Option(25, help="Sequences attacked together."),
    seed: int = typer.Option(0, help="Seed of BO and of the moving-digits test split."),
    out: str = typer.Option("runs/prediction", help="Folder for prediction.json and its plots (deepsava report reads it)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, "--force", help="Overwrite the prediction.json of an earlier run in --out."),
) -> None:
    """DeepSAVA against the next-frame predictor (Appendix C): maximise the prediction MSE with one perturbed frame."""
    from deepsava.attacks.base import check_finite
    from deepsava.report.study_figures import prediction_frame_figure, prediction_step_figure
    from deepsava.select import SELECTORS
    from deepsava.studies.prediction import BUDGETS, RESULT_FILE, SUMMARY_COLUMNS, prediction_study, save_outcomes, summary_rows

    chosen = [s.strip() for s in selectors.split(",") if s.strip()]
    limits = [b.strip() for b in budgets.split(",") if b.strip()]
    for name in chosen:
        if name not in SELECTORS:
            raise InvalidArgumentError(f"unknown selector {name!r}: use {', '.join(SELECTORS)}")
    for name in limits:
        if name not in BUDGETS:
            raise InvalidArgumentError(f"unknown budget {name!r}: use {' and/or '.join(BUDGETS)}")
    if not chosen or not limits:
        raise InvalidArgumentError("need at least one selector and one budget")
    at_least_one(sequences=sequences, steps=steps, batch_size=batch_size)
    check_finite(lr=lr)
    if not lam >= 0:
        raise InvalidArgumentError(f"--lam must be non-negative, got {lam}")
    if (Path(out) / RESULT_FILE).is_file() and not force:
        raise InvalidArgumentError(f"{Path(out) / RESULT_FILE} exists: pass --force to overwrite it or choose"
                                   " another --out")
    outcomes, about = prediction_study(checkpoint, chosen, limits, moving_mnist=moving_mnist, sequences=sequences,
                                       steps=steps, lam=lam, lr=lr, batch_size=batch_size, seed=seed, device=device,
                                       command=invocation(ctx),
                                       report=lambda outcome: typer.echo(" | ".join(summary_rows([outcome])[0])))
    path = save_outcomes(out, outcomes, about)
    (Path(out) / "figure-c9.png").write_bytes(prediction_step_figure(outcomes))
    (Path(out) / "prediction-frames.png").write_bytes(prediction_frame_figure(outcomes))
    typer.echo("columns: " + " | ".join(SUMMARY_COLUMNS))
    typer.echo(f"wrote {path}, figure-c9.png and prediction-frames.png; report: deepsava report {out}")




def sensitivity_command(
    model: list[str] = typer.Option(..., "--model", help="A shipped model name, a checkpoint path stem, an hf: folder,"
                                    " a python: module or a torchvision: spec with --weights; repeat it to compare."),
    weights: Optional[list[str]] = typer.Option(None, "--weights", help="The weights file of each torchvision: --model,"
                                                " in the order of those models."),
    dataset: str = typer.Option("synth-actions", help="Dataset whose test split is used."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder for --dataset."),
    videos: int = typer.Option(64, help="Test videos whose input gradients are taken (the first of the split)."),
    length: int = typer.Option(40, help="Frames per video."),
    size: int = typer.Option(64, help="Frame size of the loaded clips."),
    batch_size: int = typer.Option(16, help="Videos per forward and backward."),
    out: str = typer.Option("runs/sensitivity", help="Folder for sensitivity.json and sensitivity.png."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
) -> None:
    """Which frame positions each model is sensitive to: the median share of the loss's input gradient per frame × T.

    1 is an average frame. A first frame far below 1 makes any frame an easier target than frame 0, whatever a
    selector does (the control for "BO beats the first frame"). For our I3D the structural curve (paths from each
    frame to the logits through the temporal strides and padding, independent of the weights) is drawn too.
    """
    import json

    from deepsava.data import load_dataset
    from deepsava.models.i3d import temporal_paths
    from deepsava.report.study_figures import sensitivity_figure
    from deepsava.runtime import resolve_device
    from deepsava.studies.frame_sensitivity import median_sensitivity

    at_least_one(videos=videos, length=length, size=size, batch_size=batch_size)
    dev = resolve_device(device)
    models = _load_models(model, weights, dev)
    data = load_dataset(dataset, split="test", root=root, frames=length, size=size)
    curves, structural = {}, {}
    for net, name in models:
        net.requires_grad_(False)
        curves[name] = median_sensitivity(net, data, videos, batch_size, dev).tolist()
        if getattr(net, "name", "") == "i3d" and getattr(net, "preset", None) is not None:
            paths = temporal_paths(net.preset, length)
            structural[f"{name}: paths along time (architecture)"] = (paths / paths.mean()).tolist()
    paths = temporal_paths("paper", length)  # the paper's I3D, whatever was measured
    structural["i3d (paper preset): paths along time (architecture)"] = (paths / paths.mean()).tolist()
    typer.echo("| median share of the input gradient × T | frame 0 | frame 1 | middle | last | even frames | odd frames"
               " | largest at |")
    typer.echo("|---|---|---|---|---|---|---|---|")
    for label, curve in {**curves, **structural}.items():
        typer.echo(f"| {label} | {curve[0]:.2f} | {curve[1]:.2f} | {curve[length // 2]:.2f} | {curve[-1]:.2f} |"
                   f" {sum(curve[::2]) / len(curve[::2]):.2f} | {sum(curve[1::2]) / len(curve[1::2]):.2f} |"
                   f" {max(range(length), key=curve.__getitem__)} |")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    about = {"dataset": dataset, "split": "test", "videos": min(videos, len(data)), "frames": length, "size": size}
    (folder / "sensitivity.json").write_text(json.dumps({"about": about, "sensitivity": curves,
                                                         "structural": structural}, indent=1) + "\n")
    (folder / "sensitivity.png").write_bytes(sensitivity_figure(curves, structural))
    typer.echo(f"wrote {folder / 'sensitivity.json'} and sensitivity.png")
