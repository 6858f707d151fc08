"""Populations as columns: ``Batch`` (what ``ask`` proposes) and ``Results`` (what came back).

Vector genomes are one ``[N, D]`` float64 array; text, code and recipe genomes stay a list of
genome objects. Results are arrays (score, status code, seconds) plus sparse per-row extras
(metrics, descriptors, error, feedback). ``Individual`` objects are built only for the rows
something asks for (``Batch.individual``): LLM operators, the CLI, the UI and the archive
strategies that select among individuals (DESIGN §3, STYLE.md 14).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost, FitnessResult, Individual, Status

STATUSES: tuple[Status, ...] = (Status.OK, Status.FAILED, Status.TIMEOUT, Status.INVALID)
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
OK, FAILED, TIMEOUT, INVALID = range(4)


@dataclasses.dataclass
class Results:
    """Evaluation outcomes of a batch, one entry per row, in row order.

    ``score`` is NaN wherever ``status`` is not ``OK`` (code 0). The optional lists are None
    when no row has one (the common case for vector fitnesses).
    """

    score: np.ndarray
    status: np.ndarray
    eval_seconds: np.ndarray
    metrics: list[dict[str, float]] | None = None
    descriptors: np.ndarray | list[tuple[float, ...]] | None = None  # [N, k] or per row
    error: list[str] | None = None
    feedback: list[str] | None = None
    cost: list[Cost] | None = None

    @classmethod
    def empty(cls, n: int) -> Results:
        return cls(np.full(n, math.nan), np.zeros(n, dtype=np.int8), np.zeros(n))

    @classmethod
    def from_results(cls, results: Sequence[FitnessResult]) -> Results:
        out = cls.empty(len(results))
        for i, r in enumerate(results):
            out.set(i, r)
        return out

    def __len__(self) -> int:
        return int(self.score.shape[0])

    def set(self, i: int, r: FitnessResult) -> None:
        """Write one ``FitnessResult`` into row ``i``."""
        code = STATUS_CODE[r.status]
        self.status[i] = code
        self.score[i] = r.score if code == OK else math.nan
        self.eval_seconds[i] = r.eval_seconds
        n = len(self)
        if r.metrics:
            self.metrics = self.metrics or [{} for _ in range(n)]
            self.metrics[i] = dict(r.metrics)
        if r.descriptors:
            if isinstance(self.descriptors, np.ndarray):
                self.descriptors = [tuple(d) for d in self.descriptors.tolist()]
            self.descriptors = self.descriptors or [() for _ in range(n)]
            self.descriptors[i] = tuple(r.descriptors)
        if r.error:
            self.error = self.error or [""] * n
            self.error[i] = r.error
        if r.feedback:
            self.feedback = self.feedback or [""] * n
            self.feedback[i] = r.feedback
        if r.cost != Cost():
            self.cost = self.cost or [Cost()] * n
            self.cost[i] = r.cost

    def result(self, i: int) -> FitnessResult:
        """Row ``i`` as a ``FitnessResult``."""
        return FitnessResult(
            score=float(self.score[i]),
            metrics=self.metrics[i] if self.metrics else {},
            descriptors=self._descriptors(i),
            status=STATUSES[int(self.status[i])],
            error=self.error[i] if self.error else "",
            feedback=self.feedback[i] if self.feedback else "",
            eval_seconds=float(self.eval_seconds[i]),
            cost=self.cost[i] if self.cost else Cost(),
        )

    def _descriptors(self, i: int) -> tuple[float, ...]:
        d = self.descriptors
        if d is None or len(d) == 0:
            return ()
        if isinstance(d, np.ndarray):
            return tuple(d[i].tolist()) if np.isfinite(d[i]).all() else ()
        return tuple(d[i])

    def descriptor_array(self, k: int) -> np.ndarray:
        """Descriptors as an ``[N, k]`` array (NaN rows where missing or the wrong length)."""
        d = self.descriptors
        if isinstance(d, np.ndarray) and d.ndim == 2 and d.shape[1] == k:
            return d
        out = np.full((len(self), k), np.nan)
        for i, row in enumerate(d or ()):
            if len(row) == k:
                out[i] = row
        return out

    def take(self, rows: np.ndarray | Sequence[int]) -> Results:
        rows = np.asarray(rows, dtype=np.int64)
        pick = (lambda xs: None if xs is None else [xs[int(i)] for i in rows])  # noqa: E731
        desc = self.descriptors
        return Results(
            self.score[rows], self.status[rows], self.eval_seconds[rows],
            pick(self.metrics),
            desc[rows] if isinstance(desc, np.ndarray) else pick(desc),
            pick(self.error), pick(self.feedback), pick(self.cost),
        )

    def put(self, rows: Sequence[int], other: Results) -> None:
        """Write ``other``'s rows into ``rows`` of this one."""
        rows = np.asarray(rows, dtype=np.int64)
        self._listify()
        other._listify()
        self.score[rows] = other.score
        self.status[rows] = other.status
        self.eval_seconds[rows] = other.eval_seconds
        fields = (("metrics", {}), ("descriptors", ()), ("error", ""), ("feedback", ""),
                  ("cost", Cost()))
        for name, default in fields:
            values = getattr(other, name)
            if values is None:
                continue
            mine = getattr(self, name) or [default] * len(self)
            if name == "metrics" and getattr(self, name) is None:
                mine = [{} for _ in range(len(self))]
            for r, v in zip(rows.tolist(), values):
                mine[r] = v
            setattr(self, name, mine)

    def _listify(self) -> None:
        if isinstance(self.descriptors, np.ndarray):
            self.descriptors = [self._descriptors(i) for i in range(len(self))]

    @classmethod
    def concat(cls, parts: Sequence[Results]) -> Results:
        if len(parts) == 1:
            return parts[0]
        out = cls(
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.status for p in parts]),
            np.concatenate([p.eval_seconds for p in parts]),
        )
        descs = [p.descriptors for p in parts]
        if all(isinstance(d, np.ndarray) for d in descs) and len({d.shape[1] for d in descs}) == 1:
            out.descriptors = np.concatenate(descs)
            parts = [dataclasses.replace(p, descriptors=None) for p in parts]
        else:
            for p in parts:
                p._listify()
        fields = (("metrics", None), ("descriptors", ()), ("error", ""), ("feedback", ""),
                  ("cost", Cost()))
        for name, default in fields:
            if name == "descriptors" and out.descriptors is not None:
                continue
            if any(getattr(p, name) is not None for p in parts):
                col: list = []
                for p in parts:
                    values = getattr(p, name)
                    if values is None:
                        values = [{} if name == "metrics" else default] * len(p)
                        if name == "metrics":
                            values = [{} for _ in range(len(p))]
                    col.extend(values)
                setattr(out, name, col)
        return out

    def valid(self) -> np.ndarray:
        """Scores with NaN for every row that is not OK (already so by construction)."""
        return self.score

    def failures(self) -> int:
        return int(np.count_nonzero(np.isnan(self.score)))

    def tokens(self) -> int:
        if not self.cost:
            return 0
        return sum(c.tokens_in + c.tokens_out for c in self.cost)


