"""The agent's LLM client.

Inside evosearch's sandbox it talks through the pipes the sandbox hands over (no keys, no
network). Exported and run on its own, it calls an OpenAI-compatible server instead:
``EVOSEARCH_AGENT_BASE_URL`` (e.g. http://localhost:8000/v1), ``EVOSEARCH_AGENT_MODEL`` and,
if the server needs one, a key in ``EVOSEARCH_AGENT_API_KEY``.
"""

import json
import os
import urllib.error
import urllib.request


class LLMUnavailable(RuntimeError):
    """Neither the sandbox's proxy pipes nor a server URL is configured."""


def chat(messages, max_tokens=512, temperature=0.7):
    """Send a chat (list of {"role", "content"}) and return (text, error)."""
    if "EVOSEARCH_LLM_REQ_FD" in os.environ:
        return _via_proxy(messages, max_tokens, temperature)
    if "EVOSEARCH_AGENT_BASE_URL" in os.environ:
        return _via_http(messages, max_tokens, temperature)
    raise LLMUnavailable(
        "no LLM: run inside evosearch, or set EVOSEARCH_AGENT_BASE_URL and EVOSEARCH_AGENT_MODEL"
    )


def _via_proxy(messages, max_tokens, temperature):
    req_fd = int(os.environ["EVOSEARCH_LLM_REQ_FD"])
    resp_fd = int(os.environ["EVOSEARCH_LLM_RESP_FD"])
    line = json.dumps({"messages": messages, "max_tokens": max_tokens,
                       "temperature": temperature}) + "\n"
    os.write(req_fd, line.encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(resp_fd, 65536)
        if not chunk:
            return "", "LLM proxy closed the connection"
        buf += chunk
    answer = json.loads(buf.decode())
    return answer.get("text", ""), answer.get("error", "")


def _via_http(messages, max_tokens, temperature):
    url = os.environ["EVOSEARCH_AGENT_BASE_URL"].rstrip("/") + "/chat/completions"
    body = json.dumps({"model": os.environ.get("EVOSEARCH_AGENT_MODEL", ""),
                       "messages": messages, "max_tokens": max_tokens,
                       "temperature": temperature}).encode()
    headers = {"Content-Type": "application/json"}
    key = os.environ.get("EVOSEARCH_AGENT_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=300) as r:
            data = json.loads(r.read().decode())
        return data["choices"][0]["message"]["content"] or "", ""
    except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
        return "", f"LLM request failed: {exc}"
