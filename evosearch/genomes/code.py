"""``CodeGenome``: a program as files (path → text) with an entry point.

Paths are relative POSIX paths inside the program's directory: no absolute paths, no ``..``,
no empty or hidden-control segments, so writing a genome to a sandbox directory can never
escape it.
"""

from __future__ import annotations

import dataclasses
import pathlib
import types
from collections.abc import Mapping
from typing import Any, ClassVar

from evosearch.genomes.base import content_hash, genome_kind


def check_path(path: str) -> str:
    """Validate one file path of a program and return it normalised.

    Raises:
        ValueError: for an absolute path, a ``..`` segment, a backslash, or an empty path.
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"program file path must be a non-empty string, got {path!r}")
    if "\\" in path or "\0" in path:
        raise ValueError(f"program file path {path!r} may not contain backslashes or NUL")
    if path.startswith("/") or pathlib.PurePosixPath(path).is_absolute():
        raise ValueError(f"program file path {path!r} must be relative, not absolute")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValueError(f"program file path {path!r} may not contain '..' or be empty")
    return "/".join(parts)


@genome_kind
@dataclasses.dataclass(frozen=True, eq=False)
class CodeGenome:
    """A multi-file program.

    Attributes:
        files: Relative path → file text (read-only mapping, sorted by path).
        entry: ``file.py:function`` that evaluators call (the file must be in ``files``).
    """

    kind: ClassVar[str] = "code"

    files: Mapping[str, str]
    entry: str = "main.py:run"

    def __post_init__(self) -> None:
        if not isinstance(self.files, Mapping) or not self.files:
            raise ValueError("CodeGenome needs at least one file (a mapping path -> text)")
        clean: dict[str, str] = {}
        for path, text in self.files.items():
            if not isinstance(text, str):
                raise TypeError(f"file {path!r}: text must be a str, got {type(text).__name__}")
            norm = check_path(path)
            if norm in clean:
                raise ValueError(f"file {path!r} appears twice (as {norm!r})")
            clean[norm] = text
        file, sep, func = self.entry.partition(":")
        if not sep or not func.isidentifier():
            raise ValueError(f"entry {self.entry!r} must look like 'main.py:run'")
        file = check_path(file)
        if file not in clean:
            raise ValueError(f"entry file {file!r} is not among the files {sorted(clean)}")
        object.__setattr__(self, "files", types.MappingProxyType(dict(sorted(clean.items()))))
        object.__setattr__(self, "entry", f"{file}:{func}")

    @property
    def entry_file(self) -> str:
        return self.entry.partition(":")[0]

    @property
    def entry_function(self) -> str:
        return self.entry.partition(":")[2]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CodeGenome) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __reduce__(self) -> tuple[Any, ...]:  # mappingproxy does not pickle; a dict does
        return (CodeGenome, (dict(self.files), self.entry))

    def with_files(self, updates: Mapping[str, str]) -> CodeGenome:
        """A genome with some files replaced or added (same entry point)."""
        return CodeGenome({**self.files, **updates}, self.entry)

    def write_to(self, directory: str | pathlib.Path) -> list[pathlib.Path]:
        """Write every file under ``directory`` (created as needed); returns the paths."""
        root = pathlib.Path(directory)
        written = []
        for path, text in self.files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(target)
        return written

    @classmethod
    def from_dir(cls, directory: str | pathlib.Path, entry: str = "main.py:run") -> CodeGenome:
        """Load every ``*.py`` file under ``directory`` (recursively) as a program.

        Raises:
            FileNotFoundError: if the directory does not exist or holds no Python file.
        """
        root = pathlib.Path(directory)
        if not root.is_dir():
            raise FileNotFoundError(f"program directory not found: {root}")
        files = {
            p.relative_to(root).as_posix(): p.read_text()
            for p in sorted(root.rglob("*.py"))
            if "__pycache__" not in p.parts
        }
        if not files:
            raise FileNotFoundError(f"no *.py files in program directory {root}")
        return cls(files, entry)

    def to_json(self) -> dict[str, Any]:
        return {"files": dict(self.files), "entry": self.entry}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeGenome:
        return cls(dict(data["files"]), data.get("entry", "main.py:run"))

    def fingerprint(self) -> str:
        return content_hash(["code", self.entry, dict(self.files)])

    def summary(self) -> str:
        lines = sum(t.count("\n") + (not t.endswith("\n")) for t in self.files.values())
        return f"code[{len(self.files)} file(s), {lines} lines, entry {self.entry}]"
