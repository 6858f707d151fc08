"""Typed plugin registries, one per family, filled by decorators and entry points.

Each family (``operator``, ``selector``, ``fitness``, ``archive``, ``strategy``,
``initializer``, ``executor``, ``llm``) has one ``Registry``. Built-in plugins register with a
decorator in the module that defines them (no registration hidden in ``__init__`` files).
The registry knows every built-in name from a static table (``builtin_plugins.BUILTINS``:
name -> ``module:attribute``) and imports a plugin's module only when it is looked up, so a
run imports only what its config names. Third-party packages register through the
entry-point group ``evosearch.<family>`` (also loaded on lookup). An object can also be
named directly as ``package.module:attribute``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from evosearch.builtin_plugins import ALIASES, BUILTINS
from evosearch.plugin_checks import (
    _check_callable_params,
    _check_class,
    _check_fitness,
    _check_operator,
    _derives,
)
from evosearch.plugin_params import POPULATION_SIZE as POPULATION_SIZE  # re-exported
from evosearch.plugin_params import ConfigDeprecationWarning as ConfigDeprecationWarning
from evosearch.plugin_params import RegistryError as RegistryError
from evosearch.plugin_params import accepted_params as accepted_params
from evosearch.plugin_params import deprecated as deprecated
from evosearch.plugin_params import instantiate as instantiate

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered plugin.

    Attributes:
        family: The registry family, e.g. ``operator``.
        name: The name configs use.
        obj: The class or function.
        meta: Family-specific metadata (``batched`` for fitness, ``arity`` ...).
        origin: ``builtin``, ``entry-point`` or ``reference``.
    """

    family: str
    name: str
    obj: T
    meta: dict[str, Any]
    origin: str = "builtin"

    def create(self, params: dict[str, Any] | None = None, *, key: str = "params") -> Any:
        """Instantiate a class-based plugin with validated parameters.

        Raises:
            RegistryError: with the key path and the reason, when a parameter is wrong.
        """
        return instantiate(self.obj, params or {}, key=key, what=f"{self.family} {self.name!r}")


