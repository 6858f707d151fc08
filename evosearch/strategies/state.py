"""Strategy state as plain data: the codec behind ``Strategy.state_dict()`` (STYLE.md 15).

``encode`` turns a strategy attribute into nested dicts/lists of numbers, strings, bytes and
numpy arrays — what ``RunStore.commit`` stores without pickle — and ``decode`` reverses it.
Values that are not plain data carry a tag (``{"__t__": ...}``): tuples, sets, counters,
random generators (their ``bit_generator.state``), torch tensors, genomes and individuals
(their JSON form). Anything else is a ``TypeError`` naming the attribute path.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Any

import numpy as np

from evosearch.genomes.base import genome_from_json
from evosearch.individual import Cost, FitnessResult, Individual, Offspring, Status

TAG = "__t__"
_INT64 = (-(2**63), 2**63 - 1)


def encode(value: Any, path: str = "state") -> Any:
    """Plain-data form of ``value``.

    Raises:
        TypeError: naming ``path`` for a value with no plain-data form.
    """
    if value is None or isinstance(value, (bool, float, str, bytes)):
        return value
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return int(value)
        return {TAG: "bigint", "v": str(value)}
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.random.Generator):
        bg = value.bit_generator
        seq = getattr(bg, "seed_seq", None)  # rng.spawn() draws on it: part of the state
        seed = None
        if isinstance(seq, np.random.SeedSequence):
            seed = {
                "entropy": seq.entropy,
                "spawn_key": list(seq.spawn_key),
                "pool_size": seq.pool_size,
                "n_children_spawned": seq.n_children_spawned,
            }
        return {TAG: "rng", "v": json.dumps(bg.state), "seed_seq": json.dumps(seed)}
    if isinstance(value, Individual):
        return {TAG: "ind", "v": json.dumps(individual_to_json(value))}
    if type(value).__name__ == "Offspring":
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {TAG: "offspring", "v": encode(fields, path)}
    if isinstance(value, (FitnessResult, Cost)):
        return {TAG: type(value).__name__, "v": json.dumps(_plain(value))}
    if hasattr(value, "kind") and hasattr(value, "to_json") and hasattr(value, "fingerprint"):
        return {TAG: "genome", "kind": value.kind, "v": json.dumps(value.to_json())}
    if isinstance(value, collections.Counter):
        return {TAG: "counter", "k": encode(list(value), path), "v": list(value.values())}
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "v": [encode(v, path) for v in sorted(value, key=repr)]}
    if isinstance(value, list):
        return [encode(v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: encode(v, f"{path}.{k}") for k, v in value.items()}
        return {
            TAG: "dict",
            "k": [encode(k, path) for k in value],
            "v": [encode(v, f"{path}.{k}") for k, v in value.items()],
        }
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        return {TAG: "tensor", "v": value.detach().cpu().numpy().copy(), "dtype": str(value.dtype)}
    raise TypeError(
        f"{path}: {type(value).__qualname__} has no plain-data form for a checkpoint; "
        "give the strategy a state_dict() that stores its arrays and counters"
    )


def decode(value: Any) -> Any:
    """Inverse of ``encode``."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: decode(v) for k, v in value.items()}
    if tag == "bigint":
        return int(value["v"])
    if tag == "rng":
        state = json.loads(value["v"])
        seed = json.loads(value.get("seed_seq") or "null")
        seq = None
        if seed is not None:
            seq = np.random.SeedSequence(
                seed["entropy"],
                spawn_key=tuple(seed["spawn_key"]),
                pool_size=seed["pool_size"],
                n_children_spawned=seed["n_children_spawned"],
            )
        bit_generator = getattr(np.random, state["bit_generator"])(seq)
        bit_generator.state = state
        return np.random.Generator(bit_generator)
    if tag == "ind":
        return individual_from_json(json.loads(value["v"]))
    if tag == "offspring":
        return Offspring(**decode(value["v"]))
    if tag == "FitnessResult":
        return _result(json.loads(value["v"]))
    if tag == "Cost":
        return Cost(**json.loads(value["v"]))
    if tag == "genome":
        return genome_from_json(value["kind"], json.loads(value["v"]))
    if tag == "counter":
        return collections.Counter(dict(zip(decode(value["k"]), value["v"])))
    if tag == "tuple":
        return tuple(decode(v) for v in value["v"])
    if tag == "set":
        return {decode(v) for v in value["v"]}
    if tag == "dict":
        return dict(zip((decode(k) for k in value["k"]), (decode(v) for v in value["v"])))
    if tag == "tensor":
        import torch

        dtype = getattr(torch, value["dtype"].removeprefix("torch."))
        return torch.as_tensor(np.asarray(value["v"])).to(dtype)
    raise ValueError(f"unknown state tag {tag!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, FitnessResult):
        out = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        out.update(
            metrics=dict(value.metrics),
            descriptors=list(value.descriptors),
            status=value.status.value,
            cost=_plain(value.cost),
        )
        return out
    return dataclasses.asdict(value)


def _result(data: dict[str, Any]) -> FitnessResult:
    return FitnessResult(
        score=float(data["score"]),
        metrics=data["metrics"],
        descriptors=tuple(data["descriptors"]),
        status=Status(data["status"]),
        error=data["error"],
        feedback=data["feedback"],
        eval_seconds=float(data["eval_seconds"]),
        cost=Cost(**data["cost"]),
    )


def individual_to_json(ind: Individual) -> dict[str, Any]:
    """A JSON-able dict of an ``Individual`` (exact: floats round-trip through repr)."""
    return {
        "id": ind.id,
        "kind": ind.genome.kind,
        "genome": ind.genome.to_json(),
        "parent_ids": list(ind.parent_ids),
        "operator": ind.operator,
        "operator_params": dict(ind.operator_params),
        "generation": ind.generation,
        "island": ind.island,
        "result": None if ind.result is None else _plain(ind.result),
        "cost": _plain(ind.cost),
    }


def individual_from_json(data: dict[str, Any]) -> Individual:
    return Individual(
        id=int(data["id"]),
        genome=genome_from_json(data["kind"], data["genome"]),
        parent_ids=tuple(data["parent_ids"]),
        operator=data["operator"],
        operator_params=data["operator_params"],
        generation=int(data["generation"]),
        island=int(data["island"]),
        result=None if data["result"] is None else _result(data["result"]),
        cost=Cost(**data["cost"]),
    )
