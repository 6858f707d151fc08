"""Four sentence-classification tasks generated offline from templates (the MiniLM merge demo).

Each task names one of four entities, and every sentence mentions two of them, so the words
alone do not give the answer: it lies in word order and in how the words combine (a
mean-pooled embedding with a linear probe does poorly; a short fine-tuning learns it).

- ``agent`` (4 animals): who did it — "the cat chased the dog" → cat.
- ``compare`` (4 vehicles): which is faster — "the bus is slower than the van" → van.
- ``temporal`` (4 activities): what came first — "she swam after she cooked" → cooking.
- ``count`` (4 fruits): which there is more of — "two pears and five plums" → plum.

Splits ``train`` / ``val`` / ``test`` are deterministic, deduplicated and disjoint.
"""

from __future__ import annotations

import functools

import numpy as np

TASKS: dict[str, tuple[str, ...]] = {
    "agent": ("cat", "dog", "fox", "owl"),
    "compare": ("bus", "van", "bike", "train"),
    "temporal": ("swimming", "cooking", "reading", "painting"),
    "count": ("apple", "pear", "plum", "lemon"),
}
SPLITS = {"train": 1600, "val": 160, "test": 320}

_VERBS = (
    "chased", "followed", "watched", "bit", "greeted", "ignored", "startled", "pushed",
    "scared", "found", "saw", "woke", "tricked", "licked", "heard", "avoided",
)  # fmt: skip
_FILLER = ("", "yesterday", "in the garden", "at night", "again", "near the river", "twice")
_FAST = ("faster", "quicker", "speedier", "swifter")
_SLOW = ("slower", "more sluggish", "less speedy")
_IS = ("is", "was", "seems", "looked")
_WHERE = ("", "on the highway", "in town", "today", "usually", "at rush hour", "uphill", "at night")
_ACTS = {
    0: ("swam", "went swimming", "had a swim"),
    1: ("cooked", "made dinner", "baked bread"),
    2: ("read", "read a book", "finished a novel"),
    3: ("painted", "did some painting", "sketched a portrait"),
}
_WHO = ("she", "he", "my aunt", "the student", "our neighbour", "they", "i", "we", "tom", "ana")
_NUM = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_PRE = ("", "there were", "we saw", "the basket held", "i counted")


def _pair(rng: np.random.Generator) -> tuple[int, int]:
    a, b = rng.choice(4, size=2, replace=False)
    return int(a), int(b)


def _agent(rng):
    a, b = _pair(rng)
    names = TASKS["agent"]
    passive = rng.random() < 0.3
    verb = str(rng.choice(_VERBS))
    filler = str(rng.choice(_FILLER))
    if passive:  # "the dog was chased by the cat" → cat
        text = f"the {names[b]} was {verb} by the {names[a]}"
    else:
        text = f"the {names[a]} {verb} the {names[b]}"
    return (f"{text} {filler}".strip(), a)


def _compare(rng):
    a, b = _pair(rng)
    names = TASKS["compare"]
    fast = rng.random() < 0.5
    adj = str(rng.choice(_FAST if fast else _SLOW))
    text = f"the {names[a]} {rng.choice(_IS)} {adj} than the {names[b]} {rng.choice(_WHERE)}"
    return text.strip(), a if fast else b


def _temporal(rng):
    a, b = _pair(rng)
    who = str(rng.choice(_WHO))
    first_a = rng.random() < 0.5
    word = "before" if first_a else "after"
    if rng.random() < 0.5:
        text = f"{who} {rng.choice(_ACTS[a])} {word} {who} {rng.choice(_ACTS[b])}"
    else:  # "after she cooked, she swam"
        text = f"{word} {who} {rng.choice(_ACTS[b])}, {who} {rng.choice(_ACTS[a])}"
    return text, a if first_a else b


def _count(rng):
    a, b = _pair(rng)
    na, nb = rng.choice(9, size=2, replace=False)
    names = TASKS["count"]
    pre = str(rng.choice(_PRE))
    text = f"{pre} {_NUM[na]} {names[a]}s and {_NUM[nb]} {names[b]}s".strip()
    return text, a if na > nb else b


_GEN = {"agent": _agent, "compare": _compare, "temporal": _temporal, "count": _count}


@functools.lru_cache(maxsize=32)
def split(task: str, name: str, seed: int = 0) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The sentences and labels of one split (disjoint from the other splits).

    Raises:
        ValueError: an unknown task or split, naming the allowed ones.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; allowed: {', '.join(SPLITS)}")
    rng = np.random.default_rng([seed, list(TASKS).index(task)])
    seen: dict[str, int] = {}
    total = sum(SPLITS.values())
    for _ in range(50 * total):
        text, label = _GEN[task](rng)
        seen.setdefault(str(text), label)
        if len(seen) >= total:
            break
    if len(seen) < total:
        raise AssertionError(f"task {task}: only {len(seen)} distinct sentences")
    items = list(seen.items())
    items = [items[i] for i in rng.permutation(len(items))]
    lo = 0
    for s, size in SPLITS.items():
        if s == name:
            part = items[lo : lo + size]
            return tuple(t for t, _ in part), tuple(int(y) for _, y in part)
        lo += size
    raise AssertionError("unreachable")