class Registry(Generic[T]):
    """A named family of plugins, loaded lazily.

    Built-in names come from ``builtin_plugins.BUILTINS`` and entry-point names from the
    group ``evosearch.<family>``; neither is imported until ``get`` asks for it.

    Args:
        family: The family name; its entry-point group is ``evosearch.<family>``.
        check: Called as ``check(name, obj, meta)`` at registration; raises ``TypeError``
            when the object does not fit the family's protocol.
        builtins: Built-in names and the ``module:attribute`` that registers each.
        aliases: Old names (deprecated) and the name each now has; looking one up works and
            warns with ``ConfigDeprecationWarning`` naming the new name.

    The registry object owns all its state: the entries its decorator registered. The
    installed entry points are read on each lookup that needs them, never cached for the
    process, so a plugin package installed after import is found.
    """

    def __init__(
        self,
        family: str,
        check: Callable[[str, Any, dict], None] | None = None,
        builtins: Mapping[str, str] | None = None,
        aliases: Mapping[str, str] | None = None,
    ):
        self.family = family
        self.group = f"evosearch.{family}"
        self._check = check
        self._builtins: dict[str, str] = dict(builtins or {})
        self._aliases: dict[str, str] = dict(aliases or {})
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``.

        Raises:
            ValueError: if ``name`` is taken by a different object.
            TypeError: if the object does not fit the family's protocol.
        """

        def decorator(obj: T) -> T:
            self.add(name, obj, **meta)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, origin: str = "builtin", **meta: Any) -> Entry[T]:
        if not name or not isinstance(name, str):
            raise TypeError(f"{self.family} name must be a non-empty string, got {name!r}")
        existing = self._entries.get(name)
        taken = existing.obj if existing is not None else None
        if taken is not None and _qualname(taken) != _qualname(obj):
            raise ValueError(
                f"{self.family} {name!r} is already registered by {_qualname(taken)}; "
                f"cannot register {_qualname(obj)} under the same name"
            )
        builtin = self._builtins.get(name)
        if builtin is not None and origin == "builtin" and _reference(obj) != builtin:
            raise ValueError(
                f"{self.family} {name!r} is a built-in name ({builtin}); "
                f"cannot register {_qualname(obj)} under the same name"
            )
        if self._check is not None:
            self._check(name, obj, meta)
        entry = Entry(self.family, name, obj, dict(meta), origin)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> Entry[T]:
        """Look up a plugin by registered name, entry point, or ``module:attribute``.

        Imports only the module that defines it.

        Raises:
            RegistryError: naming the known plugins when nothing matches, or the missing
                package when a built-in plugin's optional dependency is not installed.
        """
        if name in self._entries:
            return self._entries[name]
        if name in self._builtins:
            return self._load_builtin(name)
        if name in self._aliases:
            new = self._aliases[name]
            deprecated(
                f"{self.family} {name!r} is a deprecated name: write {new!r} "
                f"(the old name goes in the next version)"
            )
            return self.get(new)
        if ":" not in name:
            ep = self._entry_point_table().get(name)
            if ep is not None:
                try:
                    return self._load_entry_point(ep)
                except Exception as exc:
                    raise RegistryError(
                        f"could not load {self.family} plugin {name!r} ({ep.value}): {exc}"
                    ) from None
            raise RegistryError(
                f"unknown {self.family} {name!r}; known: {', '.join(self.names()) or 'none'}"
                f" (or give 'package.module:attribute', or register one under the entry-point "
                f"group '{self.group}')"
            )
        obj = resolve_reference(name)
        for entry in self._entries.values():  # a decorated object named by reference
            if entry.obj is obj:
                return entry
        meta = dict(getattr(obj, "__evosearch_meta__", {}))
        if self._check is not None:
            try:
                self._check(name, obj, meta)
            except TypeError as exc:
                raise RegistryError(str(exc)) from None
        return Entry(self.family, name, obj, meta, "reference")

    def names(self) -> list[str]:
        """Every known name (built-in, entry point, registered), importing nothing.

        Deprecated aliases are not listed (``aliases()`` has them).
        """
        return sorted(set(self._builtins) | set(self._entries) | set(self._entry_point_table()))

    def aliases(self) -> dict[str, str]:
        """Deprecated names mapped to the names that replace them."""
        return dict(self._aliases)

    def builtin_target(self, name: str) -> str | None:
        """The ``module:attribute`` of a built-in plugin, or None."""
        return self._builtins.get(name)

    def __iter__(self) -> Iterator[Entry[T]]:
        """Every loadable plugin of the family (this imports them all)."""
        for name in sorted(self._builtins):
            if name not in self._entries:
                with contextlib.suppress(RegistryError):  # an optional dependency is missing
                    self._load_builtin(name)
        for name, ep in self._entry_point_table().items():
            if name in self._entries:
                continue
            try:
                self._load_entry_point(ep)
            except Exception as exc:  # a broken plugin must not take the others down
                warnings.warn(
                    f"could not load {self.family} plugin {name!r} ({ep.value}): {exc}",
                    stacklevel=2,
                )
        return iter(list(self._entries.values()))

    def __contains__(self, name: str) -> bool:
        if ":" not in name:
            return (
                name in self._entries
                or name in self._builtins
                or name in self._aliases
                or (name in self._entry_point_table())
            )
        try:
            self.get(name)
        except RegistryError:
            return False
        return True

    def _load_builtin(self, name: str) -> Entry[T]:
        target = self._builtins[name]
        module = target.partition(":")[0]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            if isinstance(exc, ModuleNotFoundError) and _ours(exc.name):
                raise
            missing = getattr(exc, "name", None) or str(exc)
            raise RegistryError(
                f"{self.family} {name!r} needs {missing!r}, which cannot be imported ({exc}); "
                f"install it to use this plugin"
            ) from None
        entry = self._entries.get(name)
        if entry is None:
            raise RegistryError(
                f"{self.family} {name!r}: the built-in table names {target}, but importing "
                f"{module} did not register it"
            )
        return entry

    def _entry_point_table(self) -> dict[str, importlib.metadata.EntryPoint]:
        """The installed entry points of the family, read now (built-in names win)."""
        eps = importlib.metadata.entry_points(group=self.group)
        return {ep.name: ep for ep in eps if ep.name not in self._builtins}

    def _load_entry_point(self, ep: importlib.metadata.EntryPoint) -> Entry[T]:
        obj = ep.load()
        if ep.name in self._entries:  # loading the module registered it under this name
            return self._entries[ep.name]
        already = [e for e in self._entries.values() if e.obj is obj]
        meta = dict(already[0].meta) if already else dict(getattr(obj, "__evosearch_meta__", {}))
        return self.add(ep.name, obj, origin="entry-point", **meta)


def resolve_reference(ref: str) -> Any:
    """Import ``package.module:attribute[.attribute]``.

    Raises:
        RegistryError: if the module or attribute does not exist.
    """
    module_name, _, attr_path = ref.partition(":")
    if not module_name or not attr_path:
        raise RegistryError(f"reference {ref!r} must look like 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"cannot import module {module_name!r} of {ref!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistryError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _reference(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


def _family(family: str, check: Callable[[str, Any, dict], None]) -> Registry[Any]:
    """The registry of a family, with its built-in names and deprecated aliases."""
    return Registry(family, check, BUILTINS[family], ALIASES.get(family))


operators = _family("operator", _derives("evosearch.operators.base:Operator", _check_operator))
selectors = _family(
    "selector",
    _derives(
        "evosearch.operators.base:Selector", _check_callable_params(("individuals", "n", "rng"))
    ),
)
initializers = _family(
    "initializer",
    _derives("evosearch.operators.base:Initializer", _check_callable_params(("n", "rng"))),
)
fitnesses = _family("fitness", _check_fitness)
archives = _family(
    "archive", _derives("evosearch.archives.base:Archive", _check_class("add", "members"))
)
strategies = _family(
    "strategy", _derives("evosearch.strategies.base:Strategy", _check_class("ask", "tell"))
)
executors = _family(
    "executor", _derives("evosearch.executors.base:Executor", _check_class("evaluate"))
)
llms = _family("llm", _derives("evosearch.llm.base:LLMBackend", _check_class("generate")))

REGISTRIES: dict[str, Registry[Any]] = {
    r.family: r
    for r in (operators, selectors, initializers, fitnesses, archives, strategies, executors, llms)
}


def builtin_modules() -> list[str]:
    """The modules that define built-in plugins (from ``builtin_plugins.BUILTINS``)."""
    found = {t.partition(":")[0] for table in BUILTINS.values() for t in table.values()}
    return sorted(found)


def load_builtins() -> None:
    """Import every built-in plugin module now (skipping those whose dependencies are missing).

    Lookups never call this (they import only the module of the plugin asked for); it is
    for code that wants everything loaded up front, e.g. before forking worker processes.
    """
    for module in builtin_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if _ours(exc.name):
                raise


def _ours(module: str | None) -> bool:
    """Whether a module that failed to import is part of evosearch (a bug, not a missing extra)."""
    return module is not None and (module == "evosearch" or module.startswith("evosearch."))
