"""``fast_dare``: the same masks as torch's generator, the same merge as mergekit's kernel."""

from __future__ import annotations

import pytest
import torch

from evosearch.models import fast_dare, fast_ties


def test_masks_and_generator_state_equal_torch_bernoulli():
    for seed, n, p in ((0, 1, 0.5), (1, 623, 0.3), (2, 624, 0.7), (3, 625, 0.1), (4, 5000, 0.999)):
        for warmup in (0, 1, 600, 1300):  # start at several positions of the twister's block
            torch.manual_seed(seed)
            torch.rand(warmup)
            want = torch.bernoulli(torch.full((n,), p))
            want_next = torch.rand(4)
            torch.manual_seed(seed)
            torch.rand(warmup)
            got = fast_dare.bernoulli_like(torch.empty(n), p)
            assert torch.equal(got, want), (seed, n, p, warmup)
            # the generator is left where torch leaves it
            assert torch.equal(torch.rand(4), want_next)


@pytest.mark.parametrize("name", ["dare_ties", "dare_linear"])
@pytest.mark.parametrize("numel, models", [(1, 1), (1000, 2), (2_000_001, 3)])
def test_fast_dare_equals_mergekit_kernel(name, numel, models):
    from mergekit.merge_methods import get, merge_tensors

    slow = get(name)
    fast = fast_ties.fast_method(slow)
    assert fast is not slow
    gen = torch.Generator().manual_seed(numel)
    tensors = [torch.randn(numel, generator=gen) for _ in range(models + 1)]
    densities = (0.0, 0.4, 1.0) if numel > 10_000 else (0.0, 0.05, 0.4, 0.999, 1.0)
    for density in densities:
        for extra in ({}, {"rescale": False}, {"normalize": True, "lambda": 0.7}):
            params = {"weight": [0.6, 1.4, -0.3][:models], "density": density, **extra}
            torch.manual_seed(7)
            ref = merge_tensors(tensors, slow, parameters=params, base_index=0)
            ref_next = torch.rand(2)
            torch.manual_seed(7)
            got = merge_tensors(tensors, fast, parameters=params, base_index=0)
            assert torch.equal(ref, got), (density, extra)
            assert torch.equal(torch.rand(2), ref_next)


def test_other_dtypes_and_int8_masks_use_mergekits_kernel():
    base = torch.zeros(10)
    assert fast_dare.covers(base, [torch.ones(10)], {})
    assert not fast_dare.covers(base, [torch.ones(10)], {"int8_mask": True})
    assert not fast_dare.covers(base.double(), [torch.ones(10).double()], {})
    assert not fast_dare.covers(base.bfloat16(), [torch.ones(10).bfloat16()], {})


def test_a_drawing_torch_disagrees_with_disables_the_fast_path(monkeypatch):
    monkeypatch.setattr(fast_dare, "_checked", None)
    monkeypatch.setattr(fast_dare, "_self_check", lambda: False)
    assert not fast_dare.covers(torch.zeros(3), [torch.ones(3)], {})
