"""Data-flow-space merging: a new model whose layers are taken, in sequence, from the sources.

Akiba et al. 2024, "Evolutionary Optimization of Model Merging Recipes" (Sakana). The
genome follows the paper: the candidate path is ``repeats`` passes over the sources'
layers (for each repeat, for each source, layers 0..L−1: ``T = repeats·M·L`` steps); an
indicator array ``I ∈ R^T`` keeps step t when ``I_t > 0``, and a scaling array ``s ∈ R^T``
scales what step t contributes. Unlike the paper's in-forward input scaling, the scale is
folded into the weights so the result is a plain HF checkpoint: post-LN layers (BERT) scale
their output LayerNorm (γ, β → sγ, sβ: the layer's output times s); pre-LN layers (Llama
family) scale their residual branches (``o_proj``, ``down_proj``). Embeddings, final norm and
head come from ``embed_from``. Sources are named state dicts — pool models or the weights of
any recipe (a parameter-space merge for PS+DFS).

``passthrough_config`` writes the equivalent mergekit ``passthrough`` YAML (one slice per
step, the scale as a filtered ``scale`` parameter) when every source is a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from evosearch.models.merging import _LAYER, layer_index

SCALED = ("output.LayerNorm.", "self_attn.o_proj.", "mlp.down_proj.")
"""Tensor-name parts that carry a step's scale (see the module docstring)."""
_NOT_SCALED = ("attention.output.LayerNorm.",)


