"""Tiny byte-level causal LMs for the model-merge demo: a base and two skill experts.

``build_models()`` makes a small Llama (``transformers.LlamaConfig``, the shared 260-token
byte tokenizer), pre-trains it briefly on mixed generic text, then fine-tunes two experts
from that same base with a modest learning rate: ``expert_add`` on 2-digit addition and
``expert_rev`` on string reversal (``evosearch.tasks.lm_data``). Fine-tuning from one shared
base keeps the task vectors small and compatible, so merging them is meaningful.

Everything is seeded and runs on CPU in a couple of minutes. The three checkpoints are saved
as HF directories (``save_pretrained`` model + tokenizer) under a cache directory keyed by a
hash of the recipe, so a second call returns at once::

    python -m evosearch.scenarios.demo_models.tinylm build            # the demo models
    python -m evosearch.scenarios.demo_models.tinylm build --pico     # seconds, for tests
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import pathlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from evosearch.genomes.base import content_hash
from evosearch.models.bytetok import byte_tokenizer
from evosearch.tasks import lm_data

MODEL_NAMES = ("base", "expert_add", "expert_rev")
log_ = logging.getLogger("evosearch.scenarios.demo_models.tinylm")
_FORMAT = 1  # bump when the training procedure changes in a way the recipe does not show


@dataclasses.dataclass(frozen=True)
class TinyLMRecipe:
    """Architecture and training schedule of the tiny models (all of it goes in the hash).

    Attributes:
        hidden_size: Model width.
        layers: Decoder layers.
        heads: Attention heads.
        intermediate_size: MLP width.
        pretrain_steps: Optimiser steps of base pre-training.
        pretrain_lr: Peak learning rate of pre-training.
        add_steps: Optimiser steps of the addition expert's fine-tuning.
        rev_steps: Optimiser steps of the reversal expert's fine-tuning (an easier skill).
        expert_lr: Peak learning rate of fine-tuning.
        batch_size: Sequences per step.
        replay: Fraction of each fine-tuning batch drawn from the pre-training mix.
        seed: Seeds initialisation, data order and splits.
        expert_rank: 0: experts fine-tune every weight. r > 0: experts train only a rank-r
            update ``B·A`` of each decoder layer's linear weights (LoRA-style, ``B = 0`` at
            the start, everything else frozen), folded into the weights when saved, so the
            task vectors are low-rank (the PSEC paper's experts).
    """

    hidden_size: int = 96
    layers: int = 3
    heads: int = 4
    intermediate_size: int = 288
    pretrain_steps: int = 200
    pretrain_lr: float = 3e-3
    add_steps: int = 1000
    rev_steps: int = 500
    expert_lr: float = 3e-3
    batch_size: int = 64
    replay: float = 0.25
    seed: int = 0
    expert_rank: int = 0

    def key(self) -> str:
        """A short hash of the recipe (the cache directory name)."""
        fields = dataclasses.asdict(self)
        if not fields["expert_rank"]:
            del fields["expert_rank"]  # full fine-tuning: the keys made before the knob existed
        return content_hash({"format": _FORMAT, **fields})[:16]

    def config(self) -> Any:
        """The ``transformers.LlamaConfig`` of this architecture."""
        return byte_llama_config(
            hidden=self.hidden_size,
            intermediate=self.intermediate_size,
            layers=self.layers,
            heads=self.heads,
            max_positions=64,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
        )


def byte_llama_config(
    *, hidden: int, layers: int, heads: int, intermediate: int | None = None,
    max_positions: int = 64, **overrides: Any,
) -> Any:
    """A ``LlamaConfig`` over the shared byte tokenizer (vocabulary and special tokens set).

    Every tiny model the project makes (demo experts, the EvoLLM model, test and benchmark
    LLMs) is built from this; ``overrides`` are further ``LlamaConfig`` fields.
    """
    from transformers import LlamaConfig

    tok = byte_tokenizer()
    fields = {
        "vocab_size": len(tok),
        "hidden_size": hidden,
        "intermediate_size": intermediate or 2 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "max_position_embeddings": max_positions,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    return LlamaConfig(**{**fields, **overrides})


def save_random_llama(path: str | pathlib.Path, *, seed: int = 0, **config: Any) -> str:
    """Save a randomly initialised byte-level Llama (+ tokenizer) to ``path``.

    A real checkpoint that writes garbage: what tests and benchmarks of the LLM machinery use.
    ``config`` goes to ``byte_llama_config``.
    """
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    LlamaForCausalLM(byte_llama_config(**config)).save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    return str(path)


#: The demo models (``make demo``, benchmarks).
DEMO = TinyLMRecipe()
#: A pico version that builds in seconds, for tests (its models are not skilled).
PICO = TinyLMRecipe(
    hidden_size=32,
    layers=2,
    heads=2,
    intermediate_size=64,
    pretrain_steps=4,
    add_steps=3,
    rev_steps=3,
    batch_size=8,
)


def cache_root() -> pathlib.Path:
    """Where built models live: ``$EVOSEARCH_CACHE/models`` or ``<repo>/.cache/evosearch/models``.

    ``<repo>`` is the checkout holding this package (a directory with ``pyproject.toml``);
    for an installed package it falls back to ``~/.cache/evosearch/models``.
    """
    env = os.environ.get("EVOSEARCH_CACHE")
    if env:
        return pathlib.Path(env) / "models"
    repo = pathlib.Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").exists():
        return repo / ".cache" / "evosearch" / "models"
    return pathlib.Path.home() / ".cache" / "evosearch" / "models"


def build_models(
    recipe: TinyLMRecipe = DEMO,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, pathlib.Path]:
    """Build (or find cached) base, expert_add and expert_rev checkpoints.

    Args:
        recipe: Architecture and schedule.
        cache_dir: Root of the cache (default ``cache_root()``); models go to ``<root>/<key>``.
        force: Rebuild even when a complete cached build exists.
        log: Progress callback (default: the ``evosearch.scenarios.demo_models.tinylm``
            logger; the start of a training is logged as a warning so a first ``make demo``
            says why it waits).

    Returns:
        Model name → HF checkpoint directory.
    """
    root = pathlib.Path(cache_dir) if cache_dir is not None else cache_root()
    out = root / recipe.key()
    say = log or log_.info
    cached = build_once(
        recipe,
        root,
        lambda tmp: _train_all(recipe, tmp, say),
        announce=lambda: (log or log_.warning)(
            f"training the tiny demo models (about {_cpu_minutes(recipe):.1f} CPU-minutes, "
            f"cached afterwards) into {out}"
        ),
        force=force,
    )
    say(f"{'cached' if cached else 'built'}: {out}")
    return {name: out / name for name in MODEL_NAMES}


def build_once(
    recipe: Any,
    root: pathlib.Path,
    train: Callable[[pathlib.Path], dict[str, float]],
    *,
    announce: Callable[[], None],
    force: bool = False,
) -> bool:
    """Build ``recipe``'s models into ``root/<recipe.key()>`` unless a complete build is there.

    One builder at a time (a file lock; the others wait and reuse its result). ``train(tmp)``
    writes the models into a scratch directory and returns seconds per model; the directory
    gets ``recipe.json`` (the recipe, its key, the timings) and is renamed into place, so a
    build is either complete or absent. ``announce()`` is called just before training.

    Args:
        recipe: A dataclass with a ``key()``.
        root: The cache root.
        train: Writes the models into the directory it is given.
        announce: Says that training starts.
        force: Rebuild even when a complete build exists.

    Returns:
        True when a complete build was already there (nothing trained).
    """
    out = root / recipe.key()
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / f".{recipe.key()}.lock"):
        if (out / "recipe.json").exists() and not force:
            return True
        announce()
        tmp = root / f".{recipe.key()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        timings = train(tmp)
        meta = {"recipe": dataclasses.asdict(recipe), "key": recipe.key(), "seconds": timings}
        (tmp / "recipe.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    return False


def _cpu_minutes(recipe: TinyLMRecipe) -> float:
    """A rough CPU-time estimate from the demo build (97 CPU-s for 1,700 steps at width 96)."""
    steps = recipe.pretrain_steps + recipe.add_steps + recipe.rev_steps
    size = (recipe.hidden_size / 96) ** 2 * recipe.layers / 3 * recipe.batch_size / 64
    return 97 / 60 * steps / 1700 * max(size, 0.05)


@contextlib.contextmanager
def _lock(path: pathlib.Path) -> Iterator[None]:
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train_all(
    recipe: TinyLMRecipe, out: pathlib.Path, say: Callable[[str], None]
) -> dict[str, float]:
    tok = byte_tokenizer()
    timings: dict[str, float] = {}
    threads = torch.get_num_threads()
    # One thread: the same floating-point reductions (so the same weights) on every machine,
    # and no OpenMP spinning on a busy machine (tiny matrices gain little from threads).
    torch.set_num_threads(1)
    try:
        _train_models(recipe, out, say, tok, timings)
    finally:
        torch.set_num_threads(threads)
    return timings


def _train_models(
    recipe: TinyLMRecipe,
    out: pathlib.Path,
    say: Callable[[str], None],
    tok: Any,
    timings: dict[str, float],
) -> None:
    from transformers import LlamaForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = LlamaForCausalLM(recipe.config())
    rng = np.random.default_rng([recipe.seed, 1])
    start, cpu = time.perf_counter(), time.process_time()
    _train(model, recipe.pretrain_steps, recipe.pretrain_lr, recipe, rng, task=None, say=say)
    timings["base"] = time.perf_counter() - start
    timings["base_cpu"] = time.process_time() - cpu
    _save(model, tok, out / "base")
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    for i, task in enumerate(lm_data.TASKS):
        model.load_state_dict(base_state)
        rng = np.random.default_rng([recipe.seed, 2 + i])
        start, cpu = time.perf_counter(), time.process_time()
        steps = recipe.add_steps if task == "add" else recipe.rev_steps
        with _low_rank(model, recipe.expert_rank, seed=recipe.seed + i):
            _train(model, steps, recipe.expert_lr, recipe, rng, task=task, say=say)
        timings[f"expert_{task}"] = time.perf_counter() - start
        timings[f"expert_{task}_cpu"] = time.process_time() - cpu
        _save(model, tok, out / f"expert_{task}")


class _LowRankUpdate(torch.nn.Module):
    """``W ↦ W + B·A`` for a frozen ``W`` (a ``torch.nn.utils.parametrize`` parametrization)."""

    def __init__(self, weight: torch.Tensor, rank: int, gen: torch.Generator) -> None:
        super().__init__()
        out_f, in_f = weight.shape
        self.A = torch.nn.Parameter(torch.randn(rank, in_f, generator=gen) / in_f**0.5)
        self.B = torch.nn.Parameter(torch.zeros(out_f, rank))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.B @ self.A


@contextlib.contextmanager
def _low_rank(model: Any, rank: int, *, seed: int) -> Iterator[None]:
    """Train only rank-``rank`` updates of the decoder layers' linear weights (0: no-op).

    On exit the updates are folded into the weights and every parameter trains again.
    """
    if not rank:
        yield
        return
    from torch.nn.utils import parametrize

    gen = torch.Generator().manual_seed(seed)
    linears = [m for m in model.model.layers.modules() if isinstance(m, torch.nn.Linear)]
    for p in model.parameters():
        p.requires_grad_(False)
    for lin in linears:
        parametrize.register_parametrization(
            lin, "weight", _LowRankUpdate(lin.weight.detach(), rank, gen)
        )
    try:
        yield
    finally:
        with torch.no_grad():
            for lin in linears:
                parametrize.remove_parametrizations(lin, "weight", leave_parametrized=True)
        for p in model.parameters():
            p.requires_grad_(True)


def _save(model: Any, tok: Any, path: pathlib.Path) -> None:
    model.save_pretrained(path)
    tok.save_pretrained(path)


def _train(
    model: Any,
    steps: int,
    lr: float,
    recipe: TinyLMRecipe,
    rng: np.random.Generator,
    *,
    task: str | None,
    say: Callable[[str], None],
) -> None:
    """AdamW with linear warm-up and cosine decay. ``task=None`` is pre-training."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.98))
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / steps))),
    )
    train = lm_data.examples(task, "train", seed=lm_data.DEFAULT_SEED) if task else []
    name = task or "pretrain"
    for step in range(steps):
        ids, labels = _batch(train, recipe, rng)
        loss = model(input_ids=ids, attention_mask=(ids != 0).long(), labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            say(f"{name} step {step + 1}/{steps} loss {loss.item():.3f}")
    model.eval()


def _batch(
    train: list[lm_data.Example], recipe: TinyLMRecipe, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A right-padded batch. Task rows are supervised on the answer (+EOS) only."""
    tok = byte_tokenizer()
    n_task = round(recipe.batch_size * (1 - recipe.replay)) if train else 0
    rows: list[tuple[list[int], list[int]]] = []
    for i in rng.integers(0, len(train), size=n_task) if n_task else []:
        ex = train[int(i)]
        p = [tok.bos_token_id, *tok.encode(ex.prompt)]
        a = [*tok.encode(ex.answer), tok.eos_token_id]
        rows.append((p + a, [-100] * len(p) + a))
    for text in lm_data.pretraining_texts(recipe.batch_size - n_task, rng):
        ids = [tok.bos_token_id, *tok.encode(text), tok.eos_token_id]
        rows.append((ids, [-100, *ids[1:]]))
    width = max(len(r[0]) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for j, (x, y) in enumerate(rows):
        ids[j, : len(x)] = torch.tensor(x)
        labels[j, : len(y)] = torch.tensor(y)
    return ids, labels


def main(argv: list[str] | None = None) -> int:
    """``python -m evosearch.scenarios.demo_models.tinylm build [--pico] [--force] [--cache D]``."""
    parser = argparse.ArgumentParser(prog="python -m evosearch.scenarios.demo_models.tinylm")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (or find cached) base, expert_add, expert_rev")
    b.add_argument("--pico", action="store_true", help="the seconds-fast test recipe")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    b.add_argument("--cache", default=None, help="cache root (default: $EVOSEARCH_CACHE/models)")
    args = parser.parse_args(argv)
    recipe = PICO if args.pico else DEMO
    paths = build_models(
        recipe, cache_dir=args.cache, force=args.force, log=lambda m: print(m, flush=True)
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
