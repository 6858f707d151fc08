"""The ``openai`` backend against a real ``transformers serve`` (a server no one here wrote).

A pico Llama with a chat template is served offline by transformers' own OpenAI-compatible
server; the backend sends chat completions to it, the config check finds it, and a run's
preflight passes. Skipped, with the server's last lines, only if it cannot start offline.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from evosearch.llm.base import LLMRequest, Message
from evosearch.llm.openai_backend import OpenAIBackend
from evosearch.preflight import check_backends

TEMPLATE = (
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)
START_BOUND = 300  # seconds: a bound on a hung start, never a speed requirement


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("fastapi", reason="transformers serve needs transformers[serving]")
    pytest.importorskip("uvicorn", reason="transformers serve needs transformers[serving]")
    from evosearch.scenarios.demo_models.tinylm import save_random_llama

    path = tmp_path_factory.mktemp("pico-chat")
    save_random_llama(path, hidden=32, intermediate=64, layers=2, heads=4,
                      num_key_value_heads=2, max_positions=128)
    cfg_file = path / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["chat_template"] = TEMPLATE
    cfg_file.write_text(json.dumps(cfg))
    hf_home = tmp_path_factory.mktemp("hf-home")
    (hf_home / "hub").mkdir()
    port = _free_port()
    code = (
        "import sys; from transformers.cli.transformers import main; "
        f"sys.argv = ['transformers', 'serve', {str(path)!r}, '--host', '127.0.0.1', "
        f"'--port', '{port}', '--device', 'cpu']; main()"
    )
    log = open(path.parent / "serve.log", "w+b")  # noqa: SIM115 - closed below
    env = {
        **__import__("os").environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
    }
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_BOUND
        while True:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-1500:]
                pytest.skip(f"transformers serve could not start offline:\n{tail}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=5) as r:
                    r.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("transformers serve did not answer /v1/models")
                time.sleep(0.5)
        yield base, str(path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_openai_backend_gets_chat_completions_from_transformers_serve(served):
    base, model = served
    backend = OpenAIBackend(base_url=base, model=model, max_retries=1, timeout=120)
    try:
        msgs = (Message("system", "s"), Message("user", "hello"))
        out = backend.generate(
            [LLMRequest(messages=msgs, max_tokens=3, seed=i, temperature=0.0) for i in range(2)]
        )
    finally:
        backend.close()
    assert all(c.ok for c in out), [c.error for c in out]
    # the server applied the chat template: one byte-level token per character
    assert out[0].tokens_in == len("<system>s<user>hello<assistant>")
    assert all(1 <= c.tokens_out <= 3 for c in out)


def test_a_config_naming_the_served_model_passes_the_preflight(served):
    base, model = served
    check_backends({"fitness": {"params": {"llm": {"name": "openai", "params": {
        "base_url": base, "model": model}}}}})
