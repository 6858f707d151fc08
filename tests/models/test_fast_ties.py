"""``fast_ties``: TIES without sorting equals mergekit's kernel and ``mergekit-yaml``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import subprocess_env
from pico_models import make_pico_llama, make_pico_qwen2
from safetensors.torch import load_file

from evosearch.genomes.weights import WeightsGenome as W
from evosearch.models import fast_dare, fast_ties, merging
from evosearch.models.export import mergekit_config
from evosearch.models.materialise import Materialiser
from evosearch.models.pool import ModelPool


def _mergekit_ties():
    from mergekit.merge_methods import get

    return get("ties")


@pytest.mark.parametrize(
    "numel, models, dtype",
    [
        (1, 2, torch.float32),
        (7, 1, torch.float32),
        (1000, 3, torch.float32),
        (1000, 2, torch.float64),
        (1000, 2, torch.bfloat16),
        (300_001, 2, torch.float32),  # above 4·SAMPLE: the sampled bracket and band path
    ],
)
def test_fast_kernel_equals_mergekit_on_distinct_magnitudes(numel, models, dtype):
    from mergekit.merge_methods import merge_tensors

    gen = torch.Generator().manual_seed(numel + models)
    tensors = [torch.randn(numel, generator=gen).to(dtype) for _ in range(models + 1)]
    slow, fast = _mergekit_ties(), fast_ties.fast_method(_mergekit_ties())
    assert fast is not slow
    for density in (0.0, 0.05, 0.5, 0.999, 1.0):
        for normalize, lam in ((True, 1.0), (False, 0.7)):
            params = {
                "weight": [0.6, 1.4, 0.3][:models],
                "density": density,
                "normalize": normalize,
                "lambda": lam,
            }
            ref = merge_tensors(tensors, slow, parameters=params, base_index=0)
            got = merge_tensors(tensors, fast, parameters=params, base_index=0)
            mags = [(t - tensors[0]).abs().float() for t in tensors[1:]]
            if dtype == torch.bfloat16 and any(m.unique().numel() < numel for m in mags):
                continue  # bf16 magnitudes repeat: ties at the threshold (next test)
            assert torch.equal(ref, got), (density, normalize)


def test_ties_at_the_threshold_keep_every_tied_entry():
    """mergekit keeps exactly k entries in argsort's (unspecified) order; we keep all ties."""
    base = torch.zeros(10)
    delta = torch.tensor([5.0, -4.0, 3.0, 3.0, -3.0, 1.0, 0.5, 0.0, 0.0, -0.2])
    k = int(0.3 * 10)  # the 3rd largest magnitude is 3.0, shared by three entries
    t = fast_ties.kth_largest_abs_delta(delta, base, k)
    assert float(t) == 3.0
    out = fast_ties.ties_merge_group(base, [delta], [1.0], [0.3], normalize=False, lam=1.0)
    assert out.tolist() == [5.0, -4.0, 3.0, 3.0, -3.0, 0, 0, 0, 0, 0]


def test_the_sample_bracket_falls_back_when_it_misses():
    # a heavy tie mass right at the threshold defeats the sampled bracket: exact anyway
    base = torch.zeros(400_000)
    delta = torch.cat([torch.full((200_000,), 1.0), torch.linspace(2, 3, 200_000)])
    for k in (1, 199_999, 200_000, 200_001, 399_999):
        want = delta.abs().kthvalue(delta.numel() - k + 1).values
        assert float(fast_ties.kth_largest_abs_delta(delta, base, k, chunk=4096)) == float(want)


def test_other_methods_keep_mergekit_kernels():
    for name in merging.METHODS:
        m = merging.method(name)
        assert (fast_ties.fast_method(m) is m) == (name not in fast_ties.FAST_METHODS)


@pytest.fixture(scope="module")
def two_architectures(tmp_path_factory):
    root = tmp_path_factory.mktemp("arch")
    return {
        "llama": {f"m{i}": make_pico_llama(root / f"llama{i}", seed=20 + i) for i in range(3)},
        "qwen2": {f"m{i}": make_pico_qwen2(root / f"qwen{i}", seed=30 + i) for i in range(3)},
    }


