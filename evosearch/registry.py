"""Typed plugin registries, one per family, filled by decorators and entry points.

Each family (``operator``, ``selector``, ``fitness``, ``archive``, ``strategy``,
``initializer``, ``executor``, ``llm``) has one ``Registry``. Built-in plugins register with a
decorator in the module that defines them; ``load_builtins()`` imports that explicit list of
modules (no registration hidden in ``__init__`` files). Third-party packages register through
the entry-point group ``evosearch.<family>``. An object can also be named directly as
``package.module:attribute``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """A name that cannot be resolved, or a plugin that does not fit its family."""


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
    """A named family of plugins.

    Args:
        family: The family name; its entry-point group is ``evosearch.<family>``.
        check: Called as ``check(name, obj, meta)`` at registration; raises ``TypeError``
            when the object does not fit the family's protocol.
    """

    def __init__(self, family: str, check: Callable[[str, Any, dict], None] | None = None):
        self.family = family
        self.group = f"evosearch.{family}"
        self._check = check
        self._entries: dict[str, Entry[T]] = {}
        self._entry_points_loaded = False

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
        if existing is not None and _qualname(existing.obj) != _qualname(obj):
            raise ValueError(
                f"{self.family} {name!r} is already registered by {_qualname(existing.obj)}; "
                f"cannot register {_qualname(obj)} under the same name"
            )
        if self._check is not None:
            self._check(name, obj, meta)
        entry = Entry(self.family, name, obj, dict(meta), origin)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> Entry[T]:
        """Look up a plugin by registered name, entry point, or ``module:attribute``.

        Raises:
            RegistryError: naming the known plugins when nothing matches.
        """
        if ":" not in name or name in self._entries:  # a reference imports its own module
            load_builtins()
        if name in self._entries:
            return self._entries[name]
        if ":" not in name:
            self._load_entry_points()
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
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
        raise RegistryError(
            f"unknown {self.family} {name!r}; known: {', '.join(sorted(self._entries)) or 'none'}"
            f" (or give 'package.module:attribute', or register one under the entry-point group "
            f"'{self.group}')"
        )

    def names(self) -> list[str]:
        load_builtins()
        self._load_entry_points()
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry[T]]:
        load_builtins()
        self._load_entry_points()
        return iter(list(self._entries.values()))

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except RegistryError:
            return False
        return True

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in importlib.metadata.entry_points(group=self.group):
            if ep.name in self._entries:
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                import warnings

                warnings.warn(
                    f"could not load {self.family} plugin {ep.name!r} ({ep.value}): {exc}",
                    stacklevel=2,
                )
                continue
            already = [e for e in self._entries.values() if e.obj is obj]
            meta = dict(getattr(obj, "__evosearch_meta__", {}))
            if already:
                meta = dict(already[0].meta)
            self.add(ep.name, obj, origin="entry-point", **meta)


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


def instantiate(cls: Any, params: dict[str, Any], *, key: str, what: str) -> Any:
    """Build ``cls(**params)`` turning validation failures into errors with the key path.

    Raises:
        RegistryError: naming ``key`` and the accepted parameters.
    """
    import pydantic

    if not isinstance(params, dict):
        raise RegistryError(f"{key}: must be a mapping of parameters, got {type(params).__name__}")
    try:
        return cls(**params)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(f"{key}.{loc}: {err['msg']}" if loc else f"{key}: {err['msg']}")
        accepted = ", ".join(accepted_params(cls)) or "none"
        raise RegistryError(
            f"invalid parameters for {what}: {'; '.join(problems)} (accepted: {accepted})"
        ) from None
    except TypeError as exc:
        accepted = ", ".join(accepted_params(cls)) or "none"
        raise RegistryError(f"{key}: {what}: {exc} (accepted: {accepted})") from None


def accepted_params(cls: Any) -> list[str]:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters if p not in ("self", "args", "kwargs")]


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


# ---------------------------------------------------------------------------------------------
# Protocol checks per family.


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


operators: Registry[Any] = Registry("operator", _check_operator)
selectors: Registry[Any] = Registry("selector", _check_callable_params(("individuals", "n", "rng")))
initializers: Registry[Any] = Registry("initializer", _check_callable_params(("n", "rng")))
fitnesses: Registry[Any] = Registry("fitness", _check_fitness)
archives: Registry[Any] = Registry("archive", _check_class("add", "members"))
strategies: Registry[Any] = Registry("strategy", _check_class("ask", "tell"))
executors: Registry[Any] = Registry("executor", _check_class("evaluate"))
llms: Registry[Any] = Registry("llm", _check_class("generate"))

REGISTRIES: dict[str, Registry[Any]] = {
    r.family: r
    for r in (operators, selectors, initializers, fitnesses, archives, strategies, executors, llms)
}

# The modules that define built-in plugins. Optional ones (missing dependencies) are skipped.
BUILTIN_MODULES: list[str] = [
    "evosearch.operators.vector",
    "evosearch.operators.selection",
    "evosearch.operators.merge",
    "evosearch.operators.noise",
    "evosearch.archives.population",
    "evosearch.archives.grid",
    "evosearch.archives.cvt",
    "evosearch.archives.dgm",
    "evosearch.archives.islands",
    "evosearch.archives.novelty",
    "evosearch.strategies.archive",
    "evosearch.strategies.ga",
    "evosearch.strategies.evotorch",
    "evosearch.strategies.merge_cmaes",
    "evosearch.strategies.genome_pso",
    "evosearch.strategies.map_elites",
    "evosearch.executors.serial",
    "evosearch.executors.processes",
    "evosearch.executors.ray",
    "evosearch.fitness.builtin",
    "evosearch.fitness.bbob",
    "evosearch.fitness.arm",
    "evosearch.llm.scripted",
    "evosearch.strategies.simple",
    "evosearch.strategies.evollm",
    "evosearch.models.evollm_lm",
    "evosearch.llm.transformers_backend",
    "evosearch.llm.openai_backend",
    "evosearch.operators.llm_code",
    "evosearch.operators.llm_prompt",
    "evosearch.fitness.code",
    "evosearch.fitness.prompt_task",
    "evosearch.fitness.dgm",
    "evosearch.operators.dgm",
    "evosearch.fitness.weights",
    "evosearch.operators.seedchain",
    "evosearch.strategies.deep_ga",
    "evosearch.fitness.cartpole",
]

_builtins_loaded = False


def load_builtins() -> None:
    """Import every built-in plugin module once (explicitly listed in ``BUILTIN_MODULES``)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("evosearch"):
                raise
