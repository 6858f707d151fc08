"""LLM usage end to end: per-individual cost, the llm_tokens budget, status totals, resume."""

from __future__ import annotations

import json

import pytest
from llm_fake_server import fake_openai
from llm_test_operator import llm_run

from evosearch.cli import main
from evosearch.engine import Engine
from evosearch.llm.pool import clear_backends
from evosearch.store import RunStore

CALL_TOKENS = 11 + 7  # what the fake server reports per request


@pytest.fixture(autouse=True)
def _fresh():
    clear_backends()
    yield
    clear_backends()


def test_llm_tokens_budget_stops_the_run_and_status_shows_the_totals(tmp_path, capsys):
    with fake_openai() as srv:
        engine = Engine.create(
            llm_run(srv.url, {"llm_tokens": 100, "generations": 50}), tmp_path / "run"
        )
        summary = engine.run()
    assert summary.stopped_by == "llm_tokens"
    assert len(srv.requests) == 8  # init (no LLM), then 4 + 4 calls: 144 >= 100 tokens
    store = RunStore.open(tmp_path / "run")
    rows = store.table(["operator", "tokens_in", "tokens_out", "cost_usd"]).to_pylist()
    llm_rows = [r for r in rows if r["tokens_in"]]
    assert len(llm_rows) == 8
    assert all((r["tokens_in"], r["tokens_out"]) == (11, 7) for r in llm_rows)
    assert all(r["cost_usd"] == pytest.approx((11 * 2 + 7 * 4) / 1e6) for r in llm_rows)
    assert main(["status", str(tmp_path / "run"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["tokens_in"], info["tokens_out"]) == (88, 56)
    assert info["cost_usd"] == pytest.approx(8 * 50 / 1e6)
    [(label, per_op)] = info["llm_by_operator"].items()
    assert "AskThenNudge" in label and per_op["n"] == 8 and per_op["tokens_in"] == 88
    assert main(["status", str(tmp_path / "run")]) == 0
    assert "llm_by_operator" in capsys.readouterr().out


def test_a_resumed_run_gets_its_lost_requests_from_the_cache(tmp_path):
    run = tmp_path / "run"
    with fake_openai() as srv:
        engine = Engine.create(llm_run(srv.url, {"generations": 3}), run)
        engine.step()  # init
        engine.step()  # 4 LLM calls, committed
        engine.strategy.ask()  # 4 more calls, then the process "dies" before the commit
        engine.close()
        assert len(srv.requests) == 8
        clear_backends()  # a new process: no backend instances survive
        resumed = Engine.resume(run)
        resumed.run()
    assert len(srv.requests) == 8  # the lost generation was answered from llm-cache.sqlite
    last = [i for i in RunStore.open(run).individuals() if i.generation == 2]
    assert len(last) == 4 and all(i.operator_params["cached"] for i in last)
    assert all(i.cost.tokens_in == 11 and i.cost.usd == 0.0 for i in last)
    assert (run / "llm-cache.sqlite").is_file()
