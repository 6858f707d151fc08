"""LLM backends behind one protocol."""

from evosearch.llm.base import Completion, LLMBackend, LLMRequest, Message
from evosearch.llm.cache import CachedBackend, ResponseCache
from evosearch.llm.pool import LLMPool, backend_from_config, clear_backends, set_cache_dir

__all__ = [
    "CachedBackend",
    "Completion",
    "LLMBackend",
    "LLMPool",
    "LLMRequest",
    "Message",
    "ResponseCache",
    "backend_from_config",
    "clear_backends",
    "set_cache_dir",
]
