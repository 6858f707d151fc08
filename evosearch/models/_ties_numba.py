"""Fused CPU kernels of ``fast_ties`` (numba, IEEE arithmetic: no fast-math, no contraction).

One pass per model brackets the threshold; one pass over all models does mergekit's TIES
arithmetic per element, in mergekit's order, so each output element equals the unfused
torch computation bit for bit. The element loops are branch-free (selects), so LLVM
vectorises them. Compiled on first use and cached by numba.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, error_model="numpy")
def band(e, b, lo, hi, out):
    """Count ``|e−b| > hi``; write the values in ``[lo, hi]`` to ``out[:m]`` (``m``: their count).

    ``out`` has room for its length − 1 values; ``m`` ≥ that length means it overflowed.
    """
    above = 0
    m = 0
    last = out.shape[0] - 1
    for i in range(e.shape[0]):
        v = abs(e[i] - b[i])
        above += v > hi
        out[min(m, last)] = v
        m += (v >= lo) & (v <= hi)
    return above, m


@numba.njit(inline="always", nogil=True)
def _kept(x, t, zero):
    """Mergekit's ``δ · mask`` for one element: ``δ`` where ``|δ| ≥ t``, else ``δ · 0``."""
    return x * zero if abs(x) < t else x


@numba.njit(inline="always", nogil=True)
def _elect(d, pos, zero):
    """TIES sign election of one weighted delta: ``(d, True)`` or ``(d · 0, False)``.

    ``d`` is kept when its sign is the elected one (``pos``: ``Σ ≥ 0``, so ``+``).
    """
    keep = (pos & (d > zero)) | ((not pos) & (d < zero))
    return (d if keep else d * zero), keep


@numba.njit(cache=True, nogil=True, error_model="numpy")
def combine(base, entries, thresholds, weights, normalize, use_lam, lam, zero, one, out):
    """Mergekit's ties ``merge_group`` for one flattened tensor (see ``fast_ties``).

    One loop over the elements; the loops over the models inside it have a trip count
    fixed by the tuple's type (numba compiles one version per model count), so LLVM
    unrolls them and vectorises over elements. Each weighted delta is computed twice
    (for the sum that elects the sign, then for the masked sum) rather than stored.
    ``thresholds``, ``weights``, ``lam``, ``zero`` and ``one`` have the tensors' dtype, so
    no step is promoted to another precision.
    """
    M = len(entries)
    for i in range(base.shape[0]):
        bi = base[i]
        s = zero
        for j in range(M):
            d = _kept(entries[j][i] - bi, thresholds[j], zero) * weights[j]
            s = d if j == 0 else s + d
        pos = s >= zero
        mixed = zero
        div = zero  # Σ weight·kept: its sign of zero does not matter (div == 0 → 1)
        for j in range(M):
            d = _kept(entries[j][i] - bi, thresholds[j], zero) * weights[j]
            d, keep = _elect(d, pos, zero)
            mixed = d if j == 0 else mixed + d
            div = div + (weights[j] if keep else weights[j] * zero)
        if normalize:
            mixed = mixed / (one if div == zero else div)
        if use_lam:
            mixed = mixed * lam
        out[i] = bi + mixed
