"""Seeded Gaussian noise on model weights: θ' = θ + σ·ε(seed), no noise is ever stored.

ε for a tensor is regenerated from ``(seed, tensor name)`` with a dedicated
``torch.Generator`` on the tensor's device, so a recipe of 10⁵ noise steps stays a list of
seeds (the Deep-Neuroevolution seed chain), and any tensor can be rebuilt alone. An optional
Bernoulli mask perturbs only a fraction ``mask_p`` of the entries (GENOME: p = 0.1, σ = 0.05).
``Materialiser`` applies it to a recipe's noise nodes; the ``noise.gaussian`` operator
(``evosearch.operators.noise``) only draws the seed.
"""

from __future__ import annotations

import hashlib

import torch


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed for one tensor, derived from the recipe seed and the tensor name."""
    digest = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def noise_like(
    tensor: torch.Tensor, seed: int, name: str, mask_p: float | None = None
) -> torch.Tensor:
    """ε (times the mask, if any) for one tensor, regenerated from ``(seed, name)``.

    Drawn in float32 on the tensor's device (so CPU and CUDA give different but each
    reproducible draws), then cast to the tensor's dtype.
    """
    gen = torch.Generator(device=tensor.device).manual_seed(tensor_seed(seed, name))
    eps = torch.randn(tensor.shape, generator=gen, device=tensor.device, dtype=torch.float32)
    if mask_p is not None and mask_p < 1:
        mask = torch.rand(tensor.shape, generator=gen, device=tensor.device) < mask_p
        eps.mul_(mask)
    return eps.to(tensor.dtype)


def add_noise(
    tensor: torch.Tensor, seed: int, name: str, sigma: float, mask_p: float | None = None
) -> torch.Tensor:
    """``tensor + sigma * ε(seed, name)`` as a new tensor (non-float tensors pass through)."""
    if not tensor.is_floating_point() or sigma == 0:
        return tensor
    eps = noise_like(tensor, seed, name, mask_p)
    return torch.add(tensor, eps, alpha=sigma)
