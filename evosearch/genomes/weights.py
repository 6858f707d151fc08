"""``WeightsGenome``: a recipe for model weights over a named model pool, never tensors.

A recipe is a small JSON tree:

- ``{"base": NAME}``: a model of the pool, as stored.
- ``{"merge": METHOD, "parents": [RECIPE, ...], "base": INDEX | None, "params": {...},
  "slices": [...] | None, "seed": INT | None}``: a mergekit merge of the parents. ``base`` is
  the index of the parent used as the merge base (task vectors are taken against it).
  ``params`` holds mergekit's parameters: a scalar is shared or broadcast; a list gives one
  value per parent (in parent order; the base's entry is ignored for non-base parameters).
  ``slices`` (optional) override ``params`` per layer range exactly like a mergekit
  ``slices:`` section: ``[{"layers": [LO, HI], "params": {...}}, ...]`` where a per-parent
  value may be a list of ``{"filter": SUBSTRING | None, "value": V}`` conditions (first match
  wins, ``None`` matches all). Tensors outside any layer use the first slice (embeddings) or
  the last (final norm, head), as mergekit does. ``seed`` seeds randomised methods (DARE, DELLA).
- ``{"noise": SEED, "sigma": S, "mask_p": P | None, "parent": RECIPE}``: θ + σ·ε, ε regenerated
  per tensor from ``(SEED, tensor name)``, optionally only where a Bernoulli(P) mask is one.

Materialising a recipe is the job of ``evosearch.models.materialise.Materialiser``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from evosearch.genomes.base import content_hash, genome_kind

RecipeNode = dict[str, Any]


class RecipeError(ValueError):
    """A malformed recipe; the message names the path inside the recipe."""


def _check_params(params: Any, where: str) -> None:
    if not isinstance(params, dict):
        raise RecipeError(f"{where}: must be a mapping of parameter -> value")
    for key, value in params.items():
        if not isinstance(key, str):
            raise RecipeError(f"{where}: parameter names must be strings, got {key!r}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise RecipeError(f"{where}.{key}: value {value!r} is not plain JSON") from None


def validate_recipe(node: Any, where: str = "recipe") -> RecipeNode:
    """Check the structure of a recipe and return a normalised copy.

    Raises:
        RecipeError: naming the path of the first problem.
    """
    if not isinstance(node, dict):
        raise RecipeError(f"{where}: must be a mapping, got {type(node).__name__}")
    kinds = [k for k in ("merge", "noise") if k in node] or (["base"] if "base" in node else [])
    if len(kinds) != 1:
        raise RecipeError(f"{where}: needs exactly one of 'base', 'merge', 'noise'; got {node!r}")
    kind = kinds[0]
    if kind == "base":
        _only(node, {"base"}, where)
        if not isinstance(node["base"], str) or not node["base"]:
            raise RecipeError(f"{where}.base: must be a model name of the pool")
        return {"base": node["base"]}
    if kind == "noise":
        _only(node, {"noise", "sigma", "mask_p", "parent"}, where)
        seed, sigma, mask_p = node["noise"], node.get("sigma"), node.get("mask_p")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise RecipeError(f"{where}.noise: the seed must be a non-negative int")
        if not isinstance(sigma, (int, float)) or sigma < 0:
            raise RecipeError(f"{where}.sigma: must be a number >= 0")
        if mask_p is not None and not (isinstance(mask_p, (int, float)) and 0 < mask_p <= 1):
            raise RecipeError(f"{where}.mask_p: must be in (0, 1] or null")
        parent = validate_recipe(node.get("parent"), f"{where}.parent")
        out = {"noise": seed, "sigma": float(sigma), "parent": parent}
        if mask_p is not None:
            out["mask_p"] = float(mask_p)
        return out
    _only(node, {"merge", "parents", "base", "params", "slices", "seed"}, where)
    method = node["merge"]
    if not isinstance(method, str) or not method:
        raise RecipeError(f"{where}.merge: must be a merge method name")
    parents = node.get("parents")
    if not isinstance(parents, list) or not parents:
        raise RecipeError(f"{where}.parents: must be a non-empty list of recipes")
    base = node.get("base")
    if base is not None and not (isinstance(base, int) and 0 <= base < len(parents)):
        raise RecipeError(f"{where}.base: must be a parent index in [0, {len(parents)}) or null")
    params = node.get("params") or {}
    _check_params(params, f"{where}.params")
    out = {
        "merge": method,
        "parents": [validate_recipe(p, f"{where}.parents.{i}") for i, p in enumerate(parents)],
        "base": base,
        "params": params,
    }
    slices = node.get("slices")
    if slices is not None:
        if not isinstance(slices, list) or not slices:
            raise RecipeError(f"{where}.slices: must be a non-empty list or null")
        for i, s in enumerate(slices):
            sw = f"{where}.slices.{i}"
            if not isinstance(s, dict) or set(s) - {"layers", "params"}:
                raise RecipeError(f"{sw}: must be {{layers: [lo, hi], params: {{...}}}}")
            lo_hi = s.get("layers")
            if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and 0 <= lo_hi[0] < lo_hi[1]):
                raise RecipeError(f"{sw}.layers: must be [lo, hi] with 0 <= lo < hi")
            _check_params(s.get("params") or {}, f"{sw}.params")
        out["slices"] = [
            {"layers": list(s["layers"]), "params": s.get("params") or {}} for s in slices
        ]
    if node.get("seed") is not None:
        if not isinstance(node["seed"], int) or node["seed"] < 0:
            raise RecipeError(f"{where}.seed: must be a non-negative int or null")
        out["seed"] = node["seed"]
    return out


def _only(node: dict, allowed: set[str], where: str) -> None:
    extra = set(node) - allowed
    if extra:
        raise RecipeError(f"{where}: unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}")


@genome_kind
@dataclasses.dataclass(frozen=True, eq=False)
class WeightsGenome:
    """Model weights as a recipe over a named pool (see the module docstring).

    Attributes:
        recipe: The validated recipe tree (plain JSON).
    """

    kind: ClassVar[str] = "weights"

    recipe: RecipeNode

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipe", validate_recipe(self.recipe))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def base(cls, name: str) -> WeightsGenome:
        """A pool model as stored."""
        return cls({"base": name})

    @classmethod
    def merge(
        cls,
        method: str,
        parents: Sequence[WeightsGenome],
        params: dict[str, Any] | None = None,
        *,
        base: int | None = None,
        slices: list[dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> WeightsGenome:
        """A mergekit merge of ``parents`` (``base``: index of the base parent)."""
        node: RecipeNode = {
            "merge": method,
            "parents": [p.recipe for p in parents],
            "base": base,
            "params": dict(params or {}),
        }
        if slices is not None:
            node["slices"] = slices
        if seed is not None:
            node["seed"] = int(seed)
        return cls(node)

    def noised(self, seed: int, sigma: float, mask_p: float | None = None) -> WeightsGenome:
        """This genome plus seeded Gaussian noise."""
        node: RecipeNode = {"noise": int(seed), "sigma": float(sigma), "parent": self.recipe}
        if mask_p is not None:
            node["mask_p"] = float(mask_p)
        return WeightsGenome(node)

    # ------------------------------------------------------------------ structure
    @property
    def op(self) -> str:
        """``base``, ``merge`` or ``noise``."""
        return next(k for k in ("merge", "noise", "base") if k in self.recipe)

    @property
    def parents(self) -> list[WeightsGenome]:
        """The direct parent recipes."""
        if self.op == "merge":
            return [WeightsGenome(p) for p in self.recipe["parents"]]
        if self.op == "noise":
            return [WeightsGenome(self.recipe["parent"])]
        return []

    def leaves(self) -> list[str]:
        """Pool model names this recipe reads, in first-use order."""
        out: list[str] = []
        for node in _walk(self.recipe):
            if set(node) == {"base"} and node["base"] not in out:
                out.append(node["base"])
        return out

    def depth(self) -> int:
        """Length of the longest chain of operations down to a pool model."""
        return 0 if self.op == "base" else 1 + max(p.depth() for p in self.parents)

    def is_pure_merge(self) -> bool:
        """True for one merge whose parents are all pool models (mergekit YAML can say it)."""
        return self.op == "merge" and all(p.op == "base" for p in self.parents)

    # ------------------------------------------------------------------ Genome protocol
    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WeightsGenome:
        return cls(data["recipe"] if "recipe" in data else data)

    def fingerprint(self) -> str:
        return content_hash({"weights": self.recipe})

    def summary(self) -> str:
        text = _summarise(self.recipe)
        return text if len(text) <= 120 else text[:117] + "..."

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WeightsGenome) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())


def _walk(node: RecipeNode):
    yield node
    if "merge" in node:
        for p in node["parents"]:
            yield from _walk(p)
    elif "noise" in node:
        yield from _walk(node["parent"])


def _summarise(node: RecipeNode) -> str:
    if "merge" in node:
        inner = ", ".join(_summarise(p) for p in node["parents"])
        return f"{node['merge']}({inner})"
    if "noise" in node:
        return f"noise[σ={node['sigma']:g}]({_summarise(node['parent'])})"
    return str(node["base"])
