"""Diffs between two genomes, generic over genome kinds.

Works on the JSON form every genome has (``Genome.to_json()``), so a genome kind the UI has
never heard of still diffs sensibly:

- strings are diffed as text (``difflib`` unified diff, one entry per line),
- lists of numbers of equal length are diffed per coordinate (vectors, weight lists),
- dicts are walked key by key (weight recipes, configs, multi-file code),
- anything else is reported as ``old`` → ``new``.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

MAX_TEXT_LINES = 4000
MAX_DELTAS = 500


def genome_diff(parent: Any, child: Any, path: str = "") -> list[dict[str, Any]]:
    """The changes from ``parent`` to ``child`` as a flat list of entries.

    Args:
        parent: The parent's genome JSON (``to_json()`` output), or None when there is none.
        child: The child's genome JSON.
        path: Key path prefix (used in recursion).

    Returns:
        Entries, each a dict with ``path`` and ``type``, one of ``text`` (``lines``: list of
        ``[tag, line]`` with tag ``" "``, ``"+"``, ``"-"`` or ``"@"``), ``vector``
        (``deltas``: ``[index, old, new]`` for changed coordinates, ``changed``, ``size``,
        ``l2``), ``value`` (``old``, ``new``), ``added`` (``new``) or ``removed`` (``old``).
        Unchanged parts produce no entry.
    """
    if parent == child:
        return []
    if isinstance(parent, dict) and isinstance(child, dict):
        out: list[dict[str, Any]] = []
        for key in _ordered_keys(parent, child):
            sub = f"{path}.{key}" if path else str(key)
            if key not in parent:
                out.append({"path": sub, "type": "added", "new": child[key]})
            elif key not in child:
                out.append({"path": sub, "type": "removed", "old": parent[key]})
            else:
                out.extend(genome_diff(parent[key], child[key], sub))
        return out
    if isinstance(parent, str) and isinstance(child, str):
        return [{"path": path, "type": "text", "lines": text_diff(parent, child)}]
    if _is_numbers(parent) and _is_numbers(child) and len(parent) == len(child):
        return [vector_diff(parent, child, path)]
    if (
        isinstance(parent, list)
        and isinstance(child, list)
        and len(parent) == len(child)
        and any(isinstance(x, dict | list | str) for x in parent + child)
    ):
        out = []
        for i, (a, b) in enumerate(zip(parent, child)):
            out.extend(genome_diff(a, b, f"{path}[{i}]"))
        return out
    return [{"path": path, "type": "value", "old": parent, "new": child}]


def text_diff(old: str, new: str, context: int = 3) -> list[list[str]]:
    """A unified line diff of two texts as ``[tag, line]`` pairs (no file headers)."""
    lines: list[list[str]] = []
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), lineterm="", n=context, fromfile="", tofile=""
    )
    for i, line in enumerate(diff):
        if i < 2:  # the ---/+++ header
            continue
        if len(lines) >= MAX_TEXT_LINES:
            lines.append(["@", f"... diff truncated at {MAX_TEXT_LINES} lines"])
            break
        tag = line[:1] if line[:1] in "+- " else "@"
        lines.append([tag, line if tag == "@" else line[1:]])
    if not lines and old != new:  # differs only in trailing newlines / whitespace at ends
        lines = [["-", repr(old[-40:])], ["+", repr(new[-40:])]]
    return lines


def vector_diff(old: list[float], new: list[float], path: str = "") -> dict[str, Any]:
    """Per-coordinate deltas of two equal-length numeric lists (changed coordinates only)."""
    deltas = []
    changed = 0
    sq = 0.0
    for i, (a, b) in enumerate(zip(old, new)):
        if a == b or (_nan(a) and _nan(b)):
            continue
        changed += 1
        if isinstance(a, int | float) and isinstance(b, int | float):
            d = float(b) - float(a)
            if math.isfinite(d):
                sq += d * d
        if len(deltas) < MAX_DELTAS:
            deltas.append([i, a, b])
    return {
        "path": path,
        "type": "vector",
        "size": len(old),
        "changed": changed,
        "l2": math.sqrt(sq),
        "deltas": deltas,
    }


def _ordered_keys(a: dict, b: dict) -> list:
    keys = list(a)
    keys += [k for k in b if k not in a]
    return keys


def _is_numbers(x: Any) -> bool:
    return isinstance(x, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in x
    )


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def diff_as_text(entries: list[dict[str, Any]], limit: int = 200) -> str:
    """``genome_diff`` entries as plain text (unified-diff style lines), for terminals."""
    out: list[str] = []
    for e in entries:
        kind, path = e["type"], e["path"] or "genome"
        if kind == "text":
            out.append(f"--- {path}")
            out.extend(f"{tag}{line}" if tag != "@" else f"@@ {line}" for tag, line in e["lines"])
        elif kind == "vector":
            out.append(f"~ {path}: {e['changed']} of {e['size']} changed, L2 {e['l2']:.4g}")
        elif kind == "added":
            out.append(f"+ {path}: {_short_json(e['new'])}")
        elif kind == "removed":
            out.append(f"- {path}: {_short_json(e['old'])}")
        else:
            out.append(f"~ {path}: {_short_json(e['old'])} -> {_short_json(e['new'])}")
    if len(out) > limit:
        out = out[:limit] + [f"... ({len(out) - limit} more lines)"]
    return "\n".join(out)


def _short_json(value: Any, limit: int = 120) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
