"""``evosearch run`` and ``evosearch resume``: launch a run with a live progress bar."""

from __future__ import annotations

import argparse
import math
import pathlib
import re
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start a run from a YAML config")
    p.add_argument("config", help="the run's YAML config")
    p.add_argument("--out", help="run directory (default: runs/NAME-YYYYmmdd-HHMMSS)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set budget.generations=50 (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    r = sub.add_parser("resume", help="continue a stopped or killed run from its last commit")
    r.add_argument("run", help="the run directory")
    r.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="budget.KEY=VALUE",
        help="extend the budget, e.g. --set budget.generations=100",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_resume)


def cmd_run(args: argparse.Namespace) -> int:
    from evosearch.config import load_config
    from evosearch.engine import Engine

    config = load_config(args.config, args.overrides)
    out = pathlib.Path(args.out) if args.out else default_run_dir(config.name)
    engine = Engine.create(config, out)
    return drive(engine, quiet=args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from evosearch.cli import CLIError
    from evosearch.engine import Engine

    bad = [o for o in args.overrides if not o.startswith("budget.")]
    if bad:
        raise CLIError(f"resume only accepts budget overrides, got {bad}")
    engine = Engine.resume(args.run, budget_overrides=args.overrides)
    return drive(engine, quiet=args.quiet, resumed=True)


def default_run_dir(name: str) -> pathlib.Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    return pathlib.Path("runs") / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"


def drive(engine, *, quiet: bool = False, resumed: bool = False) -> int:
    """Run an engine with a rich progress bar and print the summary."""
    console = Console(stderr=True)
    start_evals = engine.evaluations
    if resumed:
        console.print(
            f"resuming [bold]{engine.store.path}[/] at generation {engine.generation}, "
            f"{engine.evaluations} evaluations"
        )
    if quiet or not console.is_terminal:
        summary = engine.run(_plain_reporter(console) if not quiet else None)
    else:
        columns = (
            TextColumn("[bold]gen {task.fields[gen]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("best [green]{task.fields[best]}"),
            TextColumn("{task.fields[rate]} evals/s"),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(
                "run", total=1.0, gen=engine.generation, best="-", rate="-", failed=engine.failed
            )

            def update(p) -> None:
                bar.update(
                    task,
                    completed=p.fraction_done,
                    gen=p.generation,
                    best=_fmt(p.best_score),
                    rate=f"{p.evals_per_second:.1f}",
                    failed=p.failed,
                )

            summary = engine.run(update)
    return print_summary(console, summary, start_evals)


def _plain_reporter(console: Console):
    last = [0.0]

    def report(p) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0 or p.fraction_done >= 1.0:
            last[0] = now
            console.print(
                f"gen {p.generation}  evals {p.evaluations}  best {_fmt(p.best_score)}  "
                f"{p.evals_per_second:.1f} evals/s  {100 * p.fraction_done:.0f}%",
                highlight=False,
            )

    return report


def print_summary(console: Console, summary, start_evals: int = 0) -> int:
    out = Console()
    best = summary.best
    run = summary.run_dir
    stopped = {"interrupted": "stopped by Ctrl-C (everything committed is kept)"}.get(
        summary.stopped_by, f"budget reached ({summary.stopped_by})"
    )
    out.print(f"[bold]run[/]        {run}")
    out.print(f"[bold]status[/]     {stopped}")
    out.print(
        f"[bold]evaluated[/]  {summary.evaluations} individuals in {summary.generations} "
        f"generations, {summary.elapsed:.1f}s"
    )
    if best is not None:
        out.print(
            f"[bold]best[/]       #{best.id} score {_fmt(best.score)}  {best.genome.summary()}"
        )
    else:
        out.print("[bold]best[/]       none (no evaluation succeeded; see 'evosearch status')")
    out.print("\ninspect it:")
    for cmd in (
        f"evosearch status {run}",
        f"evosearch top {run} -n 10",
        f"evosearch lineage {run} --best",
        f"evosearch show {run} {best.id if best else 'ID'}",
    ):
        out.print(f"  {cmd}", highlight=False)
    if summary.stopped_by == "interrupted":
        out.print(f"  evosearch resume {run}", highlight=False)
        return 130
    return 0


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.6g}"
