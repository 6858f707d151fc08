"""Fused CPU kernels of ``fast_ties`` (numba, IEEE arithmetic: no fast-math, no contraction).

One pass per model brackets the threshold; one blocked pass over all models does mergekit's
TIES arithmetic per element, in mergekit's order, so each output element equals the unfused
torch computation bit for bit. The loops are branch-free over blocks of ``BLOCK`` elements
so LLVM vectorises them. Compiled on first use and cached by numba.
"""

from __future__ import annotations

import numba
import numpy as np

BLOCK = 512


@numba.njit(cache=True, nogil=True)
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
def _sum_rows(D, M, m, S):
    """``S[:m] = D[0, :m] + D[1, :m] + …`` over the ``M`` rows, in row order (inlined)."""
    for i in range(m):
        S[i] = D[0, i]
    for j in range(1, M):
        for i in range(m):
            S[i] = S[i] + D[j, i]


@numba.njit(inline="always", nogil=True)
def _elect(D, weights, m, S, W, zero):
    """TIES sign election in place, given ``S = Σ_j D[j]``.

    It keeps ``D[j, i]`` where its sign is ``+`` if ``S[i] ≥ 0`` else ``−`` (zero it
    otherwise), and sets ``W[:m] = Σ_j weight_j · kept_j``.
    """
    for j in range(D.shape[0]):
        w = weights[j]
        for i in range(m):
            x = D[j, i]
            keep = (x > zero) if S[i] >= zero else (x < zero)
            D[j, i] = x if keep else x * zero
            if j == 0:
                W[i] = w if keep else w * zero
            else:
                W[i] = W[i] + (w if keep else w * zero)


@numba.njit(cache=True, nogil=True)
def combine(base, entries, thresholds, weights, normalize, use_lam, lam, zero, one, out):
    """Mergekit's ties ``merge_group`` for one flattened tensor (see ``fast_ties``).

    ``thresholds``, ``weights``, ``lam``, ``zero`` and ``one`` have the tensors' dtype, so
    no step is promoted to another precision.
    """
    M = len(entries)
    n = base.shape[0]
    D = np.empty((M, BLOCK), dtype=base.dtype)
    S = np.empty(BLOCK, dtype=base.dtype)
    W = np.empty(BLOCK, dtype=base.dtype)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        bb = base[start : start + m]
        for j in range(M):
            ej = entries[j][start : start + m]
            t = thresholds[j]
            w = weights[j]
            for i in range(m):
                x = ej[i] - bb[i]
                x = x * zero if abs(x) < t else x
                D[j, i] = x * w
        _sum_rows(D, M, m, S)
        _elect(D, weights, m, S, W, zero)
        _sum_rows(D, M, m, S)
        for i in range(m):
            mixed = S[i]
            div = W[i]
            div = one if div == zero else div
            if normalize:
                mixed = mixed / div
            if use_lam:
                mixed = mixed * lam
            out[start + i] = bb[i] + mixed