@dataclasses.dataclass
class Batch:
    """Individuals proposed by one ``ask``, as columns.

    Attributes:
        ids: int64 ids, increasing.
        generation: The generation they were asked in.
        genomes: ``[N, D]`` float64 array (vectors) or a list of genome objects.
        parents: ``[N, k]`` int64 array padded with -1, or a list of id tuples.
        operator: One operator name for every row, or one per row.
        low, high: Vector bounds (run-wide facts; None when unbounded).
        operator_params: Per-row JSON-able dicts, one dict for every row, or None (empty).
        island: One island for every row, or an int array.
        cost: Per-row LLM cost of producing the genome, or None.
        preset: Row -> result for rows whose variation failed (stored, not evaluated).
    """

    ids: np.ndarray
    generation: int
    genomes: Any
    parents: Any = None
    operator: str | list[str] = "init"
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    operator_params: list[dict[str, Any]] | dict[str, Any] | None = None
    island: int | np.ndarray = 0
    cost: list[Cost] | None = None
    preset: dict[int, FitnessResult] | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def is_vector(self) -> bool:
        return isinstance(self.genomes, np.ndarray)

    def genome(self, i: int):
        """The genome of row ``i`` (a read-only ``VectorGenome`` view for vector batches)."""
        if self.is_vector:
            return VectorGenome.view(self.genomes[i], self.low, self.high)
        return self.genomes[i]

    def parent_tuple(self, i: int) -> tuple[int, ...]:
        if self.parents is None:
            return ()
        if isinstance(self.parents, np.ndarray):
            row = self.parents[i]
            return tuple(int(p) for p in row[row >= 0])
        return tuple(self.parents[i])

    def individual(self, i: int, results: Results | None = None) -> Individual:
        """Row ``i`` as an ``Individual`` (with its result when ``results`` is given)."""
        result = None
        if self.preset and i in self.preset:
            result = self.preset[i]
        elif results is not None:
            result = results.result(i)
        return Individual(
            id=int(self.ids[i]),
            genome=self.genome(i),
            parent_ids=self.parent_tuple(i),
            operator=self.operator if isinstance(self.operator, str) else self.operator[i],
            operator_params=self._params(i),
            generation=self.generation,
            island=int(self.island if np.isscalar(self.island) else self.island[i]),
            result=result,
            cost=self.cost[i] if self.cost else Cost(),
        )

    def _params(self, i: int) -> dict[str, Any]:
        p = self.operator_params
        if isinstance(p, dict):
            return dict(p)
        return p[i] if p else {}

    def individuals(self, results: Results | None = None) -> list[Individual]:
        return [self.individual(i, results) for i in range(len(self))]

    def todo(self) -> np.ndarray:
        """Rows that need an evaluation (all but the preset ones)."""
        if not self.preset:
            return np.arange(len(self))
        return np.array([i for i in range(len(self)) if i not in self.preset], dtype=np.int64)

    def preset_results(self) -> Results:
        """Results with the preset rows filled in (the rest NaN/OK, to be evaluated)."""
        out = Results.empty(len(self))
        for i, r in (self.preset or {}).items():
            out.set(i, r)
        return out

    @classmethod
    def from_individuals(cls, individuals: Sequence[Individual]) -> tuple[Batch, Results | None]:
        """Object rows to a batch (and their results when every one has one)."""
        n = len(individuals)
        batch = cls(
            ids=np.fromiter((i.id for i in individuals), dtype=np.int64, count=n),
            generation=max((i.generation for i in individuals), default=0),
            genomes=[i.genome for i in individuals],
            parents=[tuple(i.parent_ids) for i in individuals],
            operator=[i.operator for i in individuals],
            operator_params=[dict(i.operator_params) for i in individuals],
            island=np.fromiter((i.island for i in individuals), dtype=np.int64, count=n),
            cost=[i.cost for i in individuals],
        )
        if any(i.result is None for i in individuals):
            return batch, None
        return batch, Results.from_results([i.result for i in individuals])

    def columns(self, results: Results) -> dict[str, Any]:
        """The store's row columns for this batch (``RunStore.commit`` accepts them)."""
        n = len(self)
        if self.is_vector:
            genome: Any = self.genomes
            kind: Any = "vector"
        else:
            genome = [json.dumps(g.to_json(), sort_keys=True) for g in self.genomes]
            kind = [g.kind for g in self.genomes]
        if not results.status.any():
            status: Any = pa.repeat("ok", n)
        else:
            status = np.asarray([s.value for s in STATUSES])[results.status].tolist()
        cols: dict[str, Any] = {
            "id": self.ids,
            "parent_ids": self._parents_column(),
            "operator": pa.repeat(self.operator, n) if isinstance(self.operator, str)
            else self.operator,
            "generation": np.full(n, self.generation, dtype=np.int32),
            "island": np.broadcast_to(np.asarray(self.island, dtype=np.int32), (n,)),
            "genome_kind": kind if isinstance(kind, list) else pa.repeat(kind, n),
            "genome": genome,
            "status": status,
            "score": results.score,
            "eval_seconds": results.eval_seconds,
        }
        if not self.is_vector:  # the genome's own fingerprint (dedup compares it on resume)
            cols["fingerprint"] = [bytes.fromhex(g.fingerprint()[:32]) for g in self.genomes]
        params = self.operator_params
        if isinstance(params, dict):  # one dict for every row
            cols["operator_params"] = pa.repeat(json.dumps(params, sort_keys=True), n)
        elif params:
            cols["operator_params"] = [json.dumps(p, sort_keys=True) for p in params]
        if results.metrics:
            cols["metrics"] = results.metrics
        if isinstance(results.descriptors, np.ndarray):
            d = results.descriptors
            if np.isfinite(d).all():
                cols["descriptors"] = d
            else:
                cols["descriptors"] = [row if np.isfinite(row).all() else []
                                       for row in d.tolist()]
        elif results.descriptors:
            cols["descriptors"] = [list(d) for d in results.descriptors]
        if results.error:
            cols["error"] = [e or None for e in results.error]
        if results.feedback:
            cols["feedback"] = [f or None for f in results.feedback]
        costs = [
            (self.cost[i] if self.cost else Cost()) + (results.cost[i] if results.cost else Cost())
            for i in range(n)
        ] if (self.cost or results.cost) else None
        if costs:
            cols["tokens_in"] = np.array([c.tokens_in for c in costs], dtype=np.int64)
            cols["tokens_out"] = np.array([c.tokens_out for c in costs], dtype=np.int64)
            cols["cost_usd"] = np.array([c.usd for c in costs], dtype=np.float64)
        return cols

    def _parents_column(self):
        if isinstance(self.parents, np.ndarray):
            mask = self.parents >= 0
            counts = mask.sum(axis=1)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            return pa.ListArray.from_arrays(pa.array(offsets), pa.array(self.parents[mask]))
        if self.parents is None:
            return pa.ListArray.from_arrays(
                pa.array(np.zeros(len(self) + 1, dtype=np.int32)), pa.array([], pa.int64())
            )
        return [list(p) for p in self.parents]

    def take(self, rows: Sequence[int] | np.ndarray) -> Batch:
        rows = np.asarray(rows, dtype=np.int64)
        pick = (lambda xs: None if xs is None else [xs[int(i)] for i in rows])  # noqa: E731
        genomes = self.genomes[rows] if self.is_vector else pick(self.genomes)
        parents = self.parents[rows] if isinstance(self.parents, np.ndarray) else pick(self.parents)
        preset = None
        if self.preset:
            where = {int(r): k for k, r in enumerate(rows)}
            preset = {where[r]: v for r, v in self.preset.items() if r in where} or None
        return dataclasses.replace(
            self,
            ids=self.ids[rows],
            genomes=genomes,
            parents=parents,
            operator=self.operator if isinstance(self.operator, str) else pick(self.operator),
            operator_params=self.operator_params if isinstance(self.operator_params, dict)
            else pick(self.operator_params),
            island=self.island if np.isscalar(self.island) else self.island[rows],
            cost=pick(self.cost),
            preset=preset,
        )
