"""Export of weight recipes: an HF checkpoint, and the equivalent mergekit YAML.

``export_weights`` materialises a recipe and writes ``model.safetensors`` next to the config
and tokenizer of the pool's reference checkpoint, so ``AutoModelForCausalLM.from_pretrained``
loads it. For a pure merge (one merge of pool checkpoints) it also writes ``mergekit.yml``,
which ``mergekit-yaml mergekit.yml OUT`` turns into the same tensors (randomised methods need
the ``--random-seed`` written in the file's header).
"""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

import yaml
from safetensors.torch import save_file

from evosearch.genomes.weights import WeightsGenome
from evosearch.models import merging
from evosearch.models.materialise import Materialiser
from evosearch.models.pool import ModelPool

_CHECKPOINT_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)


class ExportError(ValueError):
    """A recipe that cannot be written in the asked form."""


def mergekit_config(genome: WeightsGenome, pool: ModelPool) -> dict[str, Any]:
    """The mergekit YAML config (as a dict) that reproduces a pure-merge recipe.

    Raises:
        ExportError: the recipe is not one merge of distinct pool checkpoint directories.
    """
    if not genome.is_pure_merge():
        raise ExportError(
            "only a single merge of pool models has an equivalent mergekit YAML; "
            f"this recipe is {genome.summary()}"
        )
    node = genome.recipe
    names = [p["base"] for p in node["parents"]]
    if len(set(names)) != len(names):
        raise ExportError(f"mergekit cannot merge a model with itself: parents {names}")
    paths = []
    for n in names:
        d = pool.model(n).checkpoint_dir
        if d is None:
            raise ExportError(f"pool model {n!r} is not an HF checkpoint directory")
        paths.append(str(d.resolve()))
    spec = merging.method(node["merge"]).spec
    scope = {p.name: p.scope.value for p in spec.parameters}
    base = node.get("base")
    params = node.get("params") or {}

    def per_input(values: dict[str, Any], i: int) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            if scope.get(key) == "shared" or (scope.get(key) == "non_base" and i == base):
                continue
            if isinstance(value, list) and not all(isinstance(v, dict) for v in value):
                if scope[key] == "non_base" and base is not None and len(value) == len(names) - 1:
                    value = value[i - (i > base)]
                else:
                    value = value[i]
            out[key] = value
        return out

    shared = {k: v for k, v in params.items() if scope.get(k) == "shared"}
    dtype = next(iter(pool.model(names[0]).meta.values()))[1].lower()
    dtype = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}.get(dtype, dtype)
    cfg: dict[str, Any] = {"merge_method": node["merge"], "dtype": dtype}
    if base is not None:
        cfg["base_model"] = paths[base]
    slices = node.get("slices")
    if not slices:
        cfg["models"] = [
            {"model": p, **({"parameters": q} if (q := per_input(params, i)) else {})}
            for i, p in enumerate(paths)
        ]
    else:
        cfg["slices"] = []
        for s in slices:
            merged = {**params, **(s.get("params") or {})}
            entry: dict[str, Any] = {"sources": []}
            for i, p in enumerate(paths):
                src: dict[str, Any] = {"model": p, "layer_range": list(s["layers"])}
                q = per_input(merged, i)
                if q:
                    src["parameters"] = q
                entry["sources"].append(src)
            slice_shared = {
                k: v for k, v in (s.get("params") or {}).items() if scope.get(k) == "shared"
            }
            if slice_shared:
                entry["parameters"] = slice_shared
            cfg["slices"].append(entry)
    if shared:
        cfg["parameters"] = shared
    return cfg


def export_weights(
    genome: WeightsGenome,
    out_dir: str | pathlib.Path,
    pool: ModelPool,
    *,
    device: str = "cpu",
) -> list[pathlib.Path]:
    """Write an HF checkpoint (and ``mergekit.yml`` for pure merges) to ``out_dir``.

    Returns:
        The files written.

    Raises:
        ExportError: the pool has no reference checkpoint to copy config and tokenizer from.
    """
    out = pathlib.Path(out_dir)
    ref = pool.reference_dir()
    if ref is None:
        raise ExportError("the pool has no HF checkpoint directory to copy config/tokenizer from")
    out.mkdir(parents=True, exist_ok=True)
    written: list[pathlib.Path] = []
    for name in _CHECKPOINT_FILES:
        if (ref / name).is_file():
            shutil.copy2(ref / name, out / name)
            written.append(out / name)
    sd = Materialiser(pool, device=device, cache_bytes=0).state_dict(genome)
    tensors = {k: v.detach().contiguous().cpu() for k, v in sd.items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    written.append(out / "model.safetensors")
    (out / "recipe.json").write_text(json.dumps(genome.to_json(), indent=1))
    written.append(out / "recipe.json")
    if genome.is_pure_merge():
        try:
            cfg = mergekit_config(genome, pool)
        except ExportError:
            cfg = None
        if cfg is not None:
            seed = genome.recipe.get("seed")
            header = "# reproduce: mergekit-yaml mergekit.yml OUT_DIR"
            header += f" --random-seed {seed}\n" if seed is not None else "\n"
            (out / "mergekit.yml").write_text(header + yaml.safe_dump(cfg, sort_keys=False))
            written.append(out / "mergekit.yml")
    return written