@dataclasses.dataclass(frozen=True)
class Step:
    """One layer of the new model: ``layer`` of ``source``, its contribution times ``scale``."""

    source: str
    layer: int
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class DFSGenotype:
    """How a flat vector ``[I (T values), s (T values)]`` maps to a layer path.

    Attributes:
        sources: Source names, in path order within each repeat.
        num_layers: Layers of every source (L).
        repeats: Passes over the sources (r).
        max_steps: Upper bound on the kept steps (the first ones are kept).
    """

    sources: tuple[str, ...]
    num_layers: int
    repeats: int = 2
    max_steps: int | None = None

    @property
    def steps_total(self) -> int:
        return self.repeats * len(self.sources) * self.num_layers

    @property
    def dimension(self) -> int:
        return 2 * self.steps_total

    def step(self, t: int) -> tuple[str, int]:
        per = self.num_layers
        return self.sources[(t // per) % len(self.sources)], t % per

    def initial(self, source: int = 0) -> np.ndarray:
        """The path of one source's own layers (indicator 0.5 on, −0.5 off), scales 1."""
        ind = np.full(self.steps_total, -0.5)
        lo = source * self.num_layers
        ind[lo : lo + self.num_layers] = 0.5
        return np.concatenate([ind, np.ones(self.steps_total)])

    def decode(self, x: Sequence[float]) -> list[Step]:
        """The kept steps (never empty: an all-off indicator keeps the first source's layers).

        Raises:
            ValueError: when ``x`` has the wrong length.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.size != self.dimension:
            raise ValueError(f"DFS genotype has {x.size} values, expected {self.dimension}")
        ind, scale = x[: self.steps_total], x[self.steps_total :]
        steps = [
            Step(*self.step(t), float(scale[t])) for t in range(self.steps_total) if ind[t] > 0
        ]
        if not steps:
            steps = [Step(self.sources[0], i) for i in range(self.num_layers)]
        return steps[: self.max_steps] if self.max_steps else steps


def _rename(name: str, new_layer: int) -> str:
    m = _LAYER.search(name)
    assert m is not None
    lo, hi = m.span(1)
    return name[:lo] + str(new_layer) + name[hi:]


def _scaled(name: str) -> bool:
    return any(s in name for s in SCALED) and not any(s in name for s in _NOT_SCALED)


def stack_state_dict(
    sources: Mapping[str, Mapping[str, torch.Tensor]], steps: Sequence[Step], embed_from: str
) -> dict[str, torch.Tensor]:
    """The state dict of the layer path (layers renumbered 0..len(steps)−1).

    Raises:
        KeyError: a step names an unknown source.
    """
    out = {k: v for k, v in sources[embed_from].items() if layer_index(k) is None}
    by_layer: dict[tuple[str, int], list[str]] = {}
    for src in {s.source for s in steps}:
        for k in sources[src]:
            li = layer_index(k)
            if li is not None:
                by_layer.setdefault((src, li), []).append(k)
    for i, s in enumerate(steps):
        names = by_layer.get((s.source, s.layer))
        if not names:
            raise KeyError(f"source {s.source!r} has no layer {s.layer}")
        for k in names:
            v = sources[s.source][k]
            out[_rename(k, i)] = v * s.scale if s.scale != 1 and _scaled(k) else v
    return out


def stacked_config(config: Mapping[str, Any], n_layers: int) -> dict[str, Any]:
    """A copy of an HF ``config.json`` dict with ``num_hidden_layers`` = ``n_layers``."""
    cfg = dict(config)
    cfg["num_hidden_layers"] = n_layers
    for key in ("layer_types",):  # per-layer lists some configs carry
        if isinstance(cfg.get(key), list) and cfg[key]:
            cfg[key] = [cfg[key][0]] * n_layers
    return cfg


def export_stack(
    state: Mapping[str, torch.Tensor],
    n_layers: int,
    reference_dir: str | pathlib.Path,
    out_dir: str | pathlib.Path,
    steps: Sequence[Step] | None = None,
) -> pathlib.Path:
    """Write the stacked model as an HF checkpoint (config and tokenizer from the reference)."""
    from safetensors.torch import save_file

    ref, out = pathlib.Path(reference_dir), pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for f in ref.iterdir():
        if f.is_file() and f.suffix in (".json", ".txt", ".jinja") and f.name != "config.json":
            shutil.copy2(f, out / f.name)
    cfg = stacked_config(json.loads((ref / "config.json").read_text()), n_layers)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    if steps is not None:
        path = [dataclasses.asdict(s) for s in steps]
        (out / "dfs_path.json").write_text(json.dumps(path, indent=1))
    return out


def passthrough_config(
    steps: Sequence[Step],
    paths: Mapping[str, str | pathlib.Path],
    embed_from: str,
    dtype: str = "float32",
) -> dict[str, Any]:
    """The mergekit ``passthrough`` config that builds the same layer path.

    mergekit takes the embeddings from the first slice's model and the final norm and head
    from the last slice's, so a path is expressible when it starts and ends with a layer of
    ``embed_from``.

    Raises:
        ValueError: the path is not expressible, or a source is not a checkpoint directory
            in ``paths`` (e.g. a PS merge: export it first and name its directory).
    """
    if steps and (steps[0].source != embed_from or steps[-1].source != embed_from):
        raise ValueError(
            f"mergekit's passthrough takes embeddings and head from the first and last "
            f"slices: the path must start and end with a layer of {embed_from!r}"
        )
    slices = []
    for s in steps:
        if s.source not in paths:
            raise ValueError(
                f"source {s.source!r} has no checkpoint directory; export it first "
                "(mergekit's passthrough reads layers from checkpoints)"
            )
        src: dict[str, Any] = {
            "model": str(pathlib.Path(paths[s.source]).resolve()),
            "layer_range": [s.layer, s.layer + 1],
        }
        entry: dict[str, Any] = {"sources": [src]}
        if s.scale != 1:
            conds = [{"filter": f, "value": 1.0} for f in _NOT_SCALED]
            conds += [{"filter": f, "value": s.scale} for f in SCALED]
            entry["parameters"] = {"scale": [*conds, {"value": 1.0}]}
        slices.append(entry)
    return {"merge_method": "passthrough", "dtype": dtype, "slices": slices}


def source_names(steps: Sequence[Step]) -> list[str]:
    return list(dict.fromkeys(s.source for s in steps))
