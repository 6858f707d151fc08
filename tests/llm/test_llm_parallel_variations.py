"""ArchiveStrategy(parallel_variations=N) keeps an HTTP backend busy and stays reproducible."""

from __future__ import annotations

import pytest
from llm_fake_server import fake_openai
from llm_test_operator import llm_run

from evosearch.engine import Engine
from evosearch.llm.pool import clear_backends
from evosearch.store import RunStore


@pytest.fixture(autouse=True)
def _fresh():
    clear_backends()
    yield
    clear_backends()


def genomes(run) -> list[tuple]:
    rows = RunStore.open(run).table(["id", "genome", "parent_ids", "operator_params"])
    return [tuple(r.values()) for r in rows.to_pylist()]


@pytest.mark.parametrize("workers", [1, 4])
def test_parallel_variations_are_reproducible(tmp_path, workers):
    runs = []
    with fake_openai(gather=1 if workers == 1 else 2) as srv:
        for k in range(2):
            cfg = llm_run(srv.url, {"generations": 3})
            cfg["strategy"]["params"]["population_size"] = 6
            cfg["strategy"]["params"]["parallel_variations"] = workers
            cfg["strategy"]["params"]["operators"][0]["params"]["llm"]["params"]["concurrency"] = 3
            Engine.create(cfg, tmp_path / f"run{k}").run()
            runs.append(genomes(tmp_path / f"run{k}"))
    assert runs[0] == runs[1]
    assert len(srv.requests) == 2 * 2 * 6
    if workers == 1:
        assert srv.max_inflight == 1
    else:
        assert 2 <= srv.max_inflight <= 3  # concurrent (barrier met), bounded by concurrency


def test_steady_state_makes_children_ahead_concurrently_and_resumes_identically(tmp_path):
    def cfg(url, evaluations):
        c = llm_run(url, {"evaluations": evaluations})
        c["mode"] = "steady_state"
        c["strategy"]["params"]["parallel_variations"] = 3
        c["strategy"]["params"]["operators"][0]["params"]["llm"]["params"]["concurrency"] = 3
        return c

    with fake_openai(gather=2) as srv:  # the first two requests wait for each other
        Engine.create(cfg(srv.url, 14), tmp_path / "straight").run()
        assert srv.max_inflight >= 2  # one child asked at a time, three requests in flight
        clear_backends()
        Engine.create(cfg(srv.url, 9), tmp_path / "resumed").run()
        clear_backends()
        Engine.resume(tmp_path / "resumed", budget_overrides=["budget.evaluations=14"]).run()
    assert genomes(tmp_path / "resumed") == genomes(tmp_path / "straight")
