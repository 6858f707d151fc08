"""evosearch.api: one module with every plugin contract, capabilities declared with defaults."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

import evosearch
from evosearch import api, registry
from evosearch.engine import Engine
from evosearch.llm.base import LLMRequest
from evosearch.llm.pool import backend_from_config

EX = "plugin_api_examples"


def test_every_name_in_all_is_importable():
    for name in api.__all__:
        assert getattr(api, name) is not None, name


def test_importing_the_api_imports_nothing_heavy():
    heavy = ("torch", "ribs", "ray", "gymnasium", "transformers", "mergekit", "sklearn", "deap")
    code = f"import sys, evosearch.api\nprint([m for m in {heavy!r} if m in sys.modules])\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_capabilities_have_declared_defaults():
    assert (api.Operator.arity, api.Operator.uses_context, api.Operator.inspirations) == (
        1,
        False,
        0,
    )
    assert api.Selector.uses_child_counts is False
    assert api.Archive.islands == 1
    assert api.Strategy.Params is None and api.Strategy.archive is None
    assert api.LLMBackend.cacheable is False and api.LLMBackend.cache_id is None


def test_the_documented_plugins_of_every_family_run_together(tmp_path):
    cfg = {
        "budget": {"generations": 3},
        "seed": 1,
        "fitness": f"{EX}:neg_l1",
        "executor": f"{EX}:Inline",
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 6,
                "init": {"ref": f"{EX}:Box", "params": {"dimension": 3}},
                "selector": f"{EX}:BestHalf",
                "operators": [f"{EX}:Flip", {"ref": "vector.gaussian"}],
                "archive": {"ref": f"{EX}:KeepBest", "params": {"size": 4}},
            },
        },
    }
    engine = Engine.create(cfg, tmp_path / "run")
    summary = engine.run()
    assert summary.evaluations == 18
    assert len(engine.strategy.archive.members()) == 4
    engine.close()


def test_a_documented_strategy_takes_population_size(tmp_path):
    cfg = {
        "budget": {"generations": 2},
        "fitness": f"{EX}:neg_l1",
        "strategy": {
            "ref": f"{EX}:RandomVectors",
            "params": {"dimension": 2, "population_size": 5},
        },
    }
    summary = Engine.create(cfg, tmp_path / "run").run()
    assert summary.evaluations == 10


def test_a_documented_llm_backend_loads_by_reference():
    backend = backend_from_config({"ref": f"{EX}:Echo", "params": {"prefix": "> "}})
    (answer,) = backend.generate([LLMRequest.from_prompt("hi")])
    assert answer.text == "> hi"


@pytest.mark.parametrize(
    ("reg", "base"),
    [
        (registry.operators, "Operator"),
        (registry.selectors, "Selector"),
        (registry.archives, "Archive"),
        (registry.strategies, "Strategy"),
        (registry.executors, "Executor"),
        (registry.llms, "LLMBackend"),
    ],
)
def test_a_plugin_class_must_derive_from_its_family_base(reg, base):
    class Stray:
        arity = 1

        def __call__(self, individuals, n, rng):
            return individuals

        add = members = ask = tell = evaluate = generate = __call__

    fresh = registry.Registry(reg.family, reg._check)
    with pytest.raises(TypeError, match=f"must derive from evosearch.api.{base}"):
        fresh.add("stray", Stray)


CAPABILITIES = (
    "uses_context", "inspirations", "uses_child_counts", "islands", "restore",
    "drain_events", "cacheable", "cache_id", "Params", "archive", "stats",
)  # fmt: skip


def test_the_engine_reads_capabilities_instead_of_probing_for_them():
    root = pathlib.Path(evosearch.__file__).parent
    names = "|".join(CAPABILITIES)
    probe = re.compile(rf"""(getattr|hasattr)\([^)]*["']({names})["']""")
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if probe.search(line)
    ]
    assert not found, "probed capabilities (declare them on the base class):\n" + "\n".join(found)
