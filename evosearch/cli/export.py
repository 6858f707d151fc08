"""``evosearch export RUN ID --to DIR``: write an individual as a usable artifact.

What gets written depends on the genome kind, through a small dispatch table: ``EXPORTERS``
maps a genome kind to ``package.module:function`` (imported only when used). An exporter is
called as ``fn(individual, run_config, out_dir, options) -> list[pathlib.Path]``, where
``run_config`` is the run's resolved config (a dict) and ``options`` the parsed CLI options.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

import yaml

EXPORTERS: dict[str, str] = {
    "weights": "evosearch.cli.export:export_weights_individual",
    "code": "evosearch.cli.export_text:export_code_individual",
    "text": "evosearch.cli.export_text:export_text_individual",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write an individual as an artifact (e.g. HF checkpoint)")
    p.add_argument("run", help="the run directory")
    p.add_argument("id", help="individual id, or 'best'")
    p.add_argument("--to", required=True, help="output directory")
    p.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="weights: override a pool model's path (repeatable)",
    )
    p.add_argument("--device", default="cpu", help="weights: device to materialise on")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from evosearch.cli import CLIError
    from evosearch.registry import resolve_reference
    from evosearch.store import RunStore

    store = RunStore.open(args.run)
    if args.id == "best":
        best = store.manifest.get("counters", {}).get("best_id")
        if best is None:
            raise CLIError(f"{args.run}: no best individual recorded yet")
        ind_id = int(best)
    else:
        try:
            ind_id = int(args.id)
        except ValueError:
            raise CLIError(f"individual id must be an integer or 'best', got {args.id!r}") from None
    ind = store.get(ind_id)
    kind = ind.genome.kind
    if kind not in EXPORTERS:
        raise CLIError(
            f"individual {ind_id} is a {kind!r} genome; export supports: {', '.join(EXPORTERS)}"
        )
    run_cfg = yaml.safe_load(store.run_yaml) or {}
    fn = resolve_reference(EXPORTERS[kind])
    out = pathlib.Path(args.to)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CLIError(f"--to {out}: exists and is not an empty directory; choose a new one")
    for path in _write_whole(out, lambda tmp: fn(ind, run_cfg, tmp, args)):
        print(path)
    return 0


def _write_whole(out: pathlib.Path, write) -> list[pathlib.Path]:
    """Run ``write(tmp_dir)`` next to ``out`` and rename it to ``out`` only if it succeeds.

    A failed export (bad pool path, a full disk, Ctrl-C) leaves no partial directory.
    """
    import os
    import shutil
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        written = write(tmp)
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(out, 0o777 & ~_umask())
    return [out / pathlib.Path(p).relative_to(tmp) for p in written]


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def find_pool_config(run_cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The model pool of a run: ``fitness.params.pool`` or ``strategy.params.pool``."""
    for section in ("fitness", "strategy"):
        params = (run_cfg.get(section) or {}).get("params") or {}
        if isinstance(params.get("pool"), dict):
            return params["pool"]
    return None


def export_weights_individual(
    ind: Any, run_cfg: dict[str, Any], out: pathlib.Path, args: argparse.Namespace
) -> list[pathlib.Path]:
    """Exporter for ``weights`` genomes: HF checkpoint + mergekit YAML for pure merges."""
    from evosearch.cli import CLIError
    from evosearch.models.export import ExportError, export_weights
    from evosearch.models.pool import ModelPool, PoolError

    pool_cfg = dict(find_pool_config(run_cfg) or {})
    models = dict(pool_cfg.get("models") or {})
    for item in getattr(args, "pool", []) or []:
        name, sep, path = item.partition("=")
        if not sep:
            raise CLIError(f"--pool {item!r}: expected NAME=PATH")
        models[name] = path
    if not models and not pool_cfg.get("build"):
        raise CLIError(
            "the run config has no model pool (fitness.params.pool or strategy.params.pool); "
            "give the models with --pool NAME=PATH"
        )
    if models:
        pool_cfg["models"] = models
    try:
        pool = ModelPool.from_config(pool_cfg, device="cpu")
        return export_weights(ind.genome, out, pool, device=getattr(args, "device", "cpu"))
    except (PoolError, ExportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
