"""Building a plugin from its config: parameters, deprecations and the registry's error type.

Parameter validation with key paths, the population-size spellings, the warning for old
config spellings and plugin names, and the pydantic settings of plugin parameter classes:
operators, selectors, initializers and archives are pydantic dataclasses
(``@dataclass(config=PARAMS)``), validated, strict and frozen. This sits below the plugin
families, so an archive need not import the operators' module for it; ``registry`` and
``evosearch.api`` re-export what is here. It imports nothing of evosearch.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import pydantic

# Frozen, strict parameter models for operators, selectors, initializers and archives.
PARAMS = pydantic.ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
# The same for stateful plugins (archives), whose parameters are fixed but state is not.
STATEFUL = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class RegistryError(ValueError):
    """A name that cannot be resolved, or a plugin that does not fit its family."""


class ConfigDeprecationWarning(FutureWarning):
    """A config spelling that still works but will be removed (shown to users by default)."""


def deprecated(message: str) -> None:
    """Warn about a deprecated config spelling, on one line (no source line under it)."""
    warnings.warn_explicit(message, ConfigDeprecationWarning, "evosearch", 0)


# Spellings of the population size across plugins; the first is the one to write.
POPULATION_SIZE = ("population_size", "batch_size", "popsize")


def instantiate(
    cls: Any, params: dict[str, Any], *, key: str, what: str, population: bool = False
) -> Any:
    """Build ``cls(**params)`` turning validation failures into errors with the key path.

    With ``population=True`` (strategies), ``population_size`` is passed under whichever
    spelling ``cls`` takes (``population_size``, ``batch_size`` or ``popsize``); the other two
    are accepted from a config as deprecated spellings.

    Raises:
        RegistryError: naming ``key`` and the accepted parameters.
    """
    if not isinstance(params, dict):
        raise RegistryError(f"{key}: must be a mapping of parameters, got {type(params).__name__}")
    params, renamed = _population_size(cls, params, key) if population else (params, {})
    try:
        return cls(**params)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = (
                ".".join(
                    str(p)
                    for p in (renamed.get(str(err["loc"][0]), err["loc"][0]), *err["loc"][1:])
                )
                if err["loc"]
                else ""
            )
            problems.append(f"{key}.{loc}: {err['msg']}" if loc else f"{key}: {err['msg']}")
        accepted = ", ".join(accepted_params(cls)) or "none"
        raise RegistryError(
            f"invalid parameters for {what}: {'; '.join(problems)} (accepted: {accepted})"
        ) from None
    except TypeError as exc:
        accepted = ", ".join(accepted_params(cls)) or "none"
        raise RegistryError(f"{key}: {what}: {exc} (accepted: {accepted})") from None


def _population_size(
    cls: Any, params: dict[str, Any], key: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Map the population size to the spelling ``cls`` takes; returns (params, renames)."""
    given = [k for k in POPULATION_SIZE if k in params]
    if not given:
        return params, {}
    if len(given) > 1:
        raise RegistryError(
            f"{key}: give the population size once, as population_size, not {given}"
        )
    accepted = accepted_params(cls)
    target = next((k for k in POPULATION_SIZE if k in accepted), None)
    spelt = given[0]
    if target is None:
        return params, {}
    if spelt != "population_size":
        deprecated(f"{key}.{spelt} is deprecated: write {key}.population_size")
    if spelt == target:
        return params, {}
    params = {(target if k == spelt else k): v for k, v in params.items()}
    return params, {target: spelt}


def accepted_params(cls: Any) -> list[str]:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
