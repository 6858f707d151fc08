"""CartPole-v1 returns of seed-chain MLP policies, the whole population in one batched call.

Every individual's weights are decoded from its ``SeedChainGenome`` and stacked; one
``torch.func.vmap`` over ``torch.func.functional_call`` evaluates all policies at once, and
gymnasium's numpy-vectorised ``CartPoleVectorEnv`` steps all ``population × episodes``
episodes in lockstep. All individuals in a call face the same episodes (common random
start states drawn from the seed), so their returns are comparable.

``sequential_returns`` is the reference: one individual at a time, one gymnasium
``CartPoleEnv`` episode at a time; tests check both give the same returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.seedchain import SeedChainGenome

OBS, ACTIONS, MAX_STEPS = 4, 2, 500


class PolicySpec:
    """An MLP policy ``4 → hidden… → 2`` (tanh), greedy action = argmax of the logits.

    Args:
        hidden: Hidden layer widths.
    """

    def __init__(self, hidden: Sequence[int] = (16,)):
        sizes = [OBS, *hidden, ACTIONS]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.Tanh())
        self.module = nn.Sequential(*layers).requires_grad_(False)
        self.shapes = {k: tuple(v.shape) for k, v in self.module.named_parameters()}
        scale = []
        for name, shape in self.shapes.items():
            fan_in = shape[1] if len(shape) == 2 else 1
            value = 1.0 / math.sqrt(fan_in) if name.endswith("weight") else 0.0
            scale.append(torch.full((math.prod(shape),), value))
        self.init_scale = torch.cat(scale)
        self.size = int(self.init_scale.numel())

    def params(self, genome: SeedChainGenome) -> dict[str, torch.Tensor]:
        """The named parameter tensors encoded by ``genome``."""
        flat = genome.decode(self.size, self.init_scale)
        out, start = {}, 0
        for name, shape in self.shapes.items():
            n = math.prod(shape)
            out[name] = flat[start : start + n].view(shape)
            start += n
        return out

    def stacked(
        self, genomes: Sequence[SeedChainGenome], device: str = "cpu"
    ) -> dict[str, torch.Tensor]:
        """Parameters of a population stacked along a new leading axis."""
        per = [self.params(g) for g in genomes]
        return {k: torch.stack([p[k] for p in per]).to(device) for k in self.shapes}


def start_states(seed: int, episodes: int) -> np.ndarray:
    """Episode start states ``(episodes, 4)``, uniform in [-0.05, 0.05] as gymnasium draws."""
    return np.stack(
        [np.random.default_rng([seed, e]).uniform(-0.05, 0.05, size=4) for e in range(episodes)]
    )


def batched_returns(
    genomes: Sequence[SeedChainGenome],
    spec: PolicySpec,
    *,
    episodes: int,
    seed: int,
    device: str = "cpu",
) -> np.ndarray:
    """Undiscounted returns of every genome on the same ``episodes`` start states.

    Args:
        genomes: The population.
        spec: Policy architecture.
        episodes: Episodes per individual.
        seed: Seeds the start states.
        device: Where the policies run.

    Returns:
        Returns, shape ``(len(genomes), episodes)``.
    """
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    pop = len(genomes)
    params = spec.stacked(genomes, device)
    module = spec.module.to(device)
    policy = torch.func.vmap(lambda p, x: torch.func.functional_call(module, p, x))
    env = CartPoleVectorEnv(num_envs=pop * episodes, max_episode_steps=MAX_STEPS)
    env.reset(seed=seed)
    env.state = np.tile(start_states(seed, episodes), (pop, 1)).T.copy()  # (4, pop*episodes)
    obs = env.state.T.astype(np.float32)
    alive = np.ones(pop * episodes, dtype=bool)
    returns = np.zeros(pop * episodes)
    with torch.inference_mode():
        for _ in range(MAX_STEPS):
            x = torch.from_numpy(obs).to(device).view(pop, episodes, OBS)
            actions = policy(params, x).argmax(-1).reshape(-1).cpu().numpy()
            obs, reward, terminated, truncated, _ = env.step(actions.astype(np.int64))
            returns += np.where(alive, reward, 0.0)
            alive &= ~(terminated | truncated)
            if not alive.any():
                break
    env.close()
    return returns.reshape(pop, episodes)


def sequential_returns(
    genome: SeedChainGenome, spec: PolicySpec, *, episodes: int, seed: int
) -> np.ndarray:
    """The reference: one gymnasium ``CartPoleEnv`` episode at a time, unbatched policy.

    Returns:
        Returns, shape ``(episodes,)``.
    """
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    params = spec.params(genome)
    env = CartPoleEnv()
    out = np.zeros(episodes)
    for e, start in enumerate(start_states(seed, episodes)):
        env.reset(seed=seed)
        env.state = start.copy()
        obs = start.astype(np.float32)
        with torch.inference_mode():
            for _ in range(MAX_STEPS):
                logits = torch.func.functional_call(spec.module, params, torch.from_numpy(obs))
                obs, reward, terminated, truncated, _ = env.step(int(logits.argmax()))
                out[e] += reward
                if terminated or truncated:
                    break
    env.close()
    return out


_SPECS: dict[tuple[int, ...], PolicySpec] = {}


def policy_spec(hidden: Sequence[int]) -> PolicySpec:
    """A cached ``PolicySpec`` per hidden-layer layout."""
    key = tuple(int(h) for h in hidden)
    if key not in _SPECS:
        _SPECS[key] = PolicySpec(key)
    return _SPECS[key]


@fitness("cartpole", batched=True)
def cartpole(genomes: list[SeedChainGenome], ctx: FitnessContext) -> list[dict]:
    """Mean CartPole-v1 return over ``episodes`` common start states (max 500).

    Params: ``hidden`` (list of widths, default ``[16]``), ``episodes`` (default 5),
    ``seed`` (fixed start states; default: the per-call seed, i.e. new episodes each
    generation).
    """
    bad = [type(g).__name__ for g in genomes if not isinstance(g, SeedChainGenome)]
    if bad:
        raise TypeError(f"cartpole needs SeedChainGenome individuals, got {bad[0]}")
    p = ctx.params
    spec = policy_spec(p.get("hidden", [16]))
    episodes = int(p.get("episodes", 5))
    seed = int(p.get("seed", ctx.seed))
    returns = batched_returns(genomes, spec, episodes=episodes, seed=seed, device=ctx.device)
    return [
        {
            "score": float(r.mean()),
            "metrics": {"return_mean": float(r.mean()), "return_min": float(r.min())},
        }
        for r in returns
    ]
