r"""Encode a strategy's state (nested plain values and numpy arrays) to bytes, without pickle.

A state is a nested ``dict``/``list``/``tuple`` of ``None``, ``bool``, ``int``, ``float``,
``str``, ``bytes``, numpy arrays and numpy scalars (e.g. ``state_dict()`` of a strategy, a
``Generator.bit_generator.state``, ``random.getstate()``). The blob is::

    b"ESST1\\0" | u64 header length | header (JSON) | array buffers, 8-byte aligned

The JSON header holds the structure; arrays and bytes are replaced by references into the
buffer section. Decoding returns the same structure (tuples as tuples, arrays as writable
arrays of the same dtype and shape, numpy scalars as numpy scalars).

``legacy_pickle(obj)`` marks one object to be pickled instead: a clearly named escape hatch
for engines that still save a whole strategy object (runs format ``evosearch-run/2`` read it
back, but only trusted runs should be opened this way).
"""

from __future__ import annotations

import json
import pickle
import struct
from typing import Any

import numpy as np

MAGIC = b"ESST1\0"


class LegacyPickle:
    """An object stored with pickle inside an otherwise pickle-free state (legacy path)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def legacy_pickle(value: Any) -> LegacyPickle:
    """Wrap ``value`` so ``encode`` pickles it (decoding returns ``value`` itself)."""
    return LegacyPickle(value)


def encode(state: Any) -> bytes:
    """The state as bytes.

    Raises:
        TypeError: for a value that is none of the supported types, naming its key path
            (e.g. ``state['strategy']['archive']``).
    """
    buffers: list[bytes] = []

    def ref(data: bytes) -> int:
        buffers.append(data)
        return len(buffers) - 1

    def enc(obj: Any, path: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if obj == obj and abs(obj) != float("inf") else {"__f__": repr(obj)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"{path}: numpy arrays of Python objects cannot be stored")
            arr = obj if obj.flags.c_contiguous else np.array(obj, order="C")
            return {"__nd__": ref(arr.tobytes()), "dtype": arr.dtype.str, "shape": arr.shape}
        if isinstance(obj, np.generic):
            arr = np.asarray(obj)
            if arr.dtype.hasobject:
                raise TypeError(f"{path}: numpy object scalars cannot be stored")
            return {"__np__": ref(arr.tobytes()), "dtype": arr.dtype.str}
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"__b__": ref(bytes(obj))}
        if isinstance(obj, tuple):
            return {"__t__": [enc(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [enc(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in obj):
                return {k: enc(v, f"{path}[{k!r}]") for k, v in obj.items()}
            return {
                "__d__": [[enc(k, f"{path}.key"), enc(v, f"{path}[{k!r}]")] for k, v in obj.items()]
            }
        if isinstance(obj, LegacyPickle):
            return {"__pickle__": ref(pickle.dumps(obj.value, protocol=pickle.HIGHEST_PROTOCOL))}
        raise TypeError(
            f"{path}: cannot store a {type(obj).__module__}.{type(obj).__qualname__} in a run "
            "state (allowed: None, bool, int, float, str, bytes, numpy arrays and scalars, "
            "and dict/list/tuple of those)"
        )

    header = json.dumps(enc(state, "state"), separators=(",", ":")).encode()
    out = [MAGIC, struct.pack("<Q", len(header)), header]
    pos = len(MAGIC) + 8 + len(header)
    offsets = []
    for data in buffers:
        pad = -pos % 8
        out.append(b"\0" * pad)
        pos += pad
        offsets.append((pos, len(data)))
        out.append(data)
        pos += len(data)
    table = json.dumps(offsets, separators=(",", ":")).encode()
    out.append(table)
    out.append(struct.pack("<Q", len(table)))
    return b"".join(out)


def decode(blob: bytes) -> Any:
    """The state ``encode`` produced.

    Raises:
        ValueError: if ``blob`` is not an encoded state.
    """
    mv = memoryview(blob)
    if bytes(mv[: len(MAGIC)]) != MAGIC or len(mv) < len(MAGIC) + 16:
        raise ValueError("not an evosearch state blob (bad magic)")
    (hlen,) = struct.unpack_from("<Q", mv, len(MAGIC))
    start = len(MAGIC) + 8
    header = json.loads(bytes(mv[start : start + hlen]))
    (tlen,) = struct.unpack_from("<Q", mv, len(mv) - 8)
    offsets = json.loads(bytes(mv[len(mv) - 8 - tlen : len(mv) - 8]))

    def buf(i: int) -> memoryview:
        off, n = offsets[i]
        return mv[off : off + n]

    def dec(obj: Any) -> Any:
        if isinstance(obj, list):
            return [dec(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if "__nd__" in obj:
            arr = np.frombuffer(buf(obj["__nd__"]), dtype=np.dtype(obj["dtype"]))
            return arr.reshape(tuple(obj["shape"])).copy()
        if "__np__" in obj:
            return np.frombuffer(buf(obj["__np__"]), dtype=np.dtype(obj["dtype"]))[0]
        if "__b__" in obj:
            return bytes(buf(obj["__b__"]))
        if "__t__" in obj:
            return tuple(dec(v) for v in obj["__t__"])
        if "__f__" in obj:
            return float(obj["__f__"])
        if "__d__" in obj:
            return {dec(k): dec(v) for k, v in obj["__d__"]}
        if "__pickle__" in obj:
            return pickle.loads(buf(obj["__pickle__"]))
        return {k: dec(v) for k, v in obj.items()}

    return dec(header)
