"""EvoLLM's prompt: solutions as discretised integers, sorted worst → best, and its parser.

One source for the strategy and for the teacher-trajectory training data, so the model is
trained on exactly the text it is later asked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from evosearch.llm.templates import render

_INT = re.compile(r"-?\d+")


def to_grid(x: np.ndarray, low: np.ndarray, high: np.ndarray, resolution: int) -> np.ndarray:
    """Map coordinates in ``[low, high]`` to integers ``0..resolution`` (clipped)."""
    u = (np.asarray(x, dtype=np.float64) - low) / (high - low)
    return np.clip(np.rint(u * resolution), 0, resolution).astype(np.int64)


def from_grid(z: np.ndarray, low: np.ndarray, high: np.ndarray, resolution: int) -> np.ndarray:
    """Inverse of ``to_grid`` (cell centres on the integer lattice)."""
    return low + (np.asarray(z, dtype=np.float64) / resolution) * (high - low)


def fitness_labels(losses: Sequence[float]) -> list[int]:
    """Losses (lower is better) shown as integers 0..999, min-max scaled over the shown set.

    Scale-free, so prompts look alike across functions with very different ranges.
    """
    f = np.asarray(losses, dtype=np.float64)
    lo, hi = float(f.min()), float(f.max())
    if hi - lo <= 0:
        return [0] * len(f)
    return np.rint(999 * (f - lo) / (hi - lo)).astype(int).tolist()


def format_point(values: Sequence[int], resolution: int) -> str:
    """Integers zero-padded to the width of ``resolution``, e.g. ``007,100``.

    Fixed-width numbers keep digits aligned across lines, which small models copy and edit
    far more reliably.
    """
    width = len(str(resolution))
    return ",".join(f"{int(v):0{width}d}" for v in values)


ORDERS = {"worst_first": "worst to best", "best_first": "best to worst"}


def render_prompt(
    grid_points: np.ndarray, losses: Sequence[float], resolution: int, order: str = "worst_first"
) -> str:
    """The prompt for one block: rows are integer solutions, already sorted as ``order`` says.

    ``worst_first`` is the paper's order and the trained model's; ``best_first`` reverses it.
    """
    labels = fitness_labels(losses)
    lines = [
        "x=" + format_point(row, resolution) + f" f={lab:03d}"
        for row, lab in zip(np.atleast_2d(grid_points), labels)
    ]
    count = int(np.atleast_2d(grid_points).shape[1])
    return render("evollm", resolution=resolution, history="\n".join(lines), count=count,
                  order=ORDERS[order])


@dataclasses.dataclass(frozen=True)
class ParseResult:
    """The outcome of parsing one answer."""

    values: np.ndarray | None  # integers, clipped to 0..resolution; None when unusable
    status: str  # ok | clipped | wrong_count | no_numbers
    detail: str = ""


def parse_answer(text: str, count: int, resolution: int) -> ParseResult:
    """Read ``count`` integers from the first non-empty line of ``text``.

    Out-of-range values are clipped (status ``clipped``); a wrong number of values or no
    numbers at all makes the answer unusable.
    """
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = line.split("f=")[0]
    nums = [int(v) for v in _INT.findall(line)]
    if not nums:
        return ParseResult(None, "no_numbers", f"no integers in {text[:80]!r}")
    if len(nums) != count:
        return ParseResult(None, "wrong_count", f"expected {count} integers, got {len(nums)}")
    arr = np.asarray(nums, dtype=np.int64)
    clipped = np.clip(arr, 0, resolution)
    if np.any(clipped != arr):
        return ParseResult(clipped, "clipped", f"values outside 0..{resolution} clipped")
    return ParseResult(arr, "ok")


def blocks(dimension: int, block_size: int) -> list[tuple[int, int]]:
    """Coordinate blocks ``[(start, stop), ...]`` covering ``0..dimension``."""
    size = max(1, min(block_size, dimension))
    return [(a, min(a + size, dimension)) for a in range(0, dimension, size)]