RECIPES = {
    "dare_ties": W.merge(
        "dare_ties",
        [W.base("m0"), W.base("m1"), W.base("m2")],
        {"weight": [0.5, 0.8], "density": 0.4},
        base=0,
        seed=5,
    ),
    "dare_linear": W.merge(
        "dare_linear",
        [W.base("m0"), W.base("m1"), W.base("m2")],
        {"weight": [0.7, 0.3], "density": 0.6, "rescale": False},
        base=0,
        seed=6,
    ),
    "ties": W.merge(
        "ties",
        [W.base("m0"), W.base("m1"), W.base("m2")],
        {"weight": [0.5, 0.8], "density": 0.4},
        base=0,
    ),
    "ties_slices": W.merge(
        "ties",
        [W.base("m0"), W.base("m1"), W.base("m2")],
        {"normalize": False},
        base=0,
        slices=[
            {"layers": [0, 1], "params": {"weight": [None, 0.9, 0.3], "density": 0.7}},
            {"layers": [1, 2], "params": {"weight": [None, 1.1, 0.6], "density": 0.2}},
        ],
    ),
}


def test_fast_ties_and_dare_equal_mergekit_yaml_on_two_architectures(
    two_architectures, tmp_path, monkeypatch
):
    calls = {"ties": 0, "dare": 0}
    ties_kernel, dare_kernel = fast_ties.ties_merge_group, fast_dare.dare_merge_group

    def count(kind, kernel):
        def wrapped(*args, **kwargs):
            calls[kind] += 1
            return kernel(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(fast_ties, "ties_merge_group", count("ties", ties_kernel))
    monkeypatch.setattr(fast_dare, "dare_merge_group", count("dare", dare_kernel))
    jobs, expected = [], []
    for arch, paths in two_architectures.items():
        pool = ModelPool(paths)
        for name, genome in RECIPES.items():
            cfg = tmp_path / f"{arch}-{name}.yml"
            cfg.write_text(yaml.safe_dump(mergekit_config(genome, pool)))
            args = [str(cfg), str(tmp_path / f"{arch}-{name}"), "--quiet"]
            if genome.recipe.get("seed") is not None:
                args += ["--random-seed", str(genome.recipe["seed"])]
            jobs.append(args)
            expected.append((arch, name, pool, genome))
    script = (
        "import sys, json\n"
        "from mergekit.scripts.run_yaml import main\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    main(args, standalone_mode=False)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(jobs)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for arch, name, pool, genome in expected:
        theirs = load_file(str(tmp_path / f"{arch}-{name}" / "model.safetensors"))
        ours = Materialiser(pool).state_dict(genome)
        slow = Materialiser(pool)
        assert set(ours) == set(theirs)
        for key in theirs:
            assert torch.equal(ours[key], theirs[key]), f"{arch} {name}: {key} differs"
        # and the in-memory mergekit kernel agrees too
        ref = merging.merge_node(
            genome.recipe,
            [pool.state_dict(n) for n in pool.names],
            pool.tensor_names,
            slow.device,
            fast=False,
        )
        assert all(torch.equal(ref[k], ours[k]) for k in ref)
    assert calls["ties"] and calls["dare"]  # the fast kernels ran, not mergekit's fallbacks


@pytest.mark.parametrize("numel", [300_001, 2_000_000])
def test_a_frozen_tensor_and_a_tie_mass_at_the_bracket_give_the_exact_threshold(numel):
    from mergekit.merge_methods import merge_tensors

    base = torch.randn(numel, generator=torch.Generator().manual_seed(3))
    frozen = base.clone()  # δ ≡ 0: the sampled bracket is [0, 0], the band is everything
    half = base.clone()
    half[: numel // 2] += 1.0  # half the magnitudes near 1, half exactly 0
    k = int(0.3 * numel)
    for e in (frozen, half):
        want = float((e - base).abs().kthvalue(numel - k + 1).values)
        assert float(fast_ties.kth_largest_abs_delta(e, base, k)) == want  # torch path
        assert float(fast_ties._kth_numba(e.numpy(), base.numpy(), k, np.float32)) == want
    params = {"weight": [0.7, 1.2], "density": 0.3}
    fast = fast_ties.fast_method(_mergekit_ties())
    tensors = [base, frozen, frozen]
    ref = merge_tensors(tensors, _mergekit_ties(), parameters=params, base_index=0)
    assert torch.equal(ref, merge_tensors(tensors, fast, parameters=params, base_index=0))
