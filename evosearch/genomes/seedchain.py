"""``SeedChainGenome``: network weights stored as the list of seeds that made them.

The compact encoding of Such et al., "Deep Neuroevolution" (2017): θ = θ₀(seed₀) +
Σᵢ σ·ε(seedᵢ), every ε regenerated from its seed. A genome of a 10⁶-parameter network is a
few integers, and any stored individual rebuilds bit-identical weights.

``decode(n)`` returns the flat float32 parameter vector of length ``n``: θ₀ is a standard
normal draw scaled per layer by the caller (``init_scale``), each mutation a standard normal
draw times ``sigma``. All draws use ``torch.Generator`` seeded from the seed (CPU, so the
weights are the same on every device).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch

from evosearch.genomes.base import content_hash, genome_kind

MAX_SEED = 2**63 - 1


@genome_kind
@dataclasses.dataclass(frozen=True)
class SeedChainGenome:
    """Initial seed, then one seed per Gaussian mutation.

    Attributes:
        seeds: ``seeds[0]`` draws θ₀; each later seed one mutation ε.
        sigma: Mutation strength σ.
    """

    kind: ClassVar[str] = "seedchain"

    seeds: tuple[int, ...]
    sigma: float = 0.002

    def __post_init__(self) -> None:
        seeds = tuple(int(s) for s in self.seeds)
        if not seeds:
            raise ValueError("SeedChainGenome needs at least the initial seed")
        bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
        if bad:
            raise ValueError(f"seeds must be in [0, 2**63); got {bad[:3]}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "sigma", float(self.sigma))

    def mutated(self, seed: int) -> SeedChainGenome:
        """The child with one more mutation."""
        return SeedChainGenome((*self.seeds, int(seed)), self.sigma)

    def decode(self, n: int, init_scale: torch.Tensor | None = None) -> torch.Tensor:
        """Rebuild the flat float32 parameter vector.

        Args:
            n: Number of parameters.
            init_scale: Per-parameter scale of θ₀ (e.g. 1/√fan_in for weights, 0 for
                biases); default 1.

        Returns:
            A CPU tensor of shape ``(n,)``.
        """
        theta = _normal(self.seeds[0], n)
        if init_scale is not None:
            theta = theta * init_scale
        for seed in self.seeds[1:]:
            theta = theta + self.sigma * _normal(seed, n)
        return theta

    def to_json(self) -> dict[str, Any]:
        return {"seeds": list(self.seeds), "sigma": self.sigma}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeedChainGenome:
        return cls(tuple(data["seeds"]), data.get("sigma", 0.002))

    def fingerprint(self) -> str:
        return content_hash({"kind": self.kind, **self.to_json()})

    def summary(self) -> str:
        return f"seedchain[{len(self.seeds)}](seed0={self.seeds[0]}, sigma={self.sigma:g})"


def _normal(seed: int, n: int) -> torch.Tensor:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(n, generator=gen, dtype=torch.float32)
