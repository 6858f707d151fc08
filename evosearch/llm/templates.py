"""Prompt templates: package data in ``evosearch/llm/prompts/*.txt``, one source each.

Templates use ``{name}`` fields (``str.format`` syntax, no other braces). ``render`` checks
that exactly the template's fields are given, so a renamed field fails loudly in tests.
"""

from __future__ import annotations

import functools
import importlib.resources
import string
from typing import Any


class TemplateError(KeyError):
    """A template that does not exist, or fields that do not match it."""


@functools.cache
def load(name: str) -> str:
    """The text of template ``name`` (without ``.txt``).

    Raises:
        TemplateError: naming the known templates when ``name`` does not exist.
    """
    root = importlib.resources.files("evosearch.llm") / "prompts"
    path = root / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".txt"))
        raise TemplateError(f"no prompt template {name!r}; known: {known}")
    return path.read_text(encoding="utf-8")


def fields(name: str) -> set[str]:
    """The named fields of template ``name``."""
    return {f for _, f, _, _ in string.Formatter().parse(load(name)) if f}


def render(name: str, **values: Any) -> str:
    """Fill template ``name`` with ``values`` (every field, nothing else).

    Raises:
        TemplateError: if a field is missing or an unknown one is given.
    """
    want = fields(name)
    missing, extra = want - set(values), set(values) - want
    if missing or extra:
        raise TemplateError(
            f"template {name!r} takes fields {sorted(want)}; missing {sorted(missing)}, "
            f"unexpected {sorted(extra)}"
        )
    return load(name).format(**{k: str(v) for k, v in values.items()}).strip() + "\n"
