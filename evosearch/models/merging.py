"""One merge node of a weight recipe, executed tensor by tensor through mergekit's in-memory API.

``mergekit.merge_methods.merge_tensors`` runs the same kernels ``mergekit-yaml`` does, so a
merge here equals the CLI's output tensor for tensor (tests check every method). Parameters
follow mergekit's own rules: a per-layer-range ``slices`` override, conditional values
``[{filter, value}]`` matched by substring (first match wins), embeddings taking the first
slice's parameters and the final norm/head the last slice's.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

METHODS: tuple[str, ...] = (
    "linear",
    "slerp",
    "task_arithmetic",
    "ties",
    "dare_ties",
    "dare_linear",
    "breadcrumbs",
    "della",
    "model_stock",
)
"""The merge methods evosearch exposes (each a mergekit method of the same name)."""

RANDOMISED: frozenset[str] = frozenset({"dare_ties", "dare_linear", "della"})
"""Methods that draw random masks: their recipes carry a ``seed``."""

_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")
_PRE = ("embed", "wte", "wpe")


class MergeParamError(ValueError):
    """An unknown merge method or parameter, or a value of the wrong shape."""


def method(name: str):
    """The mergekit ``MergeMethod`` called ``name``.

    Raises:
        MergeParamError: naming the allowed methods.
    """
    if name not in METHODS:
        raise MergeParamError(f"unknown merge method {name!r}; allowed: {', '.join(METHODS)}")
    from mergekit import merge_methods

    return merge_methods.get(name)


def layer_index(tensor_name: str) -> int | None:
    """The transformer layer a tensor belongs to, or None (embeddings, final norm, head)."""
    m = _LAYER.search(tensor_name)
    return int(m.group(1)) if m else None


RANGES: dict[str, tuple[float, float]] = {
    "density": (0.0, 1.0),
    "t": (0.0, 1.0),
    "gamma": (0.0, 1.0),
    "epsilon": (0.0, 1.0),
}
"""Closed ranges of the mergekit parameters that have one (others: any finite number)."""


def check_value(key: str, value: Any, where: str) -> None:
    """Check one parameter value: finite numbers, inside ``RANGES[key]`` where it has one.

    A value may be a number, a bool (flags such as ``normalize``), null, a per-parent list,
    or ``{filter, value}`` conditions; each number inside is checked.

    Raises:
        MergeParamError: naming the parameter, the value and the allowed range.
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_value(key, v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        if "value" in value:
            check_value(key, value["value"], f"{where}.value")
        return
    if not isinstance(value, (int, float)):
        raise MergeParamError(f"{where}: {value!r} is not a number")
    if not math.isfinite(value):
        raise MergeParamError(f"{where}: {value!r} is not a finite number")
    lo, hi = RANGES.get(key, (-math.inf, math.inf))
    if not lo <= value <= hi:
        raise MergeParamError(f"{where}: {value!r} is outside [{lo:g}, {hi:g}]")


def check_params(
    name: str,
    params: Mapping[str, Any],
    n_parents: int,
    base: int | None,
    slices: Sequence[Mapping[str, Any]] | None = None,
    where: str = "params",
) -> None:
    """Check a merge node's method, parameter names and value shapes before any run.

    Raises:
        MergeParamError: naming the parameter and the accepted ones.
    """
    spec = method(name).spec
    allowed = {p.name: p for p in spec.parameters}
    contract = spec.contract
    policy = contract.base.value
    if policy == "required" and base is None:
        raise MergeParamError(f"{name}: needs a base model (the parent index 'base')")
    if policy == "forbidden" and base is not None:
        raise MergeParamError(f"{name}: does not take a base model")
    if n_parents < contract.min_inputs or (
        contract.max_inputs is not None and n_parents > contract.max_inputs
    ):
        hi = contract.max_inputs if contract.max_inputs is not None else "any"
        raise MergeParamError(
            f"{name}: takes {contract.min_inputs}..{hi} models (base included), got {n_parents}"
        )
    scopes = [(where, params)] + [
        (f"slices.{i}.params", s.get("params") or {}) for i, s in enumerate(slices or [])
    ]
    for loc, group in scopes:
        for key, value in group.items():
            if key not in allowed:
                raise MergeParamError(
                    f"{loc}.{key}: unknown parameter of {name}; accepted: {', '.join(allowed)}"
                )
            check_value(key, value, f"{loc}.{key}")
            if allowed[key].scope.value == "shared" and isinstance(value, list):
                raise MergeParamError(f"{loc}.{key}: {name} takes one shared value, not a list")
            if isinstance(value, list) and len(value) not in (
                n_parents,
                n_parents - (base is not None),
            ):
                raise MergeParamError(f"{loc}.{key}: {len(value)} values for {n_parents} parents")
    missing = [
        p.name
        for p in spec.parameters
        if p.required
        and p.name not in params
        and not all(p.name in (s.get("params") or {}) for s in (slices or [{}]))
    ]
    if missing and not (policy != "ignored" and n_parents == 1):
        raise MergeParamError(f"{name}: missing required parameter(s) {missing}")


def _condition(value: Any, tensor_name: str) -> Any:
    """Resolve a ``[{filter, value}, ...]`` conditional list (mergekit semantics)."""
    if isinstance(value, dict) and "value" in value:
        value = [value]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for cond in value:
            f = cond.get("filter")
            if f is None or f == "*" or f in tensor_name:
                return cond["value"]
        return None
    return value


def tensor_params(
    node: Mapping[str, Any], tensor_name: str, n_layers: int | None = None
) -> dict[str, Any]:
    """The mergekit parameters one tensor gets under a merge node.

    Per-parent lists are turned into the input order mergekit expects (the base's entry is
    dropped for non-base parameters).
    """
    spec = method(node["merge"]).spec
    n = len(node["parents"])
    base = node.get("base")
    values: dict[str, Any] = dict(node.get("params") or {})
    slices = node.get("slices")
    if slices:
        layer = layer_index(tensor_name)
        if layer is None:
            chosen = slices[0] if any(p in tensor_name for p in _PRE) else slices[-1]
        else:
            chosen = next((s for s in slices if s["layers"][0] <= layer < s["layers"][1]), None)
            if chosen is None:
                raise MergeParamError(f"tensor {tensor_name!r}: layer {layer} is in no slice")
        values.update(chosen.get("params") or {})
    out: dict[str, Any] = {}
    for p in spec.parameters:
        if p.name not in values:
            continue
        value = values[p.name]
        if p.scope.value == "shared":
            resolved = _condition(value, tensor_name)
            if resolved is not None:
                out[p.name] = resolved
            continue
        if isinstance(value, list) and not all(isinstance(v, dict) for v in value):
            per = [_condition(v, tensor_name) for v in value]
            if p.scope.value == "non_base" and base is not None and len(per) == n:
                per = [v for i, v in enumerate(per) if i != base]
        else:
            per = _condition(value, tensor_name)
        if per is not None:
            out[p.name] = per
    return out


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's global generator for a randomised merge, restoring it afterwards."""
    if seed is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def merge_node(
    node: Mapping[str, Any],
    parents: Sequence[Mapping[str, torch.Tensor]],
    names: Sequence[str],
    device: torch.device,
    *,
    fast: bool = True,
) -> dict[str, torch.Tensor]:
    """Execute one merge node, one tensor at a time, on ``device``.

    Args:
        node: A validated merge recipe node.
        parents: The parents' state dicts (on ``device``), in parent order.
        names: Tensor names in execution order (sorted, as ``mergekit-yaml`` runs them, so
            randomised methods draw the same masks for the same seed).
        device: Where the merge runs.
        fast: Run ``ties`` through ``fast_ties`` (a selection threshold instead of
            mergekit's whole-tensor argsort; equal to mergekit's output wherever the
            magnitudes at the threshold are distinct) and the DARE pair through
            ``fast_dare`` (equal to mergekit's). False: mergekit's kernel for all.

    Returns:
        The merged state dict.
    """
    from mergekit.merge_methods import merge_tensors

    from evosearch.models.fast_ties import fast_method

    m = fast_method(method(node["merge"])) if fast else method(node["merge"])
    base = node.get("base")
    ids = list(range(len(parents)))
    out: dict[str, torch.Tensor] = {}
    with seeded(node.get("seed"), device), torch.no_grad():
        for name in names:
            tensors = [sd[name].to(device) for sd in parents]
            if not tensors[0].is_floating_point():
                out[name] = tensors[base or 0]
                continue
            out[name] = merge_tensors(
                tensors,
                m,
                parameters=tensor_params(node, name),
                ids=ids,
                base_index=base,
                name=name,
            )
    return out
