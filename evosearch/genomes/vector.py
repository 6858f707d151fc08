"""``VectorGenome``: a real vector with optional box bounds."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar

import numpy as np

from evosearch.genomes.base import genome_kind

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_LANES = (np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707344))  # digits of pi


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wraps modulo 2**64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def row_fingerprints(values: np.ndarray) -> np.ndarray:
    """16-byte content fingerprints of the rows of an ``[N, D]`` float64 array: ``[N, 16]`` uint8.

    Each coordinate's bits are mixed with a key of its position (``y = mix(bits + k1[j])``);
    the two 64-bit halves are ``mix(sum_j y)`` and ``mix(sum_j y * k2[j])`` (sums modulo
    2**64, ``k2`` odd). Equal rows (bit for bit) get equal fingerprints; moving a value to
    another coordinate changes it. Vectorised over the whole array, no Python loop per row.
    Not cryptographic: it identifies duplicates, it does not resist forgery.
    """
    bits = np.ascontiguousarray(values, dtype=np.float64).reshape(len(values), -1)
    n, d = bits.shape
    k1, k2 = _position_keys(d)
    out = np.empty((n, 2), np.uint64)
    with np.errstate(over="ignore"):
        y = _mix(bits.view(np.uint64) + k1)
        out[:, 0] = _mix(y.sum(axis=1, dtype=np.uint64) ^ k2[0])
        out[:, 1] = _mix((y * k2).sum(axis=1, dtype=np.uint64) + np.uint64(d))
    return out.view(np.uint8).reshape(n, 16)


@functools.lru_cache(maxsize=16)
def _position_keys(d: int) -> tuple[np.ndarray, np.ndarray]:
    pos = np.arange(1, d + 1, dtype=np.uint64) * _GOLDEN
    with np.errstate(over="ignore"):
        k1 = _mix(pos + _LANES[0])
        k2 = _mix(pos + _LANES[1]) | np.uint64(1)
    k1.setflags(write=False)
    k2.setflags(write=False)
    return k1, k2


@genome_kind
@dataclasses.dataclass(frozen=True, eq=False)
class VectorGenome:
    """A float64 vector, optionally bounded per coordinate.

    Attributes:
        values: The coordinates (a read-only float64 array).
        low: Lower bounds (None for unbounded).
        high: Upper bounds (None for unbounded).
    """

    kind: ClassVar[str] = "vector"

    values: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64).reshape(-1)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        for name in ("low", "high"):
            bound = getattr(self, name)
            if bound is not None:
                arr = np.broadcast_to(np.asarray(bound, dtype=np.float64), values.shape).copy()
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)

    @classmethod
    def view(
        cls, values: np.ndarray, low: np.ndarray | None = None, high: np.ndarray | None = None
    ) -> VectorGenome:
        """A genome over a row of a batch's ``[N, D]`` array, without copying or checks.

        ``values`` must be a 1-D float64 array nobody writes to (a row of a batch), and
        ``low``/``high`` None or float64 arrays of the same length (the run's bounds).
        """
        g = object.__new__(cls)
        g.__dict__.update(values=values, low=low, high=high)
        return g

    def __len__(self) -> int:
        return int(self.values.size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VectorGenome) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def clipped(self, values: np.ndarray) -> VectorGenome:
        """A genome with the same bounds and ``values`` clipped into them."""
        v = np.asarray(values, dtype=np.float64)
        if self.low is not None or self.high is not None:
            v = np.clip(v, self.low, self.high)
        return VectorGenome(v, self.low, self.high)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"values": self.values.tolist()}
        if self.low is not None:
            data["low"] = self.low.tolist()
        if self.high is not None:
            data["high"] = self.high.tolist()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VectorGenome:
        return cls(np.asarray(data["values"], dtype=np.float64), data.get("low"), data.get("high"))

    def fingerprint(self) -> str:
        """32 hex digits: ``row_fingerprints`` of the values (what a vector run stores)."""
        fp = self.__dict__.get("_fp")
        if fp is None:
            fp = row_fingerprints(self.values.reshape(1, -1))[0].tobytes().hex()
            self.__dict__["_fp"] = fp
        return fp

    def summary(self) -> str:
        head = ", ".join(f"{v:.4g}" for v in self.values[:4])
        more = ", ..." if self.values.size > 4 else ""
        return f"vector[{self.values.size}]({head}{more})"
