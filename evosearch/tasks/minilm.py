"""Fitness ``weights.minilm_tasks``: a merged MiniLM encoder scored on four tasks with their heads.

Each recipe's encoder weights are copied in place into one ``BertModel`` skeleton (see
``WeightsRuntime``); every task's evaluation sentences are tokenised once per process and
encoded in large batches; each task's own linear head (``heads.safetensors`` of the pool
built by ``evosearch.scenarios.demo_models.minilm``) classifies the mean-pooled embeddings.
The score is the mean accuracy over the tasks (metrics: ``acc_<task>``, ``nll_mean``), plus
``nll_weight`` × minus the mean negative log-likelihood of the right labels (a dense
tie-breaker for the search, 0 by default).

``ctx.params``: ``pool`` (``ModelPool.from_config``), ``split`` (``val``/``test``), ``n``
(sentences per task, default: the whole split), ``tasks``, ``heads`` (path; default beside
the pool's reference checkpoint), ``batch_size``, ``nll_weight``, ``cache_bytes``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from evosearch.fitness.base import fitness
from evosearch.genomes.weights import WeightsGenome
from evosearch.individual import FitnessResult
from evosearch.models.pool import PoolError
from evosearch.tasks import text_classification
from evosearch.tasks.weights import WeightsRuntime


def quiet_load(load: Any, *args: Any, **kwargs: Any) -> Any:
    """``load(*args, **kwargs)`` (a ``from_pretrained``) without the load report and bar.

    The encoder is loaded without its pooler on purpose; transformers' report that says so
    (``pooler.dense.* UNEXPECTED``) reads like an error to a user.
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return load(*args, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sentence embeddings: the mean of the token states under the attention mask."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


def heads_path(model_dir: str | os.PathLike[str]) -> pathlib.Path:
    """Where the task heads of a built pool live (beside its checkpoints)."""
    return pathlib.Path(model_dir).parent / "heads.safetensors"


def load_heads(path: str | os.PathLike[str]) -> dict[str, torch.nn.Linear]:
    """Task name → its linear head."""
    from safetensors.torch import load_file

    sd = load_file(str(path))
    heads = {}
    for task in sorted({k.split(".")[0] for k in sd}):
        w, b = sd[f"{task}.weight"], sd[f"{task}.bias"]
        head = torch.nn.Linear(w.shape[1], w.shape[0])
        head.load_state_dict({"weight": w, "bias": b})
        heads[task] = head.eval()
    return heads


class EncoderRuntime(WeightsRuntime):
    """``WeightsRuntime`` whose skeleton is an encoder (``AutoModel``) with task heads."""

    _batches: dict[tuple, list] | None = None
    _heads: dict[str, torch.nn.Linear] | None = None
    _tok: Any = None

    def _load(self, ref: str) -> torch.nn.Module:
        """The encoder (no pooling layer); its tokenizer is loaded alongside."""
        from transformers import AutoModel, AutoTokenizer

        model = quiet_load(AutoModel.from_pretrained, ref, add_pooling_layer=False)
        self._tok = AutoTokenizer.from_pretrained(ref)
        return model

    def heads(self, path: str | None) -> dict[str, torch.nn.Linear]:
        if self._heads is None:
            ref = self.pool.reference_dir()
            p = pathlib.Path(path) if path else heads_path(ref) if ref else None
            if p is None or not p.is_file():
                raise PoolError(f"fitness.params.heads: no task heads at {p}")
            self._heads = {k: h.to(self.device) for k, h in load_heads(p).items()}
        return self._heads

    def batches(self, task: str, split: str, n: int | None, batch_size: int) -> list:
        """Tokenised evaluation batches of one task (made once per process)."""
        self.model  # noqa: B018 (loads the tokenizer)
        self._batches = self._batches or {}
        key = (task, split, n, batch_size)
        if key not in self._batches:
            texts, labels = text_classification.split(task, split)
            texts, labels = texts[:n], labels[:n]
            out = []
            for i in range(0, len(texts), batch_size):
                enc = self._tok(list(texts[i : i + batch_size]), padding=True, return_tensors="pt")
                y = torch.tensor(labels[i : i + batch_size])
                out.append((enc.to(self.device), y.to(self.device)))
            self._batches[key] = out
        return self._batches[key]


def score_encoder(model, rt: EncoderRuntime, params: dict[str, Any]) -> FitnessResult:
    """Mean task accuracy of the encoder now in the skeleton (see the module docstring)."""
    heads = rt.heads(params.get("heads"))
    tasks = params.get("tasks") or list(heads)
    split, n = params.get("split", "val"), params.get("n")
    metrics: dict[str, float] = {}
    nll_total = 0.0
    with torch.inference_mode():
        for task in tasks:
            right, nll, count = 0, 0.0, 0
            for enc, y in rt.batches(task, split, n, int(params.get("batch_size", 512))):
                emb = mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
                logits = heads[task](emb)
                right += int((logits.argmax(1) == y).sum())
                nll += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
                count += len(y)
            metrics[f"acc_{task}"] = right / count
            nll_total += nll / count
    acc = sum(metrics[f"acc_{t}"] for t in tasks) / len(tasks)
    metrics["acc_mean"] = acc
    metrics["nll_mean"] = nll_total / len(tasks)
    score = acc - float(params.get("nll_weight", 0.0)) * metrics["nll_mean"]
    return FitnessResult(score=score, metrics=metrics)


@fitness("weights.minilm_tasks", batched=True)
def minilm_tasks(genomes: Sequence[WeightsGenome], ctx: Any) -> list[Any]:
    """Mean accuracy over the MiniLM tasks of each recipe's encoder (see the module docstring)."""
    params = dict(ctx.params or {})
    rt = EncoderRuntime.get(
        params.get("pool"), device=ctx.device, cache_bytes=int(params.get("cache_bytes", 2**30))
    )
    return rt.evaluate(genomes, lambda model: score_encoder(model, rt, params))


def _dfs_sources(rt: EncoderRuntime, params: dict[str, Any]) -> dict[str, dict]:
    """Name → state dict of every DFS source (pool models or recipes, built once, cached)."""
    cache = rt.__dict__.setdefault("_dfs_sources", {})
    spec = params.get("sources") or {n: {"base": n} for n in rt.pool.names}
    key = repr(sorted(spec.items(), key=lambda kv: kv[0]))
    if key not in cache:
        cache[key] = {n: rt.materialiser.state_dict(WeightsGenome(r)) for n, r in spec.items()}
    return cache[key]


@fitness("weights.minilm_dfs", batched=True)
def minilm_dfs(genomes: Sequence[Any], ctx: Any) -> list[Any]:
    """Data-flow-space merges of MiniLM sources, scored like ``weights.minilm_tasks``.

    Genomes are vectors decoded by ``evosearch.models.dfs.DFSGenotype(**params['dfs'])``;
    ``params['sources']`` maps each source name to a recipe (default: the pool models), and
    ``params['embed_from']`` names the source of embeddings (default: the first source).
    """
    from transformers import AutoConfig, AutoModel

    from evosearch.models.dfs import DFSGenotype, stack_state_dict, stacked_config

    params = dict(ctx.params or {})
    rt = EncoderRuntime.get(
        params.get("pool"), device=ctx.device, cache_bytes=int(params.get("cache_bytes", 2**30))
    )
    geno_cfg = dict(params.get("dfs") or {})
    geno_cfg["sources"] = tuple(geno_cfg["sources"])
    geno = DFSGenotype(**geno_cfg)
    sources = _dfs_sources(rt, params)
    embed_from = params.get("embed_from") or geno.sources[0]
    ref = rt.pool.reference_dir()
    base_cfg = AutoConfig.from_pretrained(ref).to_dict()
    rt.model  # noqa: B018 (tokenizer)
    out: list[Any] = []
    for g in genomes:
        steps = geno.decode(np.asarray(g.values))
        state = stack_state_dict(sources, steps, embed_from)
        cfg = AutoConfig.for_model(**stacked_config(base_cfg, len(steps)))
        model = AutoModel.from_config(cfg, add_pooling_layer=False).to(rt.device).eval()
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.endswith("position_ids")]:
            raise PoolError(f"DFS state does not fit the model: {missing[:3]} {unexpected[:3]}")
        r = score_encoder(model, rt, params)
        r = FitnessResult(score=r.score, metrics={**r.metrics, "layers": float(len(steps))})
        out.append(r)
    return out
