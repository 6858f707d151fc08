"""The offline EvoLLM model, trained the paper's way on teacher optimisation trajectories.

Lange et al. improve EvoLLM by fine-tuning on trajectories of a teacher ES. Here (the default
``teacher="multi"``): roll EvoLLM's own loop out on BBOB functions (training instances 11+,
disjoint from the instances the benchmark uses), render every generation's buffer in EvoLLM's
own prompt format (``evollm_prompt.render_prompt``) and take as the answer the best next mean
among several teachers (hill climbing's incumbent, CMA-ES's and SNES's recombination, an
extrapolated step), scored on the training function (``evollm_targets``). ``teacher="cmaes"``
is the earlier recipe: the best solution of evotorch's CMA-ES's next generation. Then train a
small causal LM (byte-level, digits are single tokens) on those pairs, on CPU, cached on disk.

``python -m evosearch.scenarios.demo_models.evollm_lm build`` builds it; the ``evollm_tiny``
LLM backend builds it on first use and answers with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import pathlib
import time
from collections.abc import Sequence

import numpy as np

from evosearch import registry
from evosearch.llm.base import LLMBackend
from evosearch.scenarios.demo_models.tinylm import byte_llama_config, cache_root
from evosearch.strategies.evollm_prompt import blocks, format_point, render_prompt, to_grid


@dataclasses.dataclass(frozen=True)
class TrainRecipe:
    """Everything that determines the trained model (its hash names the cache entry)."""

    teacher: str = "multi"  # multi | cmaes
    target: str = "policy"  # multi only: policy | step
    functions: tuple[int, ...] = tuple(range(1, 25))
    dimensions: tuple[int, ...] = (2, 5, 10)
    instances: tuple[int, ...] = (11, 12, 13)
    generations: int = 20
    popsize: int = 10
    top_k: int = 5
    resolution: int = 100
    block_size: int = 4
    low: float = -5.0
    high: float = 5.0
    sigma_init: float = 0.15  # the σ schedule of the rollouts (EvoLLM's defaults)
    sigma_decay: float = 0.9
    sigma_min: float = 0.005
    draws: int = 4  # random draws per candidate when scoring the teachers
    rollouts: int = 2  # rollouts per (function, dimension, instance)
    hidden: int = 96
    layers: int = 3
    heads: int = 4
    steps: int = 600
    batch: int = 32
    lr: float = 3e-3
    threads: int = 1  # small models train fastest single-threaded on a shared CPU
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def teacher_examples(recipe: TrainRecipe, *, stats: dict | None = None) -> list[tuple[str, str]]:
    """(prompt, answer) pairs for ``recipe.teacher``; ``stats`` counts the winning teachers."""
    if recipe.teacher == "multi":
        return multi_teacher_examples(recipe, stats=stats)
    if recipe.teacher == "cmaes":
        return cmaes_examples(recipe)
    raise ValueError(f"teacher: {recipe.teacher!r} is not one of 'multi', 'cmaes'")


def multi_teacher_examples(
    recipe: TrainRecipe, *, stats: dict | None = None
) -> list[tuple[str, str]]:
    """(prompt, answer) pairs from on-policy rollouts of EvoLLM's loop with teacher targets.

    ``recipe.target == "policy"``: every teacher is first run as a whole EvoLLM policy on the
    training problems; the one with the lowest mean normalised final precision is the target
    everywhere (one-step winners favour copying the incumbent, which loses over a whole run).
    ``"step"``: the per-state winner of ``evollm_targets.best_next_mean``.
    """
    from evosearch.scenarios.demo_models.evollm_targets import (
        TEACHERS,
        best_next_mean,
        candidate_means,
    )

    stats = stats if stats is not None else {}
    problems = [(fn, d, inst) for fn in recipe.functions for d in recipe.dimensions
                for inst in recipe.instances]
    if recipe.target == "step":
        def choose(shown, loss, snap, sigma, rng, lo, hi):
            name, mean, _ = best_next_mean(shown, loss, snap=snap, sigma=sigma,
                                           popsize=recipe.popsize, low=lo, high=hi, rng=rng,
                                           draws=recipe.draws)
            return name, mean
    elif recipe.target == "policy":
        scores = {}
        for t in TEACHERS:
            rng = np.random.default_rng(recipe.seed)
            finals = [rollout(recipe, *prob, rng,
                              lambda shown, loss, snap, *_, t=t: (t, snap(
                                  candidate_means(shown)[t])))[1] for prob in problems]
            scores[t] = float(np.mean(finals))
        winner = min(TEACHERS, key=lambda t: (scores[t], TEACHERS.index(t)))
        stats["policy_scores"] = scores

        def choose(shown, loss, snap, *_):
            return winner, snap(candidate_means(shown)[winner])
    else:
        raise ValueError(f"target: {recipe.target!r} is not one of 'policy', 'step'")
    rng = np.random.default_rng(recipe.seed + 7)
    pairs: list[tuple[str, str]] = []
    for prob in problems:
        for _ in range(recipe.rollouts):
            pairs += rollout(recipe, *prob, rng, choose, stats=stats)[0]
    return pairs


def rollout(recipe: TrainRecipe, fn: int, d: int, inst: int, rng: np.random.Generator, choose,
            *, stats: dict | None = None) -> tuple[list[tuple[str, str]], float]:
    """One run of EvoLLM's loop with ``choose`` as the LLM: its pairs and final precision.

    The final best precision is normalised by the median precision of 1,000 uniform random
    points (as in ``benchmarks/evollm_bbob.py``).
    """
    from evosearch.strategies.evollm_prompt import from_grid
    from evosearch.tasks.bbob import get_problem

    problem = get_problem(fn, d, inst)
    res, pop = recipe.resolution, recipe.popsize
    lo, hi = np.full(d, recipe.low), np.full(d, recipe.high)

    def loss(x):
        return problem(x) - problem.f_opt

    def snap(m):
        return from_grid(to_grid(m, lo, hi, res), lo, hi, res)

    pairs: list[tuple[str, str]] = []
    xs = rng.uniform(lo, hi, size=(pop, d))
    ls = np.array([loss(x) for x in xs])
    sigma = recipe.sigma_init
    for _gen in range(1, recipe.generations):
        order = np.argsort(ls, kind="stable")[: recipe.top_k]
        name, mean = choose(xs[order], loss, snap, sigma, rng, lo, hi)
        if stats is not None:
            stats[name] = stats.get(name, 0) + 1
        grid = to_grid(xs[order[::-1]], lo, hi, res)  # worst → best
        target = to_grid(mean, lo, hi, res)
        for a, b in blocks(d, recipe.block_size):
            prompt = render_prompt(grid[:, a:b], ls[order[::-1]], res)
            pairs.append((prompt, format_point(target[a:b], res)))
        new = np.clip(mean + rng.normal(size=(pop - 1, d)) * sigma * (hi - lo), lo, hi)
        new = np.vstack([mean, new])
        xs = np.vstack([xs, new])
        ls = np.concatenate([ls, [loss(x) for x in new]])
        _, first = np.unique(xs, axis=0, return_index=True)  # a re-evaluated point once
        keep = first[np.argsort(ls[first], kind="stable")][: max(64, 4 * recipe.top_k)]
        xs, ls = xs[keep], ls[keep]
        sigma = max(recipe.sigma_min, sigma * recipe.sigma_decay)
    norm_x = np.random.default_rng(inst).uniform(lo, hi, size=(1000, d))
    norm = float(np.median([loss(x) for x in norm_x])) or 1.0
    return pairs, float(ls.min()) / norm


def cmaes_examples(recipe: TrainRecipe) -> list[tuple[str, str]]:
    """(prompt, answer) pairs from CMA-ES trajectories in EvoLLM's prompt format.

    The prompt shows the best ``top_k`` solutions evaluated before a teacher generation; the
    answer is the best solution of that generation: "propose a better solution", as the
    teacher did.
    """
    from evosearch.individual import FitnessResult
    from evosearch.strategies.evotorch import CMAES
    from evosearch.tasks.bbob import get_problem

    rng = np.random.default_rng(recipe.seed)
    low, high, res = recipe.low, recipe.high, recipe.resolution
    pairs: list[tuple[str, str]] = []
    for fn in recipe.functions:
        for d in recipe.dimensions:
            for inst in recipe.instances:
                problem = get_problem(fn, d, inst)
                lo, hi = np.full(d, low), np.full(d, high)
                teacher = CMAES(
                    CMAES.Params(dimension=d, low=low, high=high, popsize=recipe.popsize,
                                 stdev_init=0.25 * (high - low)),
                    rng=rng,
                )
                xs_all, loss_all = [], []
                for _gen in range(recipe.generations):
                    # the prompt shows the buffer before this generation ...
                    order = np.argsort(loss_all, kind="stable")[: recipe.top_k][::-1]
                    shown = (np.asarray(xs_all)[order], np.asarray(loss_all)[order])
                    batch = teacher.ask()
                    told = []
                    for ind in batch:
                        x = np.clip(ind.genome.values, lo, hi)
                        loss = problem(x) - problem.f_opt
                        xs_all.append(x)
                        loss_all.append(loss)
                        told.append(ind.with_result(FitnessResult(score=-loss)))
                    teacher.tell(told)
                    if len(order) < 2:
                        continue
                    # ... and the answer is the best solution the teacher found next
                    best = told[int(np.argmax([t.score for t in told]))].genome.values
                    target = to_grid(np.clip(best, lo, hi), lo, hi, res)
                    grid = to_grid(shown[0], lo, hi, res)
                    for a, b in blocks(d, recipe.block_size):
                        prompt = render_prompt(grid[:, a:b], shown[1], res)
                        pairs.append((prompt, format_point(target[a:b], res)))
    return pairs


def train(recipe: TrainRecipe, out_dir: pathlib.Path, *, log=print) -> pathlib.Path:
    """Generate teacher data, train the model, save it (HF format) to ``out_dir``."""
    import torch
    from transformers import LlamaForCausalLM

    from evosearch.models.bytetok import byte_tokenizer

    t0 = time.monotonic()
    stats: dict[str, int] = {}
    pairs = teacher_examples(recipe, stats=stats)
    log(f"evollm-tiny: {len(pairs)} teacher examples in {time.monotonic() - t0:.0f}s"
        + (f"; winning teachers {dict(sorted(stats.items()))}" if stats else ""))
    tok = byte_tokenizer()
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.seed)
    seqs, masks = [], []
    for prompt, answer in pairs:
        p_ids = tok(prompt).input_ids
        a_ids = tok(answer + "\n").input_ids + [tok.eos_token_id]
        seqs.append(p_ids + a_ids)
        masks.append([0] * len(p_ids) + [1] * len(a_ids))
    max_len = max(len(s) for s in seqs)
    config = byte_llama_config(
        hidden=recipe.hidden, intermediate=3 * recipe.hidden, layers=recipe.layers,
        heads=recipe.heads, max_positions=max(256, max_len + 64), tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=recipe.steps,
                                                pct_start=0.05)
    gen = np.random.default_rng(recipe.seed + 1)
    model.train()
    for step in range(recipe.steps):
        idx = gen.integers(0, len(seqs), size=recipe.batch)
        length = max(len(seqs[i]) for i in idx)
        ids = torch.full((recipe.batch, length), tok.pad_token_id)
        att = torch.zeros((recipe.batch, length), dtype=torch.long)
        labels = torch.full((recipe.batch, length), -100)
        for row, i in enumerate(idx):
            s, m = seqs[i], masks[i]
            ids[row, : len(s)] = torch.tensor(s)
            att[row, : len(s)] = 1
            labels[row, : len(s)] = torch.where(torch.tensor(m) == 1, torch.tensor(s), -100)
        loss = model(input_ids=ids, attention_mask=att, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == recipe.steps - 1:
            log(f"evollm-tiny: step {step}/{recipe.steps} loss {loss.item():.3f} "
                f"({time.monotonic() - t0:.0f}s)")
    model.eval()
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "evosearch-recipe.json").write_text(json.dumps(dataclasses.asdict(recipe), indent=1))
    os.replace(tmp, out_dir)
    log(f"evollm-tiny: saved to {out_dir} ({time.monotonic() - t0:.0f}s)")
    return out_dir


def ensure_model(recipe: TrainRecipe | None = None, *, log=print) -> pathlib.Path:
    """The cached model directory for ``recipe``, trained first if missing."""
    import fcntl

    recipe = recipe or TrainRecipe()
    out = cache_root() / f"evollm-tiny-{recipe.key()}"
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and reuse its result
        if (out / "config.json").exists():
            return out
        log(f"evollm-tiny: training the EvoLLM model (cached afterwards in {out})")
        return train(recipe, out, log=log)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evosearch.scenarios.demo_models.evollm_lm")
    parser.add_argument("command", choices=["build", "path"])
    args = parser.parse_args(argv)
    path = ensure_model() if args.command == "build" else (
        cache_root() / f"evollm-tiny-{TrainRecipe().key()}")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@registry.llms.register("evollm_tiny")
class EvoLLMTinyBackend(LLMBackend):
    """LLM backend ``evollm_tiny``: the teacher-trained model, answered by ``transformers``.

    Builds (trains) the model on first use if it is not cached, then delegates generation to
    the ``transformers`` backend on that checkpoint directory.

    Args:
        device: ``auto``, ``cpu``, ``cuda`` ...
        batch_size: Requests per ``generate`` call.
        threads: torch CPU threads (``0``: leave torch's setting). A model this small
            answers ~10x faster on one thread than on two contended ones.
    """

    def __init__(self, device: str = "auto", batch_size: int = 16, threads: int = 1):
        import torch

        from evosearch.llm.transformers_backend import TransformersBackend

        if threads > 0:
            torch.set_num_threads(threads)
        self.path = ensure_model()
        self._inner = TransformersBackend(
            path=str(self.path), device=device, batch_size=batch_size, chat_template="never"
        )

    def generate(self, requests):
        return self._inner.generate(requests)
