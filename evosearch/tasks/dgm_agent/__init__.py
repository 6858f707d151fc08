"""The Darwin Gödel Machine's initial coding agent, shipped as package data.

The files under ``agent/`` are the *genome* of the first DGM individual: the DGM evolves
them by letting an agent edit its own copy. They import only the standard library, talk to
the LLM through the sandbox's proxy pipes and never import evosearch.
"""

from __future__ import annotations

import pathlib

AGENT_DIR = pathlib.Path(__file__).with_name("agent")
ENTRY = "agent/main.py:solve"


def initial_agent_files() -> dict[str, str]:
    """The initial agent's source files (path → text), relative to the package root."""
    return {
        f"agent/{p.name}": p.read_text()
        for p in sorted(AGENT_DIR.glob("*.py"))
    }
