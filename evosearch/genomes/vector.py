"""``VectorGenome``: a real vector with optional box bounds."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, ClassVar

import numpy as np

from evosearch.genomes.base import genome_kind


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
        h = hashlib.sha256(b"vector\0")
        h.update(self.values.tobytes())
        return h.hexdigest()

    def summary(self) -> str:
        head = ", ".join(f"{v:.4g}" for v in self.values[:4])
        more = ", ..." if self.values.size > 4 else ""
        return f"vector[{self.values.size}]({head}{more})"
