"""``Materialiser``: weight recipes → state dicts on the evaluation device.

Pool models are used as they are (resident, shared, never copied). A merge or noise node is
computed tensor by tensor from its parents' state dicts and kept in an LRU cache on the
device, bounded in bytes, so siblings that share a parent do not rebuild it. Elites can be
snapshotted to ``.safetensors`` (named by recipe fingerprint): a later build of that recipe,
or of anything derived from it, loads the snapshot instead of replaying a long chain.
The same recipe always rebuilds the same weights, bit for bit, on the same device.
"""

from __future__ import annotations

import collections
import pathlib
from collections.abc import Mapping
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from evosearch.genomes.weights import WeightsGenome, validate_recipe
from evosearch.models import merging
from evosearch.models.noise import add_noise
from evosearch.models.pool import ModelPool, PoolError

StateDict = dict[str, torch.Tensor]


def state_bytes(sd: Mapping[str, torch.Tensor]) -> int:
    """Bytes held by the tensors of a state dict."""
    return sum(t.numel() * t.element_size() for t in sd.values())


class Materialiser:
    """Builds recipes over a pool, with an LRU cache on the device and elite snapshots.

    Args:
        pool: The model pool (its device is the default device).
        device: Where merged weights are computed and cached.
        cache_bytes: Upper bound on cached (non-pool) weights; the least recently used
            recipes are dropped first. 0 disables caching.
        snapshot_dir: Where ``snapshot()`` writes and builds look for snapshots.
    """

    def __init__(
        self,
        pool: ModelPool,
        *,
        device: str | torch.device | None = None,
        cache_bytes: int = 2 * 2**30,
        snapshot_dir: str | pathlib.Path | None = None,
    ):
        self.pool = pool
        self.device = torch.device(device) if device is not None else pool.device
        self.cache_bytes = int(cache_bytes)
        self.snapshot_dir = pathlib.Path(snapshot_dir) if snapshot_dir else None
        self._cache: collections.OrderedDict[str, tuple[StateDict, int]] = collections.OrderedDict()
        self.stats = {"hits": 0, "builds": 0, "snapshot_loads": 0}

    # ------------------------------------------------------------------ checks
    def check(self, genome: WeightsGenome | Mapping[str, Any]) -> None:
        """Check a recipe against the pool and mergekit before anything runs.

        Raises:
            PoolError: a recipe names a model the pool lacks.
            merging.MergeParamError: an unknown method or parameter.
        """
        recipe = _recipe(genome)
        g = WeightsGenome(recipe)
        for name in g.leaves():
            self.pool.model(name)
        _check_node(recipe, "recipe")

    # ------------------------------------------------------------------ building
    def state_dict(self, genome: WeightsGenome | Mapping[str, Any]) -> StateDict:
        """The weights of a recipe on the device (do not modify them: they may be shared).

        Raises:
            PoolError, merging.MergeParamError: for recipes that cannot be built.
        """
        recipe = _recipe(genome)
        if "merge" not in recipe and "noise" not in recipe:
            return self._pool_state(recipe["base"])
        key = WeightsGenome(recipe).fingerprint()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.stats["hits"] += 1
            return hit[0]
        sd = self._load_snapshot(key)
        if sd is None:
            sd = self._build(recipe)
            self.stats["builds"] += 1
        self._remember(key, sd)
        return sd

    def _pool_state(self, name: str) -> StateDict:
        sd = self.pool.state_dict(name)
        if self.device != self.pool.device:
            sd = {k: v.to(self.device) for k, v in sd.items()}
        return sd

    def _build(self, recipe: Mapping[str, Any]) -> StateDict:
        names = self.pool.tensor_names
        if "noise" in recipe:
            parent = self.state_dict(recipe["parent"])
            seed, sigma, mask_p = recipe["noise"], recipe["sigma"], recipe.get("mask_p")
            with torch.no_grad():
                return {n: add_noise(parent[n], seed, n, sigma, mask_p) for n in names}
        parents = [self.state_dict(p) for p in recipe["parents"]]
        return merging.merge_node(recipe, parents, names, self.device)

    def _remember(self, key: str, sd: StateDict) -> None:
        if self.cache_bytes <= 0:
            return
        size = state_bytes(sd)
        self._cache[key] = (sd, size)
        self._cache.move_to_end(key)
        total = sum(s for _, s in self._cache.values())
        while total > self.cache_bytes and len(self._cache) > 1:
            _, (_, dropped) = self._cache.popitem(last=False)
            total -= dropped

    @property
    def cached_bytes(self) -> int:
        return sum(s for _, s in self._cache.values())

    def clear(self) -> None:
        """Drop every cached recipe (pool models stay resident)."""
        self._cache.clear()

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, genome: WeightsGenome | Mapping[str, Any]) -> pathlib.Path:
        """Write the recipe's weights to ``snapshot_dir/<fingerprint>.safetensors``.

        Raises:
            ValueError: when the materialiser has no snapshot directory.
        """
        if self.snapshot_dir is None:
            raise ValueError("this Materialiser has no snapshot_dir")
        recipe = _recipe(genome)
        key = WeightsGenome(recipe).fingerprint()
        path = self.snapshot_dir / f"{key}.safetensors"
        if not path.exists():
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            sd = self.state_dict(recipe)
            tmp = path.with_suffix(".tmp")
            save_file({k: v.detach().contiguous().cpu() for k, v in sd.items()}, str(tmp))
            tmp.replace(path)
        return path

    def _load_snapshot(self, key: str) -> StateDict | None:
        if self.snapshot_dir is None:
            return None
        path = self.snapshot_dir / f"{key}.safetensors"
        if not path.is_file():
            return None
        self.stats["snapshot_loads"] += 1
        sd = load_file(str(path), device=str(self.device))
        return {n: sd[n] for n in self.pool.tensor_names}

    # ------------------------------------------------------------------ models
    def load_into(self, module: torch.nn.Module, genome: WeightsGenome | Mapping[str, Any]) -> None:
        """Copy a recipe's weights into ``module``'s parameters in place (evaluation skeleton).

        Raises:
            PoolError: when the module's tensors do not match the pool's.
        """
        sd = self.state_dict(genome)
        own = module.state_dict()
        missing = [k for k in sd if k not in own]
        if missing:
            raise PoolError(f"the model has no tensors {missing[:3]} that the pool has")
        with torch.no_grad():
            for name, tensor in sd.items():
                own[name].copy_(tensor)


def _recipe(genome: WeightsGenome | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(genome, WeightsGenome):
        return genome.recipe
    return validate_recipe(dict(genome))


def _check_node(node: Mapping[str, Any], where: str) -> None:
    if "merge" in node:
        merging.check_params(
            node["merge"],
            node.get("params") or {},
            len(node["parents"]),
            node.get("base"),
            node.get("slices"),
            where=f"{where}.params",
        )
        for i, p in enumerate(node["parents"]):
            _check_node(p, f"{where}.parents.{i}")
    elif "noise" in node:
        _check_node(node["parent"], f"{where}.parent")
