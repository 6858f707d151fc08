"""Seed-chain genomes rebuild identical weights from their seeds."""

from __future__ import annotations

import pytest
import torch

from evosearch.genomes.base import genome_from_json
from evosearch.genomes.seedchain import SeedChainGenome


def test_decoding_twice_and_after_a_json_round_trip_gives_identical_weights():
    g = SeedChainGenome((11,), 0.05).mutated(22).mutated(33)
    again = genome_from_json("seedchain", g.to_json())
    assert again == g and again.fingerprint() == g.fingerprint()
    assert torch.equal(g.decode(500), again.decode(500))
    assert torch.equal(g.decode(500), g.decode(500))


def test_the_chain_is_the_initial_draw_plus_sigma_times_each_mutation_draw():
    g = SeedChainGenome((5,), 0.1).mutated(6)
    eps = torch.randn(40, generator=torch.Generator().manual_seed(6))
    theta0 = torch.randn(40, generator=torch.Generator().manual_seed(5))
    assert torch.equal(g.decode(40), theta0 + 0.1 * eps)
    scale = torch.linspace(0, 1, 40)
    assert torch.equal(g.decode(40, scale), theta0 * scale + 0.1 * eps)


def test_different_seeds_give_different_weights_and_fingerprints():
    a, b = SeedChainGenome((1, 2)), SeedChainGenome((1, 3))
    assert a.fingerprint() != b.fingerprint()
    assert not torch.equal(a.decode(10), b.decode(10))


@pytest.mark.parametrize("seeds, sigma", [((), 0.1), ((-1,), 0.1), ((1,), 0.0)])
def test_bad_genomes_are_refused(seeds, sigma):
    with pytest.raises(ValueError):
        SeedChainGenome(seeds, sigma)
