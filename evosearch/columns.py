"""One column dict from the columns of several batches, for a commit of several generations."""

from __future__ import annotations

from typing import Any

import numpy as np


def concat_columns(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One column dict from several batches' (missing optional columns filled)."""
    if len(parts) == 1:
        return parts[0]
    import pyarrow as pa

    sizes = [len(p["id"]) for p in parts]
    defaults = {"operator_params": "{}", "metrics": {}, "descriptors": [], "error": None,
                "feedback": None, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}
    out: dict[str, Any] = {}
    for key in {k for p in parts for k in p}:
        cols = [p.get(key) for p in parts]
        if all(isinstance(c, np.ndarray) for c in cols):
            out[key] = np.concatenate(cols)
        elif all(isinstance(c, pa.Array) for c in cols) and len({c.type for c in cols}) == 1:
            out[key] = pa.concat_arrays(cols)
        else:
            merged: list = []
            for c, n in zip(cols, sizes):
                if c is None:
                    merged.extend([defaults[key]] * n)
                elif isinstance(c, (pa.Array, pa.ChunkedArray)):
                    merged.extend(c.to_pylist())
                elif isinstance(c, np.ndarray) and c.ndim == 2:
                    merged.extend(list(c))
                else:
                    merged.extend(c.tolist() if isinstance(c, np.ndarray) else c)
            out[key] = np.stack(merged) if key == "genome" and merged and isinstance(
                merged[0], np.ndarray) else merged
    return out
