"""The response cache: a resumed run does not pay twice."""

from __future__ import annotations

import sqlite3

import pytest
from llm_fake_server import fake_openai

from evosearch.llm.base import LLMRequest
from evosearch.llm.cache import CACHE_FILE, CachedBackend
from evosearch.llm.pool import backend_from_config, clear_backends, get_cache_dir, set_cache_dir


@pytest.fixture(autouse=True)
def _fresh():
    clear_backends()
    yield
    clear_backends()


def config(url: str) -> dict:
    return {
        "ref": "openai",
        "params": {"base_url": url, "model": "tiny", "price_in": 1.0, "price_out": 3.0},
    }


def seeded(n: int) -> list[LLMRequest]:
    return [LLMRequest.from_prompt(f"q{i}", seed=100 + i, temperature=0.8) for i in range(n)]


def test_a_second_process_answers_from_the_cache_without_http(tmp_path):
    with fake_openai() as srv:
        first = backend_from_config(config(srv.url), cache_dir=tmp_path)
        assert isinstance(first, CachedBackend)
        a = first.generate(seeded(3))
        assert len(srv.requests) == 3 and not any(c.cached for c in a)
        assert all(c.cost_usd > 0 for c in a)
        clear_backends()  # as if the run were resumed in a new process
        second = backend_from_config(config(srv.url), cache_dir=tmp_path)
        assert second is not first
        b = second.generate(seeded(3))
    assert len(srv.requests) == 3  # no second HTTP request
    assert [c.text for c in b] == [c.text for c in a]
    assert all(c.cached and c.cost_usd == 0.0 for c in b)
    assert [(c.tokens_in, c.tokens_out) for c in b] == [(c.tokens_in, c.tokens_out) for c in a]
    assert (tmp_path / CACHE_FILE).is_file()
    mode = sqlite3.connect(tmp_path / CACHE_FILE).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_changed_requests_miss_and_unseeded_sampling_is_never_cached(tmp_path):
    with fake_openai() as srv:
        b = backend_from_config(config(srv.url), cache_dir=tmp_path)
        b.generate(seeded(2))
        other_seed = LLMRequest.from_prompt("q0", seed=999, temperature=0.8)
        unseeded = LLMRequest.from_prompt("q0", temperature=0.8)
        greedy = LLMRequest.from_prompt("q0", temperature=0.0)
        out = b.generate([other_seed, unseeded, unseeded, greedy])
        assert not any(c.cached for c in out) and len(srv.requests) == 6
        again = b.generate([unseeded, greedy])
    assert [c.cached for c in again] == [False, True]
    assert len(srv.requests) == 7
    assert (b.hits, b.misses) == (1, 7)


def test_failed_completions_are_not_cached(tmp_path):
    with fake_openai([("status", 400, {}, "nope")]) as srv:
        b = backend_from_config(config(srv.url), cache_dir=tmp_path)
        [bad] = b.generate(seeded(1))
        [good] = b.generate(seeded(1))
    assert not bad.ok and good.ok and not good.cached and len(srv.requests) == 2


def test_identical_requests_in_one_batch_are_asked_once(tmp_path):
    with fake_openai() as srv:
        b = backend_from_config(config(srv.url), cache_dir=tmp_path)
        out = b.generate(seeded(1) * 3)
    assert len(srv.requests) == 1
    assert [c.cached for c in out] == [False, True, True]
    assert len({c.text for c in out}) == 1


def test_the_deprecated_set_cache_dir_sets_the_default_outside_runs(tmp_path):
    with fake_openai() as srv:
        assert not isinstance(backend_from_config(config(srv.url)), CachedBackend)
        with pytest.warns(DeprecationWarning, match="set_cache_dir"):
            set_cache_dir(tmp_path)
        assert isinstance(backend_from_config(config(srv.url)), CachedBackend)
        scripted = backend_from_config({"ref": "scripted", "params": {"responses": ["x"]}})
        assert not isinstance(scripted, CachedBackend)  # not cacheable: left alone


def test_an_engine_keeps_its_cache_in_its_run_directory_not_the_process(tmp_path):
    from conftest import sphere_config

    from evosearch.engine import Engine

    engine = Engine.create(sphere_config(budget={"generations": 1}), tmp_path / "run")
    assert engine.context.llm.cache_dir == tmp_path / "run"
    assert get_cache_dir() is None  # the run's cache is its own, not the process's
    with engine.context.serving():  # what plugins calling backend_from_config see in a run
        assert get_cache_dir() == tmp_path / "run"
    engine.run()
    assert get_cache_dir() is None
