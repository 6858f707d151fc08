"""``ModelPool``: the named models weight recipes are built from.

Each model is an HF checkpoint directory (``config.json`` + ``*.safetensors``) or a single
``.safetensors`` file. Opening the pool checks everything a run needs before it starts: every
path exists, every model has the same architecture (``model_type``/``architectures`` where a
config exists) and the same tensor names, shapes and dtypes. Tensors are read through
safetensors' memory-mapped ``safe_open`` and kept resident on the evaluation device, one copy
per model, shared (never copied) by every recipe that uses it unchanged. On the CPU the
resident tensors stay backed by the memory map (pages are read on first use and shared with
the OS page cache); on CUDA they are copied to device memory once.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from safetensors import safe_open


class PoolError(ValueError):
    """A pool that cannot be used: missing path, mismatched architectures or shapes."""


class PoolModel:
    """One model of the pool: where it lives and what tensors it has (read lazily).

    Args:
        name: The name recipes use.
        path: An HF checkpoint directory or a ``.safetensors`` file.
    """

    def __init__(self, name: str, path: str | pathlib.Path):
        self.name = name
        self.path = pathlib.Path(path).expanduser()
        if not self.path.exists():
            raise PoolError(f"pool model {name!r}: path does not exist: {self.path}")
        if self.path.is_dir():
            self.files = sorted(self.path.glob("*.safetensors"))
            if not self.files:
                raise PoolError(
                    f"pool model {name!r}: no *.safetensors in {self.path} "
                    "(save the model with save_pretrained(safe_serialization=True))"
                )
            cfg = self.path / "config.json"
            self.config: dict[str, Any] | None = (
                json.loads(cfg.read_text()) if cfg.is_file() else None
            )
        elif self.path.suffix == ".safetensors":
            self.files = [self.path]
            self.config = None
        else:
            raise PoolError(
                f"pool model {name!r}: {self.path} is neither a checkpoint directory nor a "
                ".safetensors file"
            )
        self.index: dict[str, pathlib.Path] = {}
        self.meta: dict[str, tuple[tuple[int, ...], str]] = {}
        for f in self.files:
            with safe_open(str(f), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118 (safe_open has no __iter__)
                    sl = handle.get_slice(key)
                    self.index[key] = f
                    self.meta[key] = (tuple(sl.get_shape()), str(sl.get_dtype()))

    @property
    def checkpoint_dir(self) -> pathlib.Path | None:
        """The HF checkpoint directory (config and tokenizer), if this model has one."""
        return self.path if self.path.is_dir() and self.config is not None else None

    def architecture(self) -> tuple[str | None, tuple[str, ...]]:
        if self.config is None:
            return None, ()
        return self.config.get("model_type"), tuple(self.config.get("architectures") or ())

    def load(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """All tensors, memory-mapped from disk and moved to ``device``."""
        out: dict[str, torch.Tensor] = {}
        for f in self.files:
            with safe_open(str(f), framework="pt", device="cpu") as handle:
                for key in handle.keys():  # noqa: SIM118
                    out[key] = handle.get_tensor(key).to(device)
        return {k: out[k] for k in sorted(out)}


class ModelPool:
    """Named models, checked for compatibility, resident on one device.

    Args:
        models: Name → checkpoint directory or ``.safetensors`` file.
        device: Where the tensors live (the evaluation device).
        reference: The model whose config and tokenizer exported checkpoints copy (default:
            the first model with a ``config.json``).

    Raises:
        PoolError: an empty pool, a missing path, or models that do not fit together.
    """

    def __init__(
        self,
        models: Mapping[str, str | pathlib.Path],
        *,
        device: str | torch.device = "cpu",
        reference: str | None = None,
    ):
        if not models:
            raise PoolError("the model pool is empty: give at least one name: path")
        self.device = torch.device(device)
        self.models = {name: PoolModel(name, path) for name, path in models.items()}
        self._check_compatible()
        first = next(iter(self.models.values()))
        self.tensor_names: list[str] = sorted(first.meta)
        self.shapes = {k: first.meta[k][0] for k in self.tensor_names}
        if reference is not None and reference not in self.models:
            raise PoolError(f"pool reference {reference!r} is not a pool model: {self.names}")
        self.reference = reference or next(
            (n for n, m in self.models.items() if m.checkpoint_dir is not None), None
        )
        self._resident: dict[str, dict[str, torch.Tensor]] = {}

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], *, device: str | None = None) -> ModelPool:
        """Build from ``{models: {name: path}, build: REF, device: ..., reference: ...}``.

        ``build`` names a function (``package.module:function``) returning name → path, for
        models the project makes and caches itself (e.g.
        ``evosearch.scenarios.demo_models.tinylm:build_models``); ``models`` entries override
        or add to it.

        Raises:
            PoolError: when no models are given or the pool is unusable.
        """
        extra = set(cfg) - {"models", "build", "device", "reference"}
        if extra:
            raise PoolError(
                f"pool config: unknown key(s) {sorted(extra)}; allowed: models, build, "
                "device, reference"
            )
        models: dict[str, Any] = {}
        if cfg.get("build"):
            from evosearch.registry import RegistryError, resolve_reference

            try:
                builder = resolve_reference(str(cfg["build"]))
            except RegistryError as exc:
                raise PoolError(f"pool.build: {exc}") from None
            models.update({str(k): v for k, v in builder().items()})
        given = cfg.get("models") or {}
        if not isinstance(given, Mapping):
            raise PoolError("pool.models must be a mapping of name -> checkpoint path")
        models.update(given)
        if not models:
            raise PoolError("pool config needs 'models' (name -> checkpoint path) or 'build'")
        return cls(
            models,
            device=device or cfg.get("device", "cpu"),
            reference=cfg.get("reference"),
        )

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def __contains__(self, name: str) -> bool:
        return name in self.models

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def model(self, name: str) -> PoolModel:
        try:
            return self.models[name]
        except KeyError:
            raise PoolError(f"unknown pool model {name!r}; the pool has {self.names}") from None

    def state_dict(self, name: str) -> dict[str, torch.Tensor]:
        """The resident tensors of one model (loaded on first use; do not modify them)."""
        sd = self._resident.get(name)
        if sd is None:
            sd = self.model(name).load(self.device)
            self._resident[name] = sd
        return sd

    def resident_bytes(self) -> int:
        return sum(
            t.numel() * t.element_size() for sd in self._resident.values() for t in sd.values()
        )

    def reference_dir(self) -> pathlib.Path | None:
        """The checkpoint directory whose config and tokenizer exports copy."""
        return None if self.reference is None else self.models[self.reference].checkpoint_dir

    def _check_compatible(self) -> None:
        items = list(self.models.values())
        first = items[0]
        for other in items[1:]:
            a, b = first.architecture(), other.architecture()
            if a[0] and b[0] and a != b:
                raise PoolError(
                    f"pool models {first.name!r} and {other.name!r} have different "
                    f"architectures: {a[0]} {list(a[1])} vs {b[0]} {list(b[1])}"
                )
            missing = sorted(set(first.meta) ^ set(other.meta))
            if missing:
                raise PoolError(
                    f"pool models {first.name!r} and {other.name!r} have different tensors "
                    f"(e.g. {missing[:3]})"
                )
            for key, (shape, dtype) in first.meta.items():
                if other.meta[key] != (shape, dtype):
                    raise PoolError(
                        f"pool models {first.name!r} and {other.name!r} differ in tensor "
                        f"{key!r}: {list(shape)} {dtype} vs {list(other.meta[key][0])} "
                        f"{other.meta[key][1]}"
                    )


def check_pool_config(
    pool_cfg: Mapping[str, Any], names: list[str | None]
) -> tuple[ModelPool, dict[str, Any]]:
    """Open a pool config (headers only) and check that it holds ``names``.

    For strategy parameter validators: a bad pool fails when the config is loaded, before
    the run starts. Returns the pool and the reference model's ``config.json`` (or {}).

    Raises:
        PoolError: a missing path, mismatched models, or a name the pool lacks.
    """
    pool = ModelPool.from_config(pool_cfg)
    for name in names:
        if name is not None:
            pool.model(name)
    ref = pool.models[pool.reference] if pool.reference else None
    return pool, dict((ref.config if ref else None) or {})
