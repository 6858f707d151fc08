"""The OpenAI-compatible HTTP backend against a local server the test starts."""

from __future__ import annotations

import logging

import pytest
from llm_fake_server import fake_openai

from evosearch.llm.base import LLMRequest
from evosearch.llm.openai_backend import OpenAIBackend
from evosearch.llm.pool import backend_from_config, clear_backends
from evosearch.registry import RegistryError

SECRET = "sk-test-9f8e7d6c5b4a-secret"


@pytest.fixture(autouse=True)
def _fresh():
    clear_backends()
    yield
    clear_backends()


def make(url: str, **kw) -> tuple[OpenAIBackend, list[float]]:
    opts = {"backoff": 0.05, "max_retries": 3, "timeout": 5.0, **kw}
    waits: list[float] = []  # backoff waits, recorded instead of slept
    backend = OpenAIBackend(base_url=url, model="tiny", sleep=waits.append, **opts)
    return backend, waits


def req(text: str = "hi", **kw) -> LLMRequest:
    return LLMRequest.from_prompt(text, system="be brief", **kw)


def test_success_returns_text_usage_cost_and_sends_the_request(monkeypatch):
    monkeypatch.setenv("MY_KEY", SECRET)
    with fake_openai([("ok", "hello back")]) as srv:
        b, waits = make(srv.url, api_key_env="MY_KEY", price_in=2.0, price_out=10.0)
        [c] = b.generate([req(max_tokens=33, temperature=0.5, seed=7, stop=("###",))])
    assert c.ok and c.text == "hello back" and c.finish_reason == "stop"
    assert (c.tokens_in, c.tokens_out) == (11, 7)
    assert c.cost_usd == pytest.approx((11 * 2.0 + 7 * 10.0) / 1e6)
    headers, body = srv.requests[0]
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert body["model"] == "tiny" and body["max_tokens"] == 33 and body["seed"] == 7
    assert body["stop"] == ["###"] and body["temperature"] == 0.5
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert b.attempts == 1 and waits == []


def test_no_authorization_header_when_the_key_variable_is_unset(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with fake_openai() as srv:
        b, _ = make(srv.url)
        [c] = b.generate([req()])
    assert c.ok
    assert "Authorization" not in srv.requests[0][0]


def test_429_waits_as_long_as_retry_after_says_then_succeeds():
    script = [("status", 429, {"Retry-After": "2"}, '{"error": {"message": "slow down"}}')]
    with fake_openai(script) as srv:
        b, waits = make(srv.url)
        [c] = b.generate([req()])
    assert c.ok and c.text == "echo: hi"
    assert b.attempts == 2 and waits == [2.0]


def test_5xx_are_retried_with_growing_jittered_backoff():
    script = [("status", 500, {}, "boom"), ("status", 503, {}, "busy")]
    with fake_openai(script) as srv:
        b, waits = make(srv.url, backoff=0.5)
        [c] = b.generate([req()])
    assert c.ok and b.attempts == 3 and len(srv.requests) == 3
    assert len(waits) == 2 and 0 <= waits[0] <= 0.5 and 0 <= waits[1] <= 1.0


def test_persistent_5xx_ends_as_an_error_completion_after_max_retries():
    with fake_openai([("status", 502, {}, "bad gateway")] * 5) as srv:
        b, waits = make(srv.url, max_retries=2)
        [c] = b.generate([req()])
    assert not c.ok and c.text == "" and c.finish_reason == "error"
    assert "HTTP 502" in c.error and "bad gateway" in c.error and "3 attempts" in c.error
    assert b.attempts == 3 and len(waits) == 2 and len(srv.requests) == 3


def test_a_timeout_is_retried_then_reported():
    with fake_openai([("sleep", 1.5), ("sleep", 1.5)]) as srv:
        b, waits = make(srv.url, timeout=0.2, max_retries=1)
        [c] = b.generate([req()])
    assert not c.ok and "timed out after 0.2s" in c.error and "2 attempts" in c.error
    assert b.attempts == 2 and len(waits) == 1


def test_a_dropped_connection_is_retried():
    with fake_openai([("drop",)]) as srv:
        b, _ = make(srv.url)
        [c] = b.generate([req()])
    assert c.ok and b.attempts == 2


def test_a_kept_alive_connection_closed_by_the_server_is_reopened_without_a_retry():
    with fake_openai([("ok_then_close", "one"), ("ok", "two")]) as srv:
        b, waits = make(srv.url)
        first, second = b.generate([req()])[0], b.generate([req()])[0]
    assert (first.text, second.text) == ("one", "two")
    assert waits == [] and b.attempts == 2 and len(srv.requests) == 2


def test_bad_json_is_an_error_without_retry():
    with fake_openai([("raw", b'{"choices": [ oops')]) as srv:
        b, waits = make(srv.url)
        [c] = b.generate([req()])
    assert not c.ok and "not a chat completion" in c.error and "oops" in c.error
    assert b.attempts == 1 and waits == []


def test_a_client_error_is_not_retried_and_shows_the_server_message():
    body = '{"error": {"message": "model \'tiny\' not found"}}'
    with fake_openai([("status", 404, {}, body)]) as srv:
        b, waits = make(srv.url)
        [c] = b.generate([req()])
    assert not c.ok and "HTTP 404" in c.error and "model 'tiny' not found" in c.error
    assert b.attempts == 1 and waits == []


def test_an_unreachable_server_is_an_error_completion():
    with fake_openai() as srv:
        url = srv.url
    b, waits = make(url, max_retries=1)  # the server is gone: connection refused
    [c] = b.generate([req()])
    assert not c.ok and "connection failed" in c.error and len(waits) == 1


def test_the_key_never_reaches_logs_errors_or_repr(monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    script = [("status", 500, {}, "x"), ("drop",), ("status", 401, {}, "bad key")]
    with fake_openai(script) as srv:
        b, _ = make(srv.url)
        [c] = b.generate([req()])
    assert not c.ok and "HTTP 401" in c.error
    assert "retry 1/3" in caplog.text  # retries are logged ...
    for text in (caplog.text, c.error, repr(b), repr(b.params), str(b.params.model_dump())):
        assert SECRET not in text  # ... but never the key
    with pytest.raises(TypeError, match="not picklable"):
        import pickle

        pickle.dumps(b)


def test_concurrency_limits_requests_in_flight_and_keeps_order():
    with fake_openai(gather=3) as srv:  # held until 3 are in flight: no race with the clock
        b, _ = make(srv.url, concurrency=3)
        out = b.generate([req(f"q{i}") for i in range(9)])
        b.close()
    assert [c.text for c in out] == [f"echo: q{i}" for i in range(9)]
    assert srv.max_inflight == 3


def test_bad_config_names_the_key_and_the_problem():
    with pytest.raises(RegistryError, match=r"llm\.params\.base_url.*http\(s\) URL"):
        backend_from_config({"ref": "openai", "params": {"base_url": "localhost", "model": "m"}})
    with pytest.raises(RegistryError, match=r"llm\.params\.api_key\b.*accepted"):
        backend_from_config(
            {"ref": "openai", "params": {"base_url": "http://x/v1", "model": "m", "api_key": "k"}}
        )
