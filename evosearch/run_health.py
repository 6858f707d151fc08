"""What a run has evaluated so far, by outcome, and whether its infrastructure is down.

``RunHealth`` keeps the count of every evaluation outcome (``ok``/``failed``/``timeout``/
``invalid``) for the progress line and the summary, and watches for an infrastructure
failure: when the last ``window`` evaluations all failed because the LLM could not be
reached (or answered nothing), the run is not searching anymore, only spending time, and the
engine stops it with ``stopped_by: infrastructure`` and that one reason.

An unreachable LLM is never a score: evaluators and operators report it as a ``failed``
result whose error starts with one of ``INFRA_PREFIXES``.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from evosearch.batch import STATUS_CODE, STATUSES
from evosearch.individual import Individual, Status

INFRA_PREFIXES = ("LLM request failed:", "every LLM request failed:", "LLM unavailable:")
_VOLATILE = re.compile(r"\d+(\.\d+)?s\b|after \d+ attempts?|#\d+")


def infrastructure_reason(ind: Individual) -> str | None:
    """The normalised infrastructure failure behind ``ind``'s result, or None."""
    result = ind.result
    if result is None or result.status is not Status.FAILED:
        return None
    return _reason(result.error)


def _reason(error: str | None) -> str | None:
    error = (error or "").strip()
    if not error.startswith(INFRA_PREFIXES):
        return None
    return _VOLATILE.sub("…", error.splitlines()[0])[:300]


class RunHealth:
    """Outcome counts and the infrastructure watch of one run (see the module docstring).

    Args:
        window: How many consecutive infrastructure failures with the same reason stop a run.
        counts: Counts carried over from before a resume.
    """

    def __init__(self, window: int = 8, counts: Mapping[str, int] | None = None):
        self.window = max(1, int(window))
        self.counts = {s.value: 0 for s in Status}
        for key, value in (counts or {}).items():
            self.counts[str(key)] = int(value)
        self._recent: collections.deque[str | None] = collections.deque(maxlen=self.window)

    def add(self, individuals: Iterable[Individual]) -> None:
        for ind in individuals:
            status = ind.result.status.value if ind.result is not None else Status.FAILED.value
            self.counts[status] = self.counts.get(status, 0) + 1
            self._recent.append(infrastructure_reason(ind))

    def add_columns(self, codes: np.ndarray, errors: Sequence[str | None] | None) -> None:
        """The columnar form of ``add``: status codes (``batch.STATUSES``) and error texts."""
        codes = np.asarray(codes, dtype=np.int64)
        for code, n in enumerate(np.bincount(codes, minlength=len(STATUSES))):
            key = STATUSES[code].value
            self.counts[key] = self.counts.get(key, 0) + int(n)
        failed = STATUS_CODE[Status.FAILED]
        for i in range(max(0, len(codes) - self.window), len(codes)):  # only these can matter
            hit = codes[i] == failed and errors is not None
            self._recent.append(_reason(errors[i]) if hit else None)

    @property
    def ok(self) -> int:
        return self.counts.get(Status.OK.value, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def stop_reason(self) -> str | None:
        """The reason shared by the last ``window`` evaluations, when all were infrastructure."""
        if len(self._recent) < self.window:
            return None
        first = self._recent[0]
        if first is None or any(r != first for r in self._recent):
            return None
        return first

    def describe(self) -> str:
        """``12 ok, 24 failed, 0 timeout, 0 invalid``."""
        return ", ".join(f"{n} {s}" for s, n in self.counts.items())
