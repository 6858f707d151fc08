"""Check every LLM backend a config names before a run writes anything.

A run whose model or server is missing should fail in seconds with one line, not after
generation 0 with a half-written run directory. ``check_backends`` walks the config for
``{name: <llm backend>, params: {...}}`` blocks (under any key: ``fitness.params.llm``,
``strategy.params.operators[i].params.llm`` ...) and checks each distinct one:

- ``transformers``: the checkpoint directory exists and its ``config.json`` loads
  (``AutoConfig``, no weights read);
- ``openai``: the server answers ``GET <base_url>/models`` within a few seconds.

Other backends (in-process ones such as ``evollm_tiny``) need nothing outside the process.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from evosearch.config import ConfigError

PROBE_TIMEOUT = 5.0
OFFLINE_HINT = "docs/llm-backends.md: serve a local checkpoint with 'transformers serve'"


def find_backends(node: Any, where: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(config key, backend name, params)`` for every LLM backend block in ``node``."""
    if isinstance(node, dict):
        name = node.get("ref") or node.get("name")
        if name in ("openai", "transformers") and isinstance(node.get("params", {}), dict):
            yield where or "llm", name, dict(node.get("params") or {})
            return
        for key, value in node.items():
            yield from find_backends(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from find_backends(value, f"{where}[{i}]")


def check_backends(config: Any) -> None:
    """Raise ``ConfigError`` (one line) for the first backend the config names that is missing.

    ``config`` is a ``RunConfig`` or its dict form.
    """
    raw = config if isinstance(config, dict) else _as_dict(config)
    seen: set[str] = set()
    for where, name, params in find_backends(raw):
        key = json.dumps([name, params], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        if name == "openai":
            _check_server(where, params)
        else:
            _check_checkpoint(where, params)


def _as_dict(config: Any) -> dict[str, Any]:
    import yaml

    from evosearch.config import dump_config

    return yaml.safe_load(dump_config(config))


def _check_checkpoint(where: str, params: dict[str, Any]) -> None:
    path = params.get("path")
    if not path:
        raise ConfigError(f"{where}.params.path: the transformers backend needs a checkpoint path")
    directory = os.path.expanduser(str(path))
    if not os.path.isdir(directory):
        raise ConfigError(
            f"{where}.params.path: checkpoint directory {directory!r} does not exist "
            f"(the transformers backend needs a local model; {OFFLINE_HINT})"
        )
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(directory, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loader error is the same one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{where}.params.path: {directory!r} is not a loadable transformers checkpoint "
            f"({first[:200]})"
        ) from None


def _check_server(where: str, params: dict[str, Any]) -> None:
    base = str(params.get("base_url", "")).rstrip("/")
    model = params.get("model", "")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.params.base_url: must be an http(s) URL, got {base!r}")
    url = f"{base}/models"
    request = urllib.request.Request(url, headers=_auth(params))
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:  # noqa: S310
            response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        # Any answer means a server is there (401/403: the key is the user's business;
        # transformers serve answers 500 here without an HF cache directory). A 404 means
        # the URL is wrong, typically a base_url without its /v1.
        if exc.code != 404:
            return
        raise ConfigError(
            f"{where}.params.base_url: {base} answered GET /models with HTTP 404 "
            f"(is the API root, e.g. .../v1, missing? model {model!r})"
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(
            f"{where}: no LLM server answers at {base} ({reason}); start one serving "
            f"{model!r}, or point {where}.params.base_url at one ({OFFLINE_HINT})"
        ) from None


def _auth(params: dict[str, Any]) -> dict[str, str]:
    key = os.environ.get(str(params.get("api_key_env", "OPENAI_API_KEY")), "")
    return {"Authorization": f"Bearer {key}"} if key else {}
