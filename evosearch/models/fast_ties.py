"""TIES without sorting: mergekit's ``ties`` kernel with a selection threshold instead of argsort.

mergekit's ``sparsify.magnitude`` keeps the ``k = max(1, int(density·n))`` largest-magnitude
entries of each task vector by sorting the whole tensor (``torch.argsort``), once per tensor
per model: on CPU that is ~90 % of a TIES merge. Here the same ``k`` is kept by a threshold:

1. a strided sample of ``|δ|`` brackets the k-th largest magnitude in ``[lo, hi]``;
2. one chunked pass counts the entries above ``hi`` and collects those inside ``[lo, hi]``
   (a small band), and ``kthvalue`` on the band gives the exact k-th largest magnitude ``t``
   (when the sample's bracket misses, ``kthvalue`` on the whole ``|δ|`` does);
3. a chunked pass applies ``|δ| ≥ t`` and the rest of mergekit's ``merge_group`` — weights,
   sign election by summed mass, disjoint mean, ``lambda`` — element by element, with the
   same torch operations in the same order, so each output element is bit-identical.

Where the magnitudes around the threshold are distinct, the kept set is exactly mergekit's.
At an exact tie *at* the threshold (several entries with ``|δ| = t`` straddling rank k) this
keeps all of them, while mergekit keeps whichever ``argsort`` happened to place first (an
order torch does not specify). Ties at ``|δ| = 0`` change nothing: a kept zero adds zero.
Chunks bound the extra memory to a few chunk-sized buffers per model, and everything runs on
the tensors' device (CUDA included). Variants this does not cover exactly (``rescale``, which
needs whole-tensor norms, ``int8_mask`` and other sparsifications) use mergekit's kernel.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

CHUNK = 1 << 16
"""Elements per chunk of the streaming passes (256 KiB of float32 per buffer: cache-resident)."""

SAMPLE = 1 << 16
"""Sampled magnitudes used to bracket the threshold."""

PARALLEL_MIN = 1 << 20
"""Tensors from this many elements are merged on ``torch.get_num_threads()`` threads."""


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1)


def kth_largest_abs_delta(
    entry: torch.Tensor, base: torch.Tensor, k: int, chunk: int = CHUNK
) -> torch.Tensor:
    """The k-th largest ``|entry − base|`` (1-based), without sorting or materialising ``δ``.

    Returns a 0-d tensor (float32, or float64 for float64 inputs) on the inputs' device.
    """
    e, b = _flat(entry), _flat(base)
    n = e.numel()
    work = torch.float64 if e.dtype == torch.float64 else torch.float32
    if n <= 4 * SAMPLE:
        w = (e - b).abs().to(work)
        return w.kthvalue(n - k + 1).values
    stride = max(1, n // SAMPLE)
    s = (e[::stride] - b[::stride]).abs().to(work)
    q = 1.0 - k / n
    margin = 6.0 / s.numel() ** 0.5 + 1.0 / s.numel()
    qs = torch.tensor([max(q - margin, 0.0), min(q + margin, 1.0)], dtype=work, device=s.device)
    lo, hi = torch.quantile(s, qs).tolist()
    size = min(chunk, n)
    d = torch.empty(size, dtype=e.dtype, device=e.device)
    w = d if work == e.dtype else torch.empty(size, dtype=work, device=e.device)
    above_hi = torch.empty(size, dtype=torch.bool, device=e.device)
    in_band = torch.empty(size, dtype=torch.bool, device=e.device)
    above = torch.zeros((), dtype=torch.int64, device=e.device)
    band: list[torch.Tensor] = []
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        dd, ww, ah, ib = d[:m], w[:m], above_hi[:m], in_band[:m]
        torch.sub(e[i : i + m], b[i : i + m], out=dd)
        torch.abs(dd, out=dd)
        if ww is not dd:
            ww.copy_(dd)
        torch.gt(ww, hi, out=ah)
        above += ah.sum()
        torch.ge(ww, lo, out=ib)
        ib.logical_xor_(ah)  # lo <= |d| <= hi
        band.append(ww[ib])
    inside = torch.cat(band)
    rank = k - int(above)  # rank of the threshold inside the band, counted from its top
    if lo == hi and 1 <= rank <= inside.numel():  # every band value is lo (e.g. δ ≡ 0)
        return torch.tensor(lo, dtype=work, device=e.device)
    if 1 <= rank <= inside.numel():
        return inside.kthvalue(inside.numel() - rank + 1).values
    full = (e - b).abs().to(work)  # the sample's bracket missed: select on the whole tensor
    return full.kthvalue(n - k + 1).values


def ties_merge_group(
    base: torch.Tensor,
    entries: list[torch.Tensor],
    weights: list[float],
    densities: list[float],
    *,
    normalize: bool,
    lam: float,
    chunk: int = CHUNK,
) -> torch.Tensor:
    """Mergekit's ``ties`` merge of one tensor (magnitude sparsification, sum consensus).

    The arithmetic is mergekit's ``GeneralizedTaskArithmeticMerge.merge_group`` step for step
    (``δ·mask``, ``·weight``, ``sign(δ) == sign(Σδ)``, masked sums, ``/ Σ weight·mask``,
    ``·lambda``, ``base +``), applied chunk by chunk into preallocated buffers (every step but
    the threshold is element-wise or a reduction over the models), so each output element is
    bit-identical to mergekit's wherever the kept sets agree (see the module docstring).
    """
    if not entries:
        return base
    if _numba_ok(base, entries):
        return _ties_numba_path(base, entries, weights, densities, normalize=normalize, lam=lam)
    n = base.numel()
    thresholds: list[torch.Tensor | None] = []
    for e, dens in zip(entries, densities):
        if dens >= 1:
            thresholds.append(None)
        elif dens <= 0 or n == 0:
            thresholds.append(torch.tensor(float("inf"), device=base.device))
        else:
            thresholds.append(kth_largest_abs_delta(e, base, max(1, int(dens * n)), chunk))
    out = torch.empty_like(base)
    ob, fb = _flat(out), _flat(base)
    fe = [_flat(e) for e in entries]
    dt, dev, M = base.dtype, base.device, len(entries)
    w = torch.tensor(weights, dtype=dt, device=dev).unsqueeze(-1)
    size = max(1, min(chunk, n))
    deltas = torch.empty((M, size), dtype=dt, device=dev)
    mag = torch.empty(
        size, dtype=torch.float64 if dt == torch.float64 else torch.float32, device=dev
    )
    keep = torch.empty(size, dtype=torch.bool, device=dev)
    sign = torch.empty((M, size), dtype=dt, device=dev)
    majority = torch.empty(size, dtype=dt, device=dev)
    mask = torch.empty((M, size), dtype=torch.bool, device=dev)
    wmask = torch.empty((M, size), dtype=dt, device=dev)
    mixed = torch.empty(size, dtype=dt, device=dev)
    divisor = torch.empty(size, dtype=dt, device=dev)
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        b, D, S, Mk, WM = fb[i : i + m], deltas[:, :m], sign[:, :m], mask[:, :m], wmask[:, :m]
        mx, dv, mj = mixed[:m], divisor[:m], majority[:m]
        for j, (e, t) in enumerate(zip(fe, thresholds)):
            torch.sub(e[i : i + m], b, out=D[j])
            if t is not None:
                mg = mag[:m]
                torch.abs(D[j], out=mg) if mg.dtype == dt else mg.copy_(D[j].abs())
                torch.ge(mg, t, out=keep[:m])
                D[j].mul_(keep[:m])  # δ · mask (a bool mask multiplies as 0.0 / 1.0)
        D.mul_(w)
        torch.sign(D, out=S)
        torch.sum(D, dim=0, out=mx)
        torch.ge(mx, 0, out=keep[:m])
        mj.copy_(keep[:m]).mul_(2).sub_(1)
        torch.eq(S, mj, out=Mk)
        D.mul_(Mk)
        torch.sum(D, dim=0, out=mx)
        torch.mul(w, Mk, out=WM)
        torch.sum(WM, dim=0, out=dv)
        dv.masked_fill_(dv == 0, 1)
        if normalize:
            mx.div_(dv)
        if lam != 1:
            mx.mul_(lam)
        torch.add(b, mx, out=ob[i : i + m])
    return out


def _numba_ok(base: torch.Tensor, entries: list[torch.Tensor]) -> bool:
    if base.device.type != "cpu" or base.dtype not in (torch.float32, torch.float64):
        return False
    if any(e.dtype != base.dtype or e.device != base.device for e in entries):
        return False
    try:
        from evosearch.models import _ties_numba  # noqa: F401
    except ImportError:  # numba missing: the torch path
        return False
    return True


def _np(t: torch.Tensor):
    return _flat(t).contiguous().numpy()


def _kth_numba(e, b, k: int, dtype) -> Any:
    """The k-th largest ``|e − b|`` of flat numpy arrays (sample bracket + band select)."""
    import numpy as np

    from evosearch.models._ties_numba import band

    n = e.shape[0]
    if n <= 4 * SAMPLE:
        w = np.abs(e - b)
        return np.partition(w, n - k)[n - k]
    stride = max(1, n // SAMPLE)
    s = np.abs(e[::stride] - b[::stride])
    q = 1.0 - k / n
    margin = 6.0 / s.shape[0] ** 0.5 + 1.0 / s.shape[0]
    top = s.shape[0] - 1  # the bracket's order statistics (a selection, not a sort)
    i_lo = int(max(q - margin, 0.0) * top)
    i_hi = min(top, int(np.ceil(min(q + margin, 1.0) * top)))
    part = np.partition(s, (i_lo, i_hi))
    lo, hi = part[i_lo].astype(dtype), part[i_hi].astype(dtype)
    cap = int(3 * margin * n) + 1024
    buf = np.empty(min(cap, n) + 1, dtype=dtype)
    above, m = band(e, b, lo, hi, buf)
    rank = k - above
    if lo == hi and 1 <= rank <= m:  # every band value is lo (e.g. a frozen tensor: δ ≡ 0)
        return lo
    if m < buf.shape[0] and 1 <= rank <= m:
        inside = buf[:m]
        return np.partition(inside, m - rank)[m - rank]
    w = np.abs(e - b)  # the sample's bracket missed: select on the whole tensor
    return np.partition(w, n - k)[n - k]


_POOLS: dict[int, Any] = {}


def _parallel(jobs: list, threads: int) -> list:
    """Run zero-argument callables (numba kernels release the GIL) on ``threads`` threads.

    The calling thread runs the first job itself; the rest go to a persistent pool of
    ``threads − 1`` workers (starting threads per tensor cost ~1 ms each: 15 % of a merge).
    """
    if threads <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    pool = _POOLS.get(threads)
    if pool is None:
        pool = _POOLS[threads] = ThreadPoolExecutor(threads - 1, thread_name_prefix="evo-merge")
    futures = [pool.submit(job) for job in jobs[1:]]
    first = jobs[0]()
    return [first, *(f.result() for f in futures)]


def _ties_numba_path(base, entries, weights, densities, *, normalize: bool, lam: float):
    import numpy as np

    from evosearch.models._ties_numba import combine

    b = _np(base)
    es = tuple(_np(e) for e in entries)
    dt = b.dtype.type
    n = b.shape[0]
    threads = torch.get_num_threads() if n >= PARALLEL_MIN else 1
    th = np.empty(len(es), dtype=b.dtype)
    jobs = []
    for j, (e, dens) in enumerate(zip(es, densities)):
        if dens >= 1:
            th[j] = -np.inf
        elif dens <= 0 or n == 0:
            th[j] = np.inf
        else:
            k = max(1, int(dens * n))
            jobs.append((j, lambda e=e, k=k: _kth_numba(e, b, k, b.dtype)))
    for (j, _), t in zip(jobs, _parallel([job for _, job in jobs], threads)):
        th[j] = t
    out = torch.empty_like(base)
    o = _flat(out).numpy()
    w = np.asarray(weights, dtype=b.dtype)
    args = (th, w, bool(normalize), lam != 1, dt(lam), dt(0), dt(1))
    step = -(-n // threads) if n else 1
    parts = [
        lambda lo=lo: combine(
            b[lo : lo + step], tuple(e[lo : lo + step] for e in es), *args, o[lo : lo + step]
        )
        for lo in range(0, n, step)
    ]
    _parallel(parts, threads)
    return out


FAST_METHODS = frozenset({"ties", "dare_ties", "dare_linear"})
"""mergekit methods with a faster kernel here (``ties`` below, the DARE pair in ``fast_dare``)."""


def fast_method(m: Any) -> Any:
    """A drop-in replacement for a mergekit method object with a fast kernel (else ``m``).

    ``ties``, ``dare_ties`` and ``dare_linear`` have one (``FAST_METHODS``).
    The returned object is mergekit's own method class with ``merge_group`` swapped, so
    parameter resolution, defaults and dtype handling stay mergekit's. Where a fast kernel
    does not reproduce mergekit (see each module), it calls mergekit's ``merge_group``.
    """
    from mergekit.merge_methods.generalized_task_arithmetic import (
        GeneralizedTaskArithmeticMerge,
    )

    if type(m) is not GeneralizedTaskArithmeticMerge or m.method_name not in FAST_METHODS:
        return m
    return _FAST.setdefault(m.method_name, _fast_class()(**dataclasses.asdict(m)))


_FAST: dict[str, Any] = {}


def _fast_class() -> type:
    from mergekit.merge_methods.generalized_task_arithmetic import (
        GeneralizedTaskArithmeticMerge,
    )

    @dataclasses.dataclass(frozen=True)
    class FastMerge(GeneralizedTaskArithmeticMerge):
        def merge_group(self, group: Any, /, **parameters: Any) -> torch.Tensor:
            entries = group.non_base
            base = group.base.tensor
            tensors = [e.tensor for e in entries]
            weights = [float(parameters["weight"][e.id]) for e in entries]
            densities = [float(parameters["density"][e.id]) for e in entries]
            if self.method_name == "ties":
                if parameters.get("rescale") or parameters.get("int8_mask"):
                    return super().merge_group(group, **parameters)
                return ties_merge_group(
                    base,
                    tensors,
                    weights,
                    densities,
                    normalize=bool(parameters["normalize"]),
                    lam=float(parameters["lambda"]),
                )
            from evosearch.models import fast_dare

            if not fast_dare.covers(base, tensors, parameters):
                return super().merge_group(group, **parameters)
            return fast_dare.dare_merge_group(
                base,
                tensors,
                weights,
                densities,
                consensus=self.consensus_method is not None,
                rescale=bool(parameters["rescale"]),
                normalize=bool(parameters["normalize"]),
                lam=float(parameters["lambda"]),
            )

    return FastMerge
