"""LLM backends behind one protocol."""

from evosearch.llm.base import Completion, LLMBackend, LLMRequest, Message

__all__ = ["Completion", "LLMBackend", "LLMRequest", "Message"]
