"""ArchiveStrategy(parallel_variations=N) keeps an HTTP backend busy and stays reproducible."""

from __future__ import annotations

import pytest
from llm_fake_server import fake_openai
from llm_test_operator import llm_run

from evosearch.engine import Engine
from evosearch.llm.base import clear_backends, set_cache_dir
from evosearch.store import RunStore


@pytest.fixture(autouse=True)
def _fresh():
    clear_backends()
    yield
    clear_backends()
    set_cache_dir(None)


def genomes(run) -> list[tuple]:
    rows = RunStore.open(run).table(["id", "genome", "parent_ids", "operator_params"])
    return [tuple(r.values()) for r in rows.to_pylist()]


@pytest.mark.parametrize("workers", [1, 4])
def test_parallel_variations_are_reproducible(tmp_path, workers):
    runs = []
    with fake_openai(latency=0.02) as srv:
        for k in range(2):
            cfg = llm_run(srv.url, {"generations": 3})
            cfg["strategy"]["params"]["batch_size"] = 6
            cfg["strategy"]["params"]["parallel_variations"] = workers
            cfg["strategy"]["params"]["operators"][0]["params"]["llm"]["params"]["concurrency"] = 3
            Engine.create(cfg, tmp_path / f"run{k}").run()
            runs.append(genomes(tmp_path / f"run{k}"))
    assert runs[0] == runs[1]
    assert len(srv.requests) == 2 * 2 * 6
    if workers == 1:
        assert srv.max_inflight == 1
    else:
        assert 2 <= srv.max_inflight <= 3  # the backend's concurrency bounds all callers
