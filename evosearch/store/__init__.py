"""The run store: a checksummed commit log, Parquet parts, a manifest, and queries over them."""

from evosearch.store.queries import LineageIndex, best_id, lineage_graph, top_k
from evosearch.store.reading import RunReader
from evosearch.store.runstore import FORMAT, RunStore, StoreError
from evosearch.store.schema import SCHEMA, TIMING_COLUMNS, from_table, to_table

__all__ = [
    "FORMAT",
    "SCHEMA",
    "TIMING_COLUMNS",
    "LineageIndex",
    "RunReader",
    "RunStore",
    "StoreError",
    "best_id",
    "from_table",
    "lineage_graph",
    "to_table",
    "top_k",
]
