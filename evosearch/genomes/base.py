"""The ``Genome`` protocol and the registry that turns stored genomes back into objects."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Protocol, runtime_checkable


@runtime_checkable
class Genome(Protocol):
    """What every genome kind provides.

    A genome is an immutable value. It serialises to JSON for the run store (so any
    Parquet reader can see it), and has a content fingerprint used for de-duplication
    and evaluation caching.
    """

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict that ``from_json`` turns back into an equal genome."""
        ...

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Genome:
        """Rebuild a genome stored with ``to_json``."""
        ...

    def fingerprint(self) -> str:
        """A hex digest of the content; equal genomes have equal fingerprints."""
        ...

    def summary(self) -> str:
        """A one-line human description for tables and trees."""
        ...


_GENOME_KINDS: dict[str, type] = {}


def genome_kind(cls: type) -> type:
    """Class decorator registering a genome class under its ``kind`` for deserialisation.

    Raises:
        TypeError: if the class lacks a ``kind`` or the protocol methods.
        ValueError: if another class already holds that kind.
    """
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__qualname__} needs a non-empty class attribute 'kind'")
    missing = [m for m in ("to_json", "from_json", "fingerprint", "summary") if not hasattr(cls, m)]
    if missing:
        raise TypeError(f"genome class {cls.__qualname__} lacks {missing}")
    existing = _GENOME_KINDS.get(kind)
    if existing is not None and existing is not cls:
        if (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(
                f"genome kind {kind!r} is already registered by {existing.__module__}."
                f"{existing.__qualname__}"
            )
    _GENOME_KINDS[kind] = cls
    return cls


def genome_from_json(kind: str, data: dict[str, Any] | str) -> Genome:
    """Rebuild a stored genome of the given kind.

    Raises:
        KeyError: if no genome class is registered for ``kind``.
    """
    _import_builtin_kinds()
    try:
        cls = _GENOME_KINDS[kind]
    except KeyError:
        raise KeyError(
            f"unknown genome kind {kind!r}; known kinds: {sorted(_GENOME_KINDS)}"
        ) from None
    if isinstance(data, str):
        data = json.loads(data)
    return cls.from_json(data)


def genome_kinds() -> dict[str, type]:
    _import_builtin_kinds()
    return dict(_GENOME_KINDS)


def content_hash(payload: Any) -> str:
    """A stable sha256 over a JSON-able payload (keys sorted)."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(data.encode()).hexdigest()


def _import_builtin_kinds() -> None:
    # Explicit list, no import-time side effects hidden in __init__ (STYLE.md 4).
    import importlib

    for module in _BUILTIN_GENOME_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional genome whose dependencies are missing
            pass


_BUILTIN_GENOME_MODULES = [
    "evosearch.genomes.vector",
    "evosearch.genomes.text",
    "evosearch.genomes.code",
    "evosearch.genomes.weights",
    "evosearch.genomes.seedchain",
]
