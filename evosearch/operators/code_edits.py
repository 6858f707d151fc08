"""Parsing and applying LLM code edits: SEARCH/REPLACE diff blocks and whole files.

The diff format (as in OpenEvolve / aider), multi-file through ``FILE:`` lines::

    FILE: helpers/geometry.py
    <<<<<<< SEARCH
    exact lines of the current file
    =======
    replacement lines
    >>>>>>> REPLACE

A block applies to the file named by the closest ``FILE:`` line above it, or to the entry
file when there is none. SEARCH text must match exactly; the first occurrence is replaced.
An empty SEARCH creates a new file. Any problem raises ``EditError`` with a readable reason.
"""

from __future__ import annotations

import dataclasses
import re

from evosearch.genomes.code import CodeGenome, check_path

_BLOCK = re.compile(
    r"^[ \t]*<{5,}[ \t]*SEARCH[^\n]*\n(.*?)"
    r"^[ \t]*={5,}[ \t]*\n(.*?)"
    r"^[ \t]*>{5,}[ \t]*REPLACE[^\n]*$",
    re.MULTILINE | re.DOTALL,
)
_FILE = re.compile(r"^[ \t#*>]*FILE:[ \t]*[`'\"*]*([^\s`'\"*]+)[`'\"*]*[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^```[^\n`]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class EditError(ValueError):
    """An LLM answer that cannot be parsed or applied."""


@dataclasses.dataclass(frozen=True)
class DiffBlock:
    """One SEARCH/REPLACE block."""

    path: str | None
    search: str
    replace: str


def _file_at(markers: list[tuple[int, str]], pos: int) -> str | None:
    name = None
    for start, path in markers:
        if start > pos:
            break
        name = path
    return name


def _markers(text: str) -> list[tuple[int, str]]:
    out = []
    for m in _FILE.finditer(text):
        try:
            out.append((m.start(), check_path(m.group(1))))
        except ValueError as exc:
            raise EditError(f"bad FILE line {m.group(0).strip()!r}: {exc}") from None
    return out


def parse_diff(text: str) -> list[DiffBlock]:
    """All SEARCH/REPLACE blocks of an answer, in order.

    Raises:
        EditError: when the answer holds no complete block.
    """
    markers = _markers(text)
    blocks = [
        DiffBlock(_file_at(markers, m.start()), m.group(1), m.group(2))
        for m in _BLOCK.finditer(text)
    ]
    if not blocks:
        hint = " (a block was started but not closed)" if "<<<<<<<" in text else ""
        raise EditError(f"no complete SEARCH/REPLACE block in the answer{hint}")
    return blocks


def apply_diff(genome: CodeGenome, blocks: list[DiffBlock]) -> CodeGenome:
    """Apply blocks in order to a program.

    Raises:
        EditError: naming the block and file when a SEARCH text is not found, a file is
            unknown, or an empty SEARCH targets an existing file.
    """
    files = dict(genome.files)
    for n, block in enumerate(blocks, 1):
        path = block.path or genome.entry_file
        if not block.search.strip():
            if path in files:
                raise EditError(
                    f"block {n}: empty SEARCH for existing file {path!r}; SEARCH must quote "
                    "the lines to replace (empty SEARCH only creates new files)"
                )
            files[path] = block.replace
            continue
        if path not in files:
            raise EditError(f"block {n}: file {path!r} is not in the program {sorted(files)}")
        current = files[path]
        if block.search not in current:
            first = block.search.strip().splitlines()[0][:80]
            raise EditError(
                f"block {n}: SEARCH text not found in {path!r} (first line: {first!r}); "
                "it must match the current file exactly"
            )
        files[path] = current.replace(block.search, block.replace, 1)
    return CodeGenome(files, genome.entry)


def parse_files(text: str, genome: CodeGenome) -> dict[str, str]:
    """Whole files from fenced code blocks, named by a ``FILE:`` line above each.

    Unnamed blocks belong to the entry file; when several are unnamed, the longest wins
    (answers often show a snippet before the full file).

    Raises:
        EditError: when the answer holds no fenced code block.
    """
    markers = _markers(text)
    named: dict[str, str] = {}
    unnamed: list[str] = []
    last_marker = -1
    for m in _FENCE.finditer(text):
        body = m.group(1)
        mine = [(s, p) for s, p in markers if last_marker < s < m.start()]
        if mine:
            named[mine[-1][1]] = body
        else:
            unnamed.append(body)
        last_marker = m.end()
    if not named and not unnamed:
        raise EditError("no ```fenced``` code block in the answer")
    if unnamed and genome.entry_file not in named:
        named[genome.entry_file] = max(unnamed, key=len)
    return named


def check_syntax(files: dict[str, str]) -> None:
    """Compile (never run) every ``.py`` file.

    Raises:
        EditError: with the file, line and message of the first syntax error.
    """
    for path, text in files.items():
        if not path.endswith(".py"):
            continue
        try:
            compile(text, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise EditError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
        except ValueError as exc:  # NUL bytes
            raise EditError(f"{path}: cannot compile: {exc}") from None
