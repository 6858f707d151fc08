"""Run configuration: frozen pydantic models loaded from YAML.

Every mistake is reported with the key path and, for closed choices, the allowed values.
Config holds names and parameters only, never live objects.
"""

from __future__ import annotations

import pathlib
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from evosearch import registry


class ConfigError(ValueError):
    """An invalid run configuration; the message names the key path and what is allowed."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _plugin_ref(data: Any) -> Any:
    """Accept ``"ref"`` shorthand strings and the deprecated ``name`` key for ``ref``."""
    if isinstance(data, str):
        return {"ref": data}
    if isinstance(data, dict) and "name" in data:
        data = dict(data)
        name = data.pop("name")
        if "ref" in data and data["ref"] != name:
            raise ValueError(
                f"give the plugin once, as ref (name is its deprecated spelling); "
                f"got ref={data['ref']!r} and name={name!r}"
            )
        data["ref"] = name
        registry.deprecated("the plugin key 'name' is deprecated: write 'ref' instead")
    return data


class _Referenced(_Frozen):
    """A config that names a plugin by ``ref``.

    A bare string is shorthand for ``{ref: ...}``, and ``name`` is accepted as the
    deprecated spelling of ``ref``.
    """

    ref: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _plugin_ref(data)

    @property
    def name(self) -> str:
        """The deprecated spelling of ``ref``."""
        return self.ref


class PluginConfig(_Referenced):
    """A plugin by reference plus its parameters.

    Attributes:
        ref: A registered name, an entry-point name, or ``package.module:attribute``
            (``name`` is accepted as a deprecated spelling).
        params: Parameters, validated by the plugin itself.
    """

    params: dict[str, Any] = Field(default_factory=dict)


class FitnessConfig(_Frozen):
    """Which fitness to call and how.

    Attributes:
        ref: A registered fitness name, an entry-point name or ``package.module:function``.
        params: Passed to the fitness as ``ctx.params``.
        timeout: Seconds one evaluation may take before it is recorded as ``timeout``.
        version: Part of the evaluation cache key: bump it when the fitness changes.
    """

    ref: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: float | None = Field(default=60.0, gt=0)
    version: str = "1"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"ref": data} if isinstance(data, str) else data


class BudgetConfig(_Frozen):
    """When a run stops: whichever limit is reached first. At least one must be set."""

    generations: int | None = Field(default=None, ge=1)
    evaluations: int | None = Field(default=None, ge=1)
    wall_seconds: float | None = Field(default=None, gt=0)
    llm_tokens: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _at_least_one(self) -> BudgetConfig:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError(
                "set at least one of generations, evaluations, wall_seconds, llm_tokens"
            )
        return self


class ExecutorConfig(_Referenced):
    """Where evaluations run.

    Attributes:
        ref: ``serial``, ``processes`` (joblib/loky) or ``ray`` (or a plugin); ``name`` is
            accepted as a deprecated spelling.
        workers: Parallel workers (processes, Ray tasks in flight).
        params: Executor-specific options.
    """

    ref: str = "serial"
    workers: int = Field(default=2, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)


class StoreConfig(_Frozen):
    """Run-store options.

    Attributes:
        commit_every: In steady-state mode, results per Parquet part (default: the
            strategy's batch size). Generational runs commit one part per generation.
        generations_per_commit: Generational runs commit every this many generations as
            one part (default 1). Larger values amortise the durable commit over cheap,
            fast generations; a crash then loses at most that many generations of work,
            which a deterministic run redoes identically on resume.
        fsync: fsync each commit (part, checkpoint, manifest, WAL). ``false`` keeps every
            guarantee against a killed process (``kill -9``, OOM) but not against a power
            loss or kernel crash; it saves a few milliseconds per commit on slow disks.
    """

    commit_every: int | None = Field(default=None, ge=1)
    generations_per_commit: int = Field(default=1, ge=1)
    fsync: bool = True


class RunConfig(_Frozen):
    """A whole run: what to evolve, how to score it, where to run it, when to stop."""

    name: str = "run"
    description: str = ""
    seed: int = 0
    mode: Literal["generational", "steady_state"] = "generational"
    budget: BudgetConfig
    fitness: FitnessConfig
    strategy: PluginConfig
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)

    @model_validator(mode="after")
    def _check_plugins(self) -> RunConfig:
        for key, reg, name in (
            ("strategy.ref", registry.strategies, self.strategy.ref),
            ("executor.ref", registry.executors, self.executor.ref),
        ):
            if name not in reg:
                raise ValueError(f"{key}: unknown {reg.family} {name!r}; allowed: {reg.names()}")
        return self


def load_config(
    source: str | pathlib.Path | dict[str, Any], overrides: list[str] | None = None
) -> RunConfig:
    """Load and validate a run config from a YAML file or a dict.

    Args:
        source: A YAML path or an already-parsed mapping.
        overrides: ``key.path=value`` strings (values parsed as YAML), applied in order.

    Raises:
        ConfigError: with the file, key path and allowed values.
    """
    where = "config"
    if isinstance(source, dict):
        data = source
    else:
        path = pathlib.Path(source)
        where = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:  # one line: where, then what
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{path}: not valid YAML: {at}{problem}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
    data = apply_overrides(data, overrides or [])
    try:
        return RunConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(format_validation_error(where, exc)) from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``a.b.c=value`` overrides applied.

    Raises:
        ConfigError: if an override is not of the form ``key=value``.
    """
    import copy

    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        value = yaml.safe_load(raw) if raw.strip() else ""
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if isinstance(child, str) and part in ("strategy", "executor", "fitness"):
                child = {"ref": child}
            elif not isinstance(child, dict):
                child = {}
            node[part] = child
            node = child
        node[parts[-1]] = value
    return data


def format_validation_error(where: str, exc: pydantic.ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            parent = err["loc"][:-1]
            allowed = _allowed_keys(parent)
            if allowed:
                msg += f"; allowed keys here: {', '.join(allowed)}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = RunConfig
    for part in loc:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return []
    return list(model.model_fields)


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
