"""Fused CPU kernels of ``fast_dare`` (numba, IEEE arithmetic: no fast-math, no contraction).

``bernoulli`` is torch's CPU ``torch.bernoulli(p)`` for a constant float32 ``p``: torch's
generator is a Mersenne Twister (MT19937) whose 32-bit draws become ``u = (r & 0xFFFFFF)·2⁻²⁴``
and the mask is ``u < p``. The kernel runs the same twister on the state read from torch,
so it yields the same mask and leaves the same state behind. ``combine`` is mergekit's
``GeneralizedTaskArithmeticMerge.merge_group`` after sparsification, element by element in
mergekit's order. Compiled on first use and cached by numba.
"""

from __future__ import annotations

import numba
import numpy as np

from evosearch.models._ties_numba import _elect

N = 624
M = 397


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _twist(mt):
    """Regenerate the 624-word state in place (the reference MT19937 recurrence)."""
    upper = np.uint64(0x80000000)
    lower = np.uint64(0x7FFFFFFF)
    matrix = np.uint64(0x9908B0DF)
    one = np.uint64(1)
    zero = np.uint64(0)
    for kk in range(N - M):
        y = (mt[kk] & upper) | (mt[kk + 1] & lower)
        mt[kk] = mt[kk + M] ^ (y >> one) ^ (matrix if y & one else zero)
    for kk in range(N - M, N - 1):
        y = (mt[kk] & upper) | (mt[kk + 1] & lower)
        mt[kk] = mt[kk + M - N] ^ (y >> one) ^ (matrix if y & one else zero)
    y = (mt[N - 1] & upper) | (mt[0] & lower)
    mt[N - 1] = mt[M - 1] ^ (y >> one) ^ (matrix if y & one else zero)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def bernoulli(mt, pos, threshold, out):
    """Write the float 0/1 mask ``u < p`` into ``out`` and return the twister's new position.

    ``mt``: the 624 state words (uint64 holding uint32, updated in place); ``pos``: the index
    of the next word (624: regenerate first); ``threshold``: ``p·2²⁴`` (float64, exact).
    """
    low24 = np.uint64(0xFFFFFF)
    m32 = np.uint64(0xFFFFFFFF)
    n = out.shape[0]
    i = 0
    while i < n:
        if pos >= N:
            _twist(mt)
            pos = 0
        stop = min(n, i + N - pos)
        for j in range(i, stop):
            y = mt[pos + j - i]
            y ^= y >> np.uint64(11)
            y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
            y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
            y ^= y >> np.uint64(18)
            y &= m32
            out[j] = 1.0 if np.float64(y & low24) < threshold else 0.0
        pos += stop - i
        i = stop
    return pos


@numba.njit(cache=True, nogil=True, error_model="numpy")
def combine(base, deltas, weights, consensus, normalize, use_lam, lam, zero, one, out):
    """Mergekit's ``merge_group`` from the sparsified deltas on (see ``fast_dare``).

    ``consensus``: TIES sign election by summed mass (``dare_ties``), else a plain weighted
    sum divided by ``Σ weight`` (``dare_linear``). One loop over the elements, the loops
    over the models inside it unrolled (see ``_ties_numba.combine``). ``weights``, ``lam``,
    ``zero`` and ``one`` have the tensors' dtype, so no step is promoted to another
    precision.
    """
    rows = len(deltas)
    wsum = weights[0]
    for j in range(1, rows):
        wsum = wsum + weights[j]
    if abs(wsum) < np.float32(1e-8):  # torch compares in the tensor's dtype
        wsum = one
    for i in range(base.shape[0]):
        s = zero
        for j in range(rows):
            d = deltas[j][i] * weights[j]
            s = d if j == 0 else s + d
        div = wsum
        if consensus:
            pos = s >= zero
            mixed = zero
            div = zero  # Σ weight·kept: its sign of zero does not matter (div == 0 → 1)
            for j in range(rows):
                d, keep = _elect(deltas[j][i] * weights[j], pos, zero)
                mixed = d if j == 0 else mixed + d
                div = div + (weights[j] if keep else weights[j] * zero)
            s = mixed
            div = one if div == zero else div
        if normalize:
            s = s / div
        if use_lam:
            s = s * lam
        out[i] = base[i] + s
