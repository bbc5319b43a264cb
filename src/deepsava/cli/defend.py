"""``deepsava defend``: adversarial training (none, inject, pgd, combined, trades), alone or under torchrun."""

import inspect
from typing import Optional

import typer

from deepsava.attacks import DeepSAVA
from deepsava.cli.common import MODEL_SPECS, PRESET_HELP, fraction, invocation
from deepsava.defend import DEFENCES
from deepsava.errors import InvalidArgumentError


def defend_command(
    ctx: typer.Context,
    method: str = typer.Option(..., help="none (plain training: the undefended comparison), inject (DeepSAVA videos"
                               " added to the training set, Table 10), pgd (Algorithm 3), combined (Algorithm 4:"
                               " flow + noise) or trades."),
    model: str = typer.Option(..., help=f"The model: {MODEL_SPECS} (README: 'Attack your own model')."),
    dataset: str = typer.Option(..., help="Dataset: trains on its train split, reports clean accuracy on test."),
    out: str = typer.Option(..., help="Checkpoint stem: writes OUT.safetensors + OUT.json; OUT.state.safetensors"
                            " after every epoch, from which the same command resumes after an interruption."),
    weights: Optional[str] = typer.Option(None, help="Start from these weights (fine-tuning): a checkpoint stem,"
                                          " a weights file or shipped:NAME. Default: random initialisation."),
    preset: str = typer.Option("tiny", help=PRESET_HELP),
    epochs: int = typer.Option(5, help="Passes over the training split."),
    lr: float = typer.Option(1e-4, help="Initial Adam learning rate, cosine-decayed to 0."),
    batch_size: int = typer.Option(8, help="Videos per step over all processes (split evenly under torchrun)."),
    seed: int = typer.Option(0, help="Seed of shuffling, random starts and random frames."),
    eps: Optional[str] = typer.Option(None, help="pgd/combined/trades: l-inf radius of the noise, e.g. 8/255 (default)."),
    alpha: Optional[str] = typer.Option(None, help="pgd/combined/trades: step size, e.g. 2/255 (default pgd/combined 1/255,"
                                        " the paper's; trades 0.007, Zhang et al.'s)."),
    steps: Optional[int] = typer.Option(None, help="pgd/combined/trades: inner steps K per batch (default 10);"
                                        " inject: DeepSAVA's iterations (default 100)."),
    attack_frames: Optional[int] = typer.Option(None, help="Frames perturbed per video: pgd/combined/trades default"
                                                " all; inject default 1."),
    mask: Optional[str] = typer.Option(None, help="pgd/combined/trades with --attack-frames: first (default) or"
                                       " random frames."),
    flow_eps: Optional[float] = typer.Option(None, help="combined: largest flow displacement in pixels (default 1)."),
    flow_alpha: Optional[float] = typer.Option(None, help="combined: flow step in pixels (default 0.1; 0: random"
                                               " flow, never optimised)."),
    beta: Optional[float] = typer.Option(None, help="trades: weight of the KL term (default 6)."),
    examples: Optional[int] = typer.Option(None, help="inject: N videos of the train split attacked and added."),
    unmodified: bool = typer.Option(False, "--unmodified", help="inject: add the N videos unmodified instead (the"
                                    " paper's undefended comparison)."),
    selector: Optional[str] = typer.Option(None, help="inject: DeepSAVA's frame selector (default first)."),
    freeze_cnn: bool = typer.Option(False, "--freeze-cnn", help="Keep the frame CNN of --weights fixed (the paper's"
                                    " CNN+LSTM route: --model cnn-lstm --weights a defended inception-v3)."),
    freeze_bn: bool = typer.Option(False, "--freeze-bn", help="Keep batch-norm statistics as loaded (fine-tuning);"
                                   " makes a step independent of how its batch is split over processes (README:"
                                   " the exceptions)."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Share batch-norm statistics across GPUs (SyncBatchNorm)."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip; default the dataset's (40)."),
    size: int = typer.Option(64, help="Frame height and width of the loaded clips."),
    root: Optional[str] = typer.Option(None, help="Folder of an on-disk dataset (UCF101, HMDB51)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto; under torchrun each process takes its LOCAL_RANK GPU."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT and discard an interrupted run's state."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train a classifier with a defence (adversarial training); write a checkpoint recording the method.

    Alone: `deepsava defend --method pgd --model inception-v3 --weights shipped:inception-v3 --dataset
    synth-actions --out ckpt/inc-pgd`. On N GPUs or CPU processes: `torchrun --nproc_per_node N -m deepsava
    defend ...` (same options; --batch-size stays the global batch; only rank 0 touches --out). Killed or
    interrupted, the same command resumes from the last finished epoch.
    """
    from deepsava.defend.job import run_defend
    from deepsava.defend.state import state_file

    given = {"eps": fraction("--eps", eps), "alpha": fraction("--alpha", alpha), "steps": steps,
             "frames": attack_frames, "mask": mask, "flow_eps": flow_eps, "flow_alpha": flow_alpha, "beta": beta,
             "examples": examples, "selector": selector, "unmodified": unmodified or None}
    if method not in DEFENCES:
        raise InvalidArgumentError(f"unknown --method {method!r}: use one of {', '.join(DEFENCES)}")
    wrong = [k for k, v in given.items() if v is not None and k not in defence_options(method)]
    if wrong:
        shown = ", ".join("--" + {"frames": "attack-frames"}.get(k, k).replace("_", "-") for k in wrong)
        raise InvalidArgumentError(f"{shown} do(es) not apply to --method {method}")
    if method == "inject" and examples is None:
        raise InvalidArgumentError("--method inject needs --examples N (videos of the train split to attack and add)")
    params = {k: v for k, v in given.items() if v is not None}
    command = invocation(ctx)
    if state_file(out).is_file() and not force:
        typer.echo(f"resuming the interrupted run from {state_file(out)}")
    meta = run_defend(method, params, model=model, dataset=dataset, out=out, preset=preset, weights=weights,
                      freeze_cnn=freeze_cnn, freeze_bn=freeze_bn, sync_bn=sync_bn, epochs=epochs, lr=lr,
                      batch_size=batch_size, seed=seed, frames=frames, size=size, root=root, device=device,
                      force=force, progress=progress, command=command)
    if meta is not None:
        typer.echo(f"{model} ({preset}) defended with {method} on {dataset}: clean test top-1"
                   f" {meta.get('test_top1', float('nan')):.3f}")
        typer.echo(f"wrote {out}.safetensors and {out}.json")


def defence_options(method: str) -> set[str]:
    """The options defence ``method`` takes: its constructor's parameters, and DeepSAVA's when it passes them on."""
    parameters = inspect.signature(DEFENCES[method]).parameters.values()
    names = {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):  # inject: the rest configures its DeepSAVA attack
        names |= set(inspect.signature(DeepSAVA).parameters) - {"model"}
    return names
