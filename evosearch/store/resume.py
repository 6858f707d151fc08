"""Resuming a run from its directory: the checkpoint format, opening, and the log replay.

Each commit stores the engine's checkpoint (``checkpoint``: the strategy's ``state_dict()``
and the engine's counters, versioned) with the committed rows. ``open_resumable`` opens a
run for writing after checking that its parts are intact and that its checkpoint is one this
version reads; ``replay_rows`` gives the rows a steady-state run appended after its last
commit and that no part holds, for the strategy to replay (DESIGN §5).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import yaml

from evosearch.individual import Individual
from evosearch.store.runstore import RunStore, StoreError

CHECKPOINT_VERSION = 2


def checkpoint(strategy_state: dict[str, Any], counters: dict[str, Any]) -> dict[str, Any]:
    """The state one commit stores: the strategy's ``state_dict()`` and the counters."""
    return {"version": CHECKPOINT_VERSION, "strategy": strategy_state, "counters": counters}


@dataclasses.dataclass
class ResumePoint:
    """A run opened for resuming.

    Attributes:
        store: The run's store, open for writing (the caller closes it).
        config: The run's config as written in ``run.yaml`` (a plain dict, without the
            ``evosearch`` version header).
        strategy_state: The strategy's ``state_dict()`` at the last commit (None before).
        counters: The engine's counters at the last commit (empty before).
    """

    store: RunStore
    config: dict[str, Any]
    strategy_state: dict[str, Any] | None
    counters: dict[str, Any]


def open_resumable(run_dir: str | pathlib.Path) -> ResumePoint:
    """Open a run to continue it from its last commit.

    Raises:
        StoreError: if the run is missing, locked by another process, has damaged parts, or
            holds a checkpoint of another version.
    """
    store = RunStore.open(run_dir, writable=True)
    try:
        problems = store.verify()
        if problems:
            raise StoreError(
                f"{store.path} has {len(problems)} damaged part(s): {'; '.join(problems)}. "
                f"Run 'evosearch repair {store.path}' to quarantine them (their "
                "individuals are lost; everything else is kept)"
            )
        raw = yaml.safe_load(store.run_yaml)
        raw.pop("evosearch", None)
        state = store.load_state()
        if state is None:
            return ResumePoint(store, raw, None, {})
        if state.get("version") != CHECKPOINT_VERSION:
            raise StoreError(
                f"{store.path}: checkpoint version {state.get('version')!r} "
                f"(this evosearch reads version {CHECKPOINT_VERSION})"
            )
        return ResumePoint(store, raw, state["strategy"], dict(state["counters"]))
    except BaseException:
        store.close()
        raise


def replay_rows(store: RunStore) -> list[Individual]:
    """Rows appended after the last commit that no part holds yet (steady-state results)."""
    rows = store.uncommitted()
    if not rows or not store.parts:
        return rows
    known = set(store.table(["id"])["id"].to_pylist())
    return [i for i in rows if i.id not in known]
