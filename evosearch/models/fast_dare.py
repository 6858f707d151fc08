"""DARE without mergekit's per-element overhead: the same masks, the same merge, fused on CPU.

mergekit's ``dare_ties`` and ``dare_linear`` drop each task-vector entry with probability
``1 − density`` (``torch.bernoulli`` on a tensor filled with ``density``), rescale the rest to
the task vector's L1 norm, then merge (TIES sign election for ``dare_ties``). On CPU, torch
draws the mask one element at a time through a generic serial kernel, and the merge makes a
dozen whole-tensor temporaries: a DARE-TIES merge takes ~10× a fast TIES merge.

Here:

1. the mask comes from ``_dare_numba.bernoulli``: torch's own Mersenne Twister run on the
   state read from torch's global CPU generator (``torch.get_rng_state``), with torch's
   float conversion and comparison, and the advanced state is written back. The masks, and
   every later draw, are the ones mergekit would get for the same seed. A self-check at
   first use compares it with ``torch.bernoulli``; if torch ever draws differently, the
   merge falls back to mergekit's kernel (and says so once in the log);
2. the L1 rescale uses torch's own ``abs().sum()`` on the whole tensor (so the scale is
   bit-identical: a different summation order would move it by an ulp);
3. one fused pass (``_dare_numba.combine``) does weights, sign election, masked sums,
   ``/ Σ weight·mask``, ``lambda`` and ``base +`` per element in mergekit's order.

So each output element equals mergekit's bit for bit (tested against ``mergekit-yaml``).
Covered: float32 tensors on CPU. Other dtypes, CUDA tensors (where torch's Philox draws
are already fast) and ``int8_mask`` use mergekit's kernel.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

import numpy as np
import torch

log = logging.getLogger("evosearch.models.fast_dare")

_LEFT, _NEXT, _STATE = 8, 16, 24
"""Byte offsets in torch's CPU generator state: ``left`` (int32), ``next`` (uint64), then
the 624 twister words (uint64 each), after ``the_initial_seed`` (uint64)."""

_checked: bool | None = None


def _available() -> bool:
    """Whether the twister emulation draws exactly what ``torch.bernoulli`` draws (checked once)."""
    global _checked
    if _checked is None:
        try:
            from evosearch.models import _dare_numba  # noqa: F401

            _checked = _self_check()
        except ImportError:
            _checked = False
        if not _checked:
            log.warning("fast DARE disabled: torch's CPU bernoulli draws differ; using mergekit's")
    return _checked


def _self_check() -> bool:
    with torch.random.fork_rng(devices=[]):
        for seed, n, p in ((7, 1, 0.5), (11, 1000, 0.3), (13, 2000, 0.9), (17, 700, 0.0)):
            torch.manual_seed(seed)
            torch.rand(5)  # start mid-block
            want = torch.bernoulli(torch.full((n,), p))
            after = torch.rand(3)
            torch.manual_seed(seed)
            torch.rand(5)
            got = bernoulli_like(torch.empty(n), p)
            if not torch.equal(want, got) or not torch.equal(after, torch.rand(3)):
                return False
    return True


def bernoulli_like(t: torch.Tensor, density: float) -> torch.Tensor:
    """The mask ``torch.bernoulli`` draws for a ``t``-shaped float32 tensor full of ``density``.

    It comes from the global CPU generator, which is left where torch leaves it.
    """
    from evosearch.models._dare_numba import N, bernoulli

    state = torch.get_rng_state()
    raw = bytearray(state.numpy().tobytes())
    left = struct.unpack_from("<i", raw, _LEFT)[0]
    mt = np.frombuffer(bytes(raw), dtype="<u8", count=N, offset=_STATE).copy()
    pos = N + 1 - left  # torch regenerates when ``left`` counts down to 0
    p = float(np.float32(density))
    out = torch.empty(t.shape, dtype=torch.float32)
    pos = bernoulli(mt, pos, p * 2.0**24, out.reshape(-1).numpy())
    struct.pack_into("<i", raw, _LEFT, N + 1 - pos)
    struct.pack_into("<Q", raw, _NEXT, pos)
    raw[_STATE : _STATE + 8 * N] = mt.astype("<u8").tobytes()
    torch.set_rng_state(torch.frombuffer(raw, dtype=torch.uint8).clone())
    return out


def sparsified_delta(
    entry: torch.Tensor, base: torch.Tensor, density: float, rescale: bool
) -> torch.Tensor:
    """The task vector sparsified as mergekit's ``sparsify(δ, density, "random")`` does it.

    ``rescale``: match the L1 norm of ``δ = entry − base``, as mergekit's ``rescale`` does.
    """
    delta = entry - base
    if density >= 1:
        return delta
    mask = bernoulli_like(delta, density)
    masked = delta * mask
    if not rescale:
        return masked
    before, after = delta.abs().sum(), masked.abs().sum()
    if before < 1e-7 or after < 1e-7:
        return masked
    return masked * (before / after)


def dare_merge_group(
    base: torch.Tensor,
    entries: list[torch.Tensor],
    weights: list[float],
    densities: list[float],
    *,
    consensus: bool,
    rescale: bool,
    normalize: bool,
    lam: float,
) -> torch.Tensor:
    """Merge one float32 tensor as mergekit's ``dare_ties`` (``consensus``) or ``dare_linear``."""
    from evosearch.models._dare_numba import combine
    from evosearch.models.fast_ties import PARALLEL_MIN, _parallel

    if not entries:
        return base
    deltas = tuple(
        sparsified_delta(e, base, d, rescale).reshape(-1).numpy()
        for e, d in zip(entries, densities)
    )
    b = base.reshape(-1).contiguous().numpy()
    out = torch.empty_like(base)
    o = out.reshape(-1).numpy()
    n = b.shape[0]
    one, zero = np.float32(1), np.float32(0)
    w = np.asarray(weights, dtype=np.float32)
    args = (w, bool(consensus), bool(normalize), lam != 1, np.float32(lam), zero, one)
    threads = torch.get_num_threads() if n >= PARALLEL_MIN else 1
    step = -(-n // threads) if n else 1
    _parallel(
        [
            lambda lo=lo: combine(
                b[lo : lo + step],
                tuple(d[lo : lo + step] for d in deltas),
                *args,
                o[lo : lo + step],
            )
            for lo in range(0, n, step)
        ],
        threads,
    )
    return out


def covers(base: torch.Tensor, entries: list[torch.Tensor], parameters: dict[str, Any]) -> bool:
    """Whether ``dare_merge_group`` reproduces mergekit here (else mergekit's kernel runs)."""
    if parameters.get("int8_mask"):
        return False
    tensors = [base, *entries]
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return False
    return _available()
