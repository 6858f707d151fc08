"""Demo models: training time on this machine and base/expert accuracies on held-out tests.

Builds the demo recipe from scratch into a temporary cache (wall and CPU seconds per model),
times the cached second call, then scores base, expert_add and expert_rev on the test split
of both skills (300 examples each; exact match of greedy answers) plus simple hand-set merges
done with plain tensor arithmetic (the merge scenario does these through mergekit).

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_tinylm.py``
"""

from __future__ import annotations

import json
import tempfile
import time

import torch


def main() -> None:
    from transformers import AutoModelForCausalLM

    from evosearch.scenarios.demo_models import tinylm
    from evosearch.tasks import lm_tasks

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        paths = tinylm.build_models(cache_dir=root)
        total = time.perf_counter() - start
        meta = json.loads((paths["base"].parent / "recipe.json").read_text())
        start = time.perf_counter()
        tinylm.build_models(cache_dir=root)
        cached = time.perf_counter() - start
        sec = meta["seconds"]
        print(f"recipe {meta['key']}: {json.dumps(meta['recipe'])}")
        print(f"{'model':12s} {'wall s':>8s} {'cpu s':>8s}")
        for name in tinylm.MODEL_NAMES:
            print(f"{name:12s} {sec[name]:8.1f} {sec[name + '_cpu']:8.1f}")
        cpu = sum(sec[n + "_cpu"] for n in tinylm.MODEL_NAMES)
        print(
            f"build total wall {total:.1f}s (cpu of training {cpu:.1f}s); cached call "
            f"{cached * 1000:.1f} ms"
        )

        states = {n: AutoModelForCausalLM.from_pretrained(p).state_dict() for n, p in paths.items()}
        b, a, r = states["base"], states["expert_add"], states["expert_rev"]
        rows = dict(states)
        rows["linear 0.5/0.5"] = {k: 0.5 * a[k] + 0.5 * r[k] for k in b}
        rows["task arithmetic 1/1"] = {k: a[k] + r[k] - b[k] for k in b}
        model = AutoModelForCausalLM.from_pretrained(paths["base"]).eval()
        print(
            f"\n{'model (test split)':22s} {'add':>6s} {'rev':>6s} {'mean':>6s}"
            f" {'ll/tok add':>10s} {'ll/tok rev':>10s}"
        )
        for name, state in rows.items():
            model.load_state_dict(state)
            m = lm_tasks.score_model(model, split="test").metrics
            print(
                f"{name:22s} {m['acc_add']:6.3f} {m['acc_rev']:6.3f} {m['acc_mean']:6.3f}"
                f" {m['token_loglik_add']:10.3f} {m['token_loglik_rev']:10.3f}"
            )


if __name__ == "__main__":
    main()
