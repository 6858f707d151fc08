"""A minimal coding agent: an LLM loop with file and shell tools (stdlib only)."""
