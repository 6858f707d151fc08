"""Registration checks per plugin family: signatures, required methods, the family's base.

``registry`` runs the family's check when a plugin registers (decorator, entry point or a
``module:attribute`` reference), so a plugin that does not fit fails when it is loaded.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _check_callable_params(names: tuple[str, ...]) -> Callable[[str, Any, dict], None]:
    def check(name: str, obj: Any, meta: dict) -> None:
        target = obj.__call__ if isinstance(obj, type) else obj
        if not callable(obj):
            raise TypeError(f"{name!r}: {obj!r} is not callable")
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            return
        params = [
            p
            for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(params) < len(names):
            raise TypeError(
                f"{name!r}: {_qualname(obj)} must accept ({', '.join(names)}); "
                f"its signature is {sig}"
            )

    return check


def _check_fitness(name: str, obj: Any, meta: dict) -> None:
    _check_callable_params(("genome_or_genomes", "ctx"))(name, obj, meta)


def _check_class(*methods: str) -> Callable[[str, Any, dict], None]:
    def check(name: str, obj: Any, meta: dict) -> None:
        if not isinstance(obj, type):
            raise TypeError(f"{name!r}: expected a class, got {obj!r}")
        missing = [m for m in methods if not callable(getattr(obj, m, None))]
        if missing:
            raise TypeError(f"{name!r}: {_qualname(obj)} lacks {missing}")

    return check


def _check_operator(name: str, obj: Any, meta: dict) -> None:
    _check_class("__call__")(name, obj, meta)
    _check_callable_params(("parents", "rng"))(name, obj, meta)
    if not isinstance(getattr(obj, "arity", None), int):
        raise TypeError(f"operator {name!r}: {_qualname(obj)} needs an int class attribute 'arity'")


def _derives(
    base: str, check: Callable[[str, Any, dict], None]
) -> Callable[[str, Any, dict], None]:
    """``check``, and a class must derive from its family's base (``module:Class``).

    The base declares the capabilities the engine reads (``uses_context``, ``islands`` ...)
    with their defaults (STYLE.md 17); ``evosearch.api`` re-exports every base.
    """

    def checker(name: str, obj: Any, meta: dict) -> None:
        if isinstance(obj, type):
            # the family's base by name, as the registry's own table names plugins: this
            # module sits below every plugin family and imports none of them statically
            module, _, attr = base.partition(":")
            cls = getattr(importlib.import_module(module), attr)
            if not issubclass(obj, cls):
                raise TypeError(
                    f"{name!r}: {_qualname(obj)} must derive from evosearch.api.{cls.__name__}, "
                    f"which declares what the engine may ask of it"
                )
        check(name, obj, meta)

    return checker
