"""The transformers backend end to end on a tiny randomly initialised Llama."""

from __future__ import annotations

import dataclasses
import json

import pytest

from evosearch.llm.base import LLMRequest, Message
from evosearch.llm.pool import backend_from_config, clear_backends
from evosearch.llm.transformers_backend import TransformersBackend, render_plain
from evosearch.registry import RegistryError

CONTEXT = 128


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from evosearch.scenarios.demo_models.tinylm import save_random_llama

    path = tmp_path_factory.mktemp("tiny-llama")
    save_random_llama(path, hidden=32, intermediate=64, layers=2, heads=4,
                      num_key_value_heads=2, max_positions=CONTEXT)
    return path


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a pico model gains nothing from intra-op threads
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def backend(checkpoint):
    return TransformersBackend(path=str(checkpoint), device="cpu", batch_size=3)


def requests() -> list[LLMRequest]:
    return [
        LLMRequest.from_prompt("def f(x):", max_tokens=8, temperature=1.0, seed=1),
        LLMRequest.from_prompt("a much longer prompt than the others", max_tokens=5, seed=2),
        LLMRequest.from_prompt("short", max_tokens=6, temperature=0.0),
        LLMRequest.from_prompt("improve", system="you are a coder", max_tokens=7, seed=4),
        LLMRequest.from_prompt("x", max_tokens=3, temperature=2.0, seed=5),
    ]


def test_batched_generation_returns_one_completion_per_request_with_real_usage(backend):
    from evosearch.models.bytetok import byte_tokenizer

    tok = byte_tokenizer()
    reqs = requests()
    out = backend.generate(reqs)
    assert len(out) == len(reqs)
    for r, c in zip(reqs, out):
        assert c.ok, c.error
        assert c.tokens_in == len(tok(render_plain(r.messages))["input_ids"])
        assert 1 <= c.tokens_out <= r.max_tokens
        assert c.finish_reason in ("length", "stop")
        if c.finish_reason == "length":
            assert c.tokens_out == r.max_tokens
    assert out[3].tokens_in == len("System: you are a coder\n\nUser: improve\n\nAssistant:")


def test_seeded_sampling_does_not_depend_on_batch_order_or_size(checkpoint, backend):
    reqs = requests()
    first = backend.generate(reqs)
    other = TransformersBackend(path=str(checkpoint), device="cpu", batch_size=2)
    again = other.generate(reqs[::-1])[::-1]
    assert [c.text for c in again] == [c.text for c in first]
    reseeded = [
        LLMRequest.from_prompt("def f(x):", max_tokens=8, temperature=1.0, seed=s)
        for s in (1, 2, 3)
    ]
    texts = [c.text for c in backend.generate(reseeded)]
    assert texts[0] == first[0].text and len(set(texts)) == 3


def test_stop_strings_end_the_text_before_the_stop(backend):
    base = LLMRequest.from_prompt("abc", max_tokens=40, temperature=1.0, seed=11)
    [full] = backend.generate([base])
    stop = next(ch for ch in full.text[3:] if ch.isascii() and ch.isalnum())
    [cut] = backend.generate([dataclasses.replace(base, stop=(stop,))])
    assert cut.finish_reason == "stop" and stop not in cut.text
    assert full.text.startswith(cut.text) and cut.tokens_out < full.tokens_out


def test_a_prompt_longer_than_the_context_is_an_error_completion(backend):
    out = backend.generate(
        [
            LLMRequest.from_prompt("y" * (CONTEXT + 5), max_tokens=4),
            LLMRequest.from_prompt("ok", max_tokens=2, seed=0),
        ]
    )
    assert not out[0].ok and "context is 128" in out[0].error
    assert out[1].ok


def test_the_tokenizer_chat_template_is_used_when_present(checkpoint, tmp_path):
    import shutil

    path = tmp_path / "chat"
    shutil.copytree(checkpoint, path)
    cfg_file = path / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["chat_template"] = (
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    cfg_file.write_text(json.dumps(cfg))
    msgs = (Message("system", "s"), Message("user", "hello"))
    req = LLMRequest(messages=msgs, max_tokens=2, seed=0)
    [c] = TransformersBackend(path=str(path), device="cpu").generate([req])
    assert c.ok and c.tokens_in == len("<system>s<user>hello<assistant>")
    [p] = TransformersBackend(path=str(path), chat_template="never").generate([req])
    assert p.tokens_in == len(render_plain(msgs))


def test_registered_as_transformers_and_a_missing_path_is_a_clear_error(checkpoint, tmp_path):
    clear_backends()
    try:
        b = backend_from_config({"ref": "transformers", "params": {"path": str(checkpoint)}})
        assert isinstance(b, TransformersBackend)
        with pytest.raises(RegistryError, match=r"llm\.params\.path.*does not exist"):
            backend_from_config({"ref": "transformers", "params": {"path": str(tmp_path / "no")}})
        with pytest.raises(RegistryError, match=r"llm\.params\.dtype"):
            backend_from_config(
                {"ref": "transformers", "params": {"path": str(checkpoint), "dtype": "int3"}}
            )
    finally:
        clear_backends()


def test_concurrent_callers_are_batched_and_get_their_own_answers(backend):
    import concurrent.futures

    reqs = requests()
    alone = [backend.generate([r])[0].text for r in reqs]
    with concurrent.futures.ThreadPoolExecutor(len(reqs)) as pool:
        together = list(pool.map(lambda r: backend.generate([r])[0].text, reqs))
    assert together == alone


def test_a_run_with_a_random_model_records_garbage_as_failed_mutations_and_goes_on(
    checkpoint, tmp_path
):
    from conftest import archive_config

    from evosearch.engine import Engine
    from evosearch.store import RunStore

    llm = {"ref": "transformers", "params": {"path": str(checkpoint), "device": "cpu"}}
    cfg = archive_config(budget={"generations": 3})
    cfg["strategy"]["params"]["population_size"] = 4
    cfg["strategy"]["params"]["operators"] = [
        {"ref": "llm_test_operator:AskForNumber", "params": {"llm": llm}}
    ]
    clear_backends()
    try:
        summary = Engine.create(cfg, tmp_path / "run").run()
    finally:
        clear_backends()
    assert summary.generations == 3 and summary.evaluations == 12
    rows = RunStore.open(tmp_path / "run").table().to_pylist()
    varied = [r for r in rows if r["operator"] != "init"]
    assert len(varied) == 8 and all(r["tokens_in"] > 0 and r["tokens_out"] > 0 for r in varied)
    failed = [r for r in varied if r["status"] == "invalid"]
    assert failed, "a random model should not answer with numbers every time"
    assert all("no number in the answer" in r["error"] for r in failed)
    assert any(r["feedback"] for r in failed)  # the raw garbage is kept


def test_out_of_device_memory_splits_the_batch(checkpoint, monkeypatch):
    import torch

    b = TransformersBackend(path=str(checkpoint), device="cpu", batch_size=4)
    real = b._generate_batch
    sizes = []

    def small_memory(reqs, chunk):
        sizes.append(len(chunk))
        if len(chunk) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(reqs, chunk)

    monkeypatch.setattr(b, "_generate_batch", small_memory)
    reqs = requests()[:4]
    out = b.generate(reqs)
    assert all(c.ok for c in out) and sizes == [4, 2, 1, 1, 2, 1, 1]
    monkeypatch.setattr(b, "_generate_batch", lambda reqs, chunk: real(reqs, chunk))
    assert [c.text for c in b.generate(reqs)] == [c.text for c in out]
