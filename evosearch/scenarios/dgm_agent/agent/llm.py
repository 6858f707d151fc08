"""Talk to the LLM through the pipes the evosearch sandbox hands over (no keys, no network)."""

import json
import os


class LLMUnavailable(RuntimeError):
    """No proxy pipes in the environment (the agent runs outside evosearch's sandbox)."""


def chat(messages, max_tokens=512, temperature=0.7):
    """Send a chat (list of {"role", "content"}) and return (text, error)."""
    try:
        req_fd = int(os.environ["EVOSEARCH_LLM_REQ_FD"])
        resp_fd = int(os.environ["EVOSEARCH_LLM_RESP_FD"])
    except (KeyError, ValueError) as exc:
        raise LLMUnavailable("EVOSEARCH_LLM_REQ_FD / EVOSEARCH_LLM_RESP_FD not set") from exc
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
