"""Exporters for code and prompt genomes (see ``evosearch.cli.export.EXPORTERS``)."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any


def _provenance(ind: Any, run_cfg: dict[str, Any]) -> dict[str, Any]:
    res = ind.result
    return {
        "run": run_cfg.get("name"),
        "id": ind.id,
        "parent_ids": list(ind.parent_ids),
        "operator": ind.operator,
        "generation": ind.generation,
        "score": None if res is None or res.score != res.score else res.score,
        "metrics": {} if res is None else dict(res.metrics),
        "fingerprint": ind.genome.fingerprint(),
    }


def export_code_individual(
    ind: Any, run_cfg: dict[str, Any], out: pathlib.Path, args: argparse.Namespace
) -> list[pathlib.Path]:
    """Write a ``CodeGenome``'s files as a runnable tree, with its provenance.

    For a DGM agent (entry ``agent/main.py:solve``) the tree is a runnable package:
    ``python agent/main.py TASK_DIR``; outside evosearch's sandbox the agent reaches an
    OpenAI-compatible server named by ``EVOSEARCH_AGENT_BASE_URL`` / ``EVOSEARCH_AGENT_MODEL``.
    """
    from evosearch.cli import CLIError

    if out.exists() and any(out.iterdir()):
        raise CLIError(f"{out} exists and is not empty; choose a new directory")
    written = ind.genome.write_to(out)
    meta = out / "EVOSEARCH.json"
    info = _provenance(ind, run_cfg) | {"entry": ind.genome.entry}
    meta.write_text(json.dumps(info, indent=1) + "\n")
    return [*written, meta]


def export_text_individual(
    ind: Any, run_cfg: dict[str, Any], out: pathlib.Path, args: argparse.Namespace
) -> list[pathlib.Path]:
    """Write a ``TextGenome`` (a prompt) to ``prompt.txt`` with its provenance."""
    out.mkdir(parents=True, exist_ok=True)
    prompt = out / "prompt.txt"
    data = ind.genome.to_json()
    prompt.write_text(data.get("text", json.dumps(data)) + "\n")
    meta = out / "EVOSEARCH.json"
    meta.write_text(json.dumps(_provenance(ind, run_cfg), indent=1) + "\n")
    return [prompt, meta]
