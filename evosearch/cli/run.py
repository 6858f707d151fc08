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
    from evosearch.preflight import check_backends

    config = load_config(args.config, args.overrides)
    out = pathlib.Path(args.out) if args.out else default_run_dir(config.name)
    _refuse_foreign_dir(out)
    check_backends(config)  # every model and server the config names, before writing
    from evosearch.engine import Engine  # (torch & co.: after the quick checks)

    engine = Engine.create(config, out)
    return drive(engine, quiet=args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from evosearch.cli import CLIError
    from evosearch.engine import Engine
    from evosearch.preflight import check_backends

    bad = [o for o in args.overrides if not o.startswith("budget.")]
    if bad:
        raise CLIError(f"resume only accepts budget overrides, got {bad}")
    engine = Engine.resume(args.run, budget_overrides=args.overrides)
    try:
        _refuse_shrunk_budget(engine, args.overrides)
        check_backends(engine.config)
    except BaseException:
        engine.close()
        raise
    return drive(engine, quiet=args.quiet, resumed=True)


def _refuse_foreign_dir(out: pathlib.Path) -> None:
    """``--out`` may name a new or empty directory, or a run (refused later as existing)."""
    from evosearch.cli import CLIError

    if out.is_dir() and any(out.iterdir()) and not (out / "run.yaml").exists():
        raise CLIError(
            f"--out {out}: the directory exists and is not a run ({len(list(out.iterdir()))} "
            "entries); a run needs a new or empty directory"
        )
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out}: exists and is not a directory")


def _refuse_shrunk_budget(engine, overrides: list[str]) -> None:
    from evosearch.cli import CLIError

    keys = {o.split("=", 1)[0].removeprefix("budget.") for o in overrides}
    budget = engine.config.budget
    reached = {"generations": engine.generation, "evaluations": engine.evaluations}
    for key, now in reached.items():
        limit = getattr(budget, key, None)
        if key in keys and limit is not None and limit < now:
            raise CLIError(
                f"budget.{key}={limit} is below what the run has already done ({now} {key}); "
                f"a resume can only extend the budget (use budget.{key} > {now})"
            )


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
        summary = engine.run(
            _plain_reporter(console, engine.fraction_done()) if not quiet else None
        )
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


PLAIN_PROGRESS_EVERY = 5.0  # seconds between progress lines when not on a terminal


def _plain_reporter(console: Console, start_fraction: float = 0.0):
    """One plain line every few seconds (logs, nohup, tmux, schedulers): counts and ETA."""
    t0 = time.monotonic()
    last = [t0]

    def report(p) -> None:
        now = time.monotonic()
        if now - last[0] >= PLAIN_PROGRESS_EVERY or p.fraction_done >= 1.0:
            last[0] = now
            counts = "  ".join(f"{s} {n}" for s, n in p.status_counts.items())
            console.print(
                f"gen {p.generation}  evals {p.evaluations}  {counts}  best {_fmt(p.best_score)}"
                f"  {p.evals_per_second:.1f} evals/s  {100 * p.fraction_done:.0f}%  "
                f"ETA {_eta(now - t0, p.fraction_done - start_fraction, 1.0 - p.fraction_done)}",
                highlight=False,
                soft_wrap=True,
            )

    return report


def _eta(spent: float, done: float, left: float) -> str:
    if done <= 0 or spent <= 0:
        return "-"
    seconds = int(spent * left / done)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else (f"{seconds // 60}m{seconds % 60:02d}s")
    )


def print_summary(console: Console, summary, start_evals: int = 0) -> int:
    """Print what the run committed; the exit code says whether it found anything."""
    out = Console(soft_wrap=True)
    best = summary.best
    run = summary.run_dir
    stopped = {
        "interrupted": "stopped by Ctrl-C (everything committed is kept)",
        "converged": f"converged, no restart left ({summary.stop_reason})",
        "infrastructure": f"stopped: infrastructure failure ({summary.stop_reason})",
    }.get(summary.stopped_by, f"budget reached ({summary.stopped_by})")
    counts = summary.status_counts
    out.print(f"[bold]run[/]        {run}", highlight=False)
    out.print(f"[bold]status[/]     {stopped}", highlight=False)
    out.print(
        f"[bold]evaluated[/]  {summary.evaluations} individuals in {summary.generations} "
        f"generations, {summary.elapsed:.1f}s",
        highlight=False,
    )
    if counts:
        out.print(
            "[bold]outcomes[/]   " + ", ".join(f"{n} {s}" for s, n in counts.items()),
            highlight=False,
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
    if summary.stopped_by == "infrastructure":
        console.print(
            f"evosearch: error: the last evaluations all failed the same way: "
            f"{summary.stop_reason}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 3
    if summary.evaluations and counts and not counts.get("ok"):
        console.print(
            f"evosearch: error: no evaluation succeeded ({summary.evaluations} evaluated); "
            f"see 'evosearch status {run}'",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.6g}"
