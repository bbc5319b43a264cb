"""``deepsava experiment``, ``transfer``, ``compress-eval``, ``demo`` and ``report``: runs of configs and their reports."""

from pathlib import Path
from typing import Optional

import typer

from deepsava.cli.common import INTERRUPTED, at_least_one, console, finish_run
from deepsava.errors import InvalidArgumentError, InvalidConfigError

RUN_OUT = typer.Option(None, help="Run folder (results.sqlite, config.yaml, examples/); default runs/<name>.")
RUN_LIMIT = typer.Option(None, help="Attack at most this many videos per cell and repeat.")
RUN_DEVICE = typer.Option("auto", help="cpu, cuda or auto (CUDA when available).")
RUN_FORCE = typer.Option(False, "--force", help="Discard this config's stored results and run them again.")
RUN_PROGRESS = typer.Option(True, help="Show a progress bar.")


def report_command(
    run_dir: str = typer.Argument(..., help="Run folder of `deepsava experiment` or `deepsava attack --out`."),
    out: Optional[str] = typer.Option(None, help="Folder for report.md, report.html, figures/ and videos/; default"
                                      " RUN_DIR/report."),
    videos: int = typer.Option(3, help="Example videos drawn as Figure-8-style strips (0: none)."),
    mp4: bool = typer.Option(True, help="Write each example as an H.264 mp4, original next to adversarial."),
) -> None:
    """Write a Markdown report and one self-contained HTML page: the paper's tables, plots, example strips and videos."""
    from deepsava.report.write import write_report

    outcome = write_report(run_dir, out=out, videos=videos, mp4=mp4)
    if outcome.partial:
        typer.echo("partial run: some cells hold fewer results than planned (marked in the report)")
    typer.echo(f"tables: {len(outcome.tables)}, plots: {len(outcome.plots)}, example videos: {outcome.examples}")
    typer.echo(f"markdown: {outcome.markdown}")
    typer.echo(f"html: {outcome.html}")


def experiment_command(
    config: str = typer.Argument(..., help="Experiment YAML, e.g. configs/table3.yaml."),
    out: Optional[str] = RUN_OUT,
    limit: Optional[int] = RUN_LIMIT,
    device: str = RUN_DEVICE,
    force: bool = RUN_FORCE,
    progress: bool = RUN_PROGRESS,
    model: Optional[list[str]] = typer.Option(None, help="Run only the cells of this model (a label under the"
                                              " config's models:); repeat it for several. The others keep what is"
                                              " stored and run later."),
) -> None:
    """Run every cell of an experiment, resumably; print the per-cell summary (FR ± 99% CI, ANI, AAP, ASP, ...) and
    the worst case over attacks of each group its cells name (worst_case: NAME)."""
    from deepsava.experiment.runner import run_experiment
    from deepsava.report.console import rich_table, summary_table
    from deepsava.report.robustness import worst_case_table

    shown = console()
    outcome = run_experiment(config, out=out, limit=limit, device=device, force=force, progress=progress,
                             console=shown, models=model)
    shown.print(summary_table(outcome.summary, title=f"{Path(config).stem}: {outcome.store_path}"))
    if outcome.worst_case:
        shown.print(rich_table(worst_case_table(outcome.worst_case)))
    finish_run(outcome, shown)


def demo_command(
    videos: int = typer.Option(20, help="Test videos attacked per model and method."),
    out: str = typer.Option("runs/demo", help="Folder for the demo's results and report (resumed if it exists)."),
    seed: int = typer.Option(0, help="Seed of the video choice and of BO."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    force: bool = typer.Option(False, help="Discard the demo's stored results and run it again."),
    steps: int = typer.Option(100, min=1, help="Attack iterations per video (the paper's 100; fewer for a quick look)."),
) -> None:
    """The main job on the embedded default: shipped tiny models, clean accuracy, a reduced Table 3, the report."""
    from deepsava.demo import run_demo
    from deepsava.runtime import seed_everything

    at_least_one(videos=videos)
    if not 0 <= seed < 2**32:
        raise InvalidArgumentError(f"--seed must lie in [0, 2**32 - 1], got {seed}")
    seed_everything(seed)
    if run_demo(videos, device, Path(out), seed, force, console=console(), steps=steps) is None:
        raise typer.Exit(INTERRUPTED)  # it said how to resume


def _run_study(config_path: str, out, limit, device, force, progress, needs: str) -> None:
    """Run an experiment config that names ``needs`` (transfer or compression); print its tables; say where it is."""
    from deepsava.experiment.config import load_config
    from deepsava.experiment.runner import run_experiment
    from deepsava.report.analyses import compression_tables, transfer_tables
    from deepsava.report.console import rich_table
    from deepsava.report.run import load_run

    config = load_config(config_path)
    if not getattr(config, needs):
        what, example = ("target models", "table12") if needs == "transfer" else ("H.264 CRFs", "compression")
        raise InvalidConfigError(f"{config_path} names no {needs}: list the {what} under a top-level"
                                 f" '{needs}:' key (see configs/{example}.yaml)")
    shown = console()
    outcome = run_experiment(config, out=out, limit=limit, device=device, force=force, progress=progress,
                             console=shown, models=model)
    tables = transfer_tables if needs == "transfer" else compression_tables
    for table in tables(load_run(outcome.out)):
        shown.print(rich_table(table))
    finish_run(outcome, shown)


def transfer_command(
    config: str = typer.Argument(..., help="Experiment YAML with a 'transfer:' list of target models, e.g."
                                 " configs/table12.yaml."),
    out: Optional[str] = RUN_OUT,
    limit: Optional[int] = RUN_LIMIT,
    device: str = RUN_DEVICE,
    force: bool = RUN_FORCE,
    progress: bool = RUN_PROGRESS,
) -> None:
    """Transferability (paper Table 12): attack every source model, classify the adversarial videos with every target.

    Resumable like `deepsava experiment`. Prints, per attack, the source x target fooling-rate matrix over videos
    both models classify correctly (its diagonal is the white-box FR) and the paper's rate among white-box successes.
    """
    _run_study(config, out, limit, device, force, progress, "transfer")


def compress_eval_command(
    config: str = typer.Argument(..., help="Experiment YAML with a 'compression:' list of CRFs, e.g."
                                 " configs/compression.yaml."),
    out: Optional[str] = RUN_OUT,
    limit: Optional[int] = RUN_LIMIT,
    device: str = RUN_DEVICE,
    force: bool = RUN_FORCE,
    progress: bool = RUN_PROGRESS,
) -> None:
    """Compression survival (paper Section 4.2.3): the fooling rate left after H.264 re-encoding at each CRF.

    Every adversarial video (and its clean original) is written as H.264 at each CRF, decoded and classified
    again; the fooling rate is recomputed from the decoded frames. Resumable like `deepsava experiment`.
    """
    _run_study(config, out, limit, device, force, progress, "compression")
