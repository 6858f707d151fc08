"""Prompt templates: package data with one source, rendered with named fields."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def template(name: str) -> str:
    """The text of ``evosearch/llm/prompts/<name>.txt``.

    Raises:
        FileNotFoundError: naming the available templates.
    """
    path = resources.files(__package__) / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.name[:-4] for p in resources.files(__package__).iterdir()
                       if p.name.endswith(".txt"))
        raise FileNotFoundError(f"no prompt template {name!r}; available: {known}")
    return path.read_text()


def render(name: str, **fields: object) -> str:
    """Render a template with ``str.format``-style named fields (all must be given)."""
    return template(name).format(**fields)
