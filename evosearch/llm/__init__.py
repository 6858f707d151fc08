"""LLM backends behind one protocol."""

from evosearch.llm.base import (
    Completion,
    LLMBackend,
    LLMRequest,
    Message,
    backend_from_config,
    set_cache_dir,
)
from evosearch.llm.cache import CachedBackend, ResponseCache

__all__ = [
    "CachedBackend",
    "Completion",
    "LLMBackend",
    "LLMRequest",
    "Message",
    "ResponseCache",
    "backend_from_config",
    "set_cache_dir",
]
