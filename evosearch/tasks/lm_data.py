"""Synthetic skills for the tiny demo models: 2-digit addition and string reversal.

One module shared by the model builder (``evosearch.scenarios.demo_models.tinylm``) and the
evaluators (``evosearch.tasks.lm_tasks``), so training and scoring read the same splits.

- ``add``: prompt ``"12+34="``, answer ``"46"`` (operands 10..99; all 8,100 pairs, split).
- ``rev``: prompt ``"abcd|"``, answer ``"dcba"`` (3–6 lowercase letters).

Splits are disjoint and fixed by a seed: the same ``(task, split, seed)`` always gives the
same examples in the same order.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

TASKS = ("add", "rev")
SPLITS = ("train", "val", "test")
DEFAULT_SEED = 1234
#: Examples held out per task for ``val`` and ``test``.
HELD_OUT = {"val": 200, "test": 300}
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclasses.dataclass(frozen=True)
class Example:
    """One prompt/answer pair (the answer excludes the end-of-sequence token)."""

    prompt: str
    answer: str

    @property
    def text(self) -> str:
        return self.prompt + self.answer


def examples(
    task: str, split: str, *, seed: int = DEFAULT_SEED, n: int | None = None
) -> list[Example]:
    """The examples of one task split.

    Args:
        task: ``add`` or ``rev``.
        split: ``train``, ``val`` or ``test``.
        seed: Seed fixing the split (the same seed gives the same, disjoint splits).
        n: Keep only the first ``n`` examples.

    Returns:
        A list of examples (a fresh list; the cached split is not exposed).

    Raises:
        ValueError: for an unknown task or split.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed: {list(TASKS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {list(SPLITS)}")
    data = _splits(task, seed)[split]
    return list(data if n is None else data[:n])


@lru_cache(maxsize=8)
def _splits(task: str, seed: int) -> dict[str, tuple[Example, ...]]:
    rng = np.random.default_rng([seed, TASKS.index(task)])
    pool = _addition_pool(rng) if task == "add" else _reversal_pool(rng)
    nv, nt = HELD_OUT["val"], HELD_OUT["test"]
    return {
        "test": tuple(pool[:nt]),
        "val": tuple(pool[nt : nt + nv]),
        "train": tuple(pool[nt + nv :]),
    }


def _addition_pool(rng: np.random.Generator) -> list[Example]:
    pairs = [(a, b) for a in range(10, 100) for b in range(10, 100)]
    order = rng.permutation(len(pairs))
    return [Example(f"{a}+{b}=", str(a + b)) for a, b in (pairs[i] for i in order)]


def _reversal_pool(rng: np.random.Generator, size: int = 12000) -> list[Example]:
    seen: set[str] = set()
    out: list[Example] = []
    while len(out) < size:
        length = int(rng.integers(3, 7))
        word = "".join(LETTERS[i] for i in rng.integers(0, 26, size=length))
        if word in seen:
            continue
        seen.add(word)
        out.append(Example(word + "|", word[::-1]))
    return out


def pretraining_texts(n: int, rng: np.random.Generator) -> list[str]:
    """Mixed generic text for the base model: digit runs, words, expressions and copies.

    It teaches the byte statistics both skills share (digits, letters, ``+``/``=``/``|``) but
    neither skill itself: only one-digit sums appear and the ``|`` lines *copy* rather than
    reverse.

    Args:
        n: How many lines.
        rng: The random generator.

    Returns:
        ``n`` short lines.
    """
    out = []
    for _ in range(n):
        kind = int(rng.integers(0, 5))
        if kind == 0:  # digit runs
            out.append(" ".join(str(int(x)) for x in rng.integers(0, 200, size=3)))
        elif kind == 1:  # letter words
            words = ["".join(LETTERS[i] for i in rng.integers(0, 26, size=int(rng.integers(2, 6))))]
            words.append("".join(LETTERS[i] for i in rng.integers(0, 26, size=3)))
            out.append(" ".join(words))
        elif kind == 2:  # expressions without their value
            a, b = rng.integers(10, 100, size=2)
            out.append(f"{a}+{b}")
        elif kind == 3:  # one-digit sums: arithmetic facts, not the 2-digit skill
            a, b = rng.integers(0, 10, size=2)
            out.append(f"{a}+{b}={a + b}")
        else:  # copy, the opposite of the reversal skill
            word = "".join(LETTERS[i] for i in rng.integers(0, 26, size=int(rng.integers(3, 7))))
            out.append(f"{word}|{word}")
    return out
