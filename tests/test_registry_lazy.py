"""The registry knows every built-in plugin by name and imports one only when it is looked up."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import evosearch
from evosearch import registry
from evosearch.builtin_plugins import BUILTINS

# Not plugin modules: the package's entry script and the DGM agent's own source tree.
NOT_IMPORTABLE = ("evosearch.__main__", "evosearch.tasks.dgm_agent.agent")


def _import_every_module() -> None:
    for info in pkgutil.walk_packages(evosearch.__path__, "evosearch."):
        if info.name.startswith(NOT_IMPORTABLE):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as exc:  # an optional dependency that is not installed
            if registry._ours(getattr(exc, "name", None)):
                raise


def test_the_static_table_is_what_the_modules_register():
    _import_every_module()
    for family, reg in registry.REGISTRIES.items():
        registered = {
            e.name: f"{e.obj.__module__}:{e.obj.__qualname__}"
            for e in reg._entries.values()
            if e.origin == "builtin" and e.obj.__module__.startswith("evosearch.")
        }
        assert registered == BUILTINS[family], (
            f"evosearch/builtin_plugins.py is out of date for the {family} family"
        )
    assert set(BUILTINS) == set(registry.REGISTRIES)


def _fresh(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_names_and_membership_import_no_plugin_module():
    got = _fresh(
        "import json, sys\n"
        "from evosearch import registry\n"
        "before = set(sys.modules)\n"
        "names = {f: r.names() for f, r in registry.REGISTRIES.items()}\n"
        "member = 'cmaes' in registry.strategies and 'ray' in registry.executors\n"
        "new = sorted(m for m in set(sys.modules) - before if m.startswith('evosearch.'))\n"
        "print(json.dumps({'names': names, 'member': member, 'new': new}))\n"
    )
    assert got["new"] == []
    assert got["member"] is True
    for family, table in BUILTINS.items():
        assert set(table) <= set(got["names"][family])


def test_a_lookup_imports_only_the_module_that_defines_the_plugin():
    got = _fresh(
        "import json, sys\n"
        "from evosearch import registry\n"
        "before = set(sys.modules)\n"
        "registry.selectors.get('tournament')\n"
        "new = sorted(m for m in set(sys.modules) - before if m.startswith('evosearch.'))\n"
        "print(json.dumps(new))\n"
    )
    assert "evosearch.operators.selection" in got
    assert not [m for m in got if m.startswith(("evosearch.strategies.", "evosearch.archives."))]


def test_an_unknown_name_lists_the_builtins_without_importing_them():
    with pytest.raises(registry.RegistryError, match=r"unknown strategy 'nope'; known: .*cmaes"):
        registry.strategies.get("nope")


def test_a_builtin_whose_dependency_is_missing_names_it():
    reg = registry.Registry("strategy", builtins={"ghost": "evosearch_no_such_pkg.mod:Ghost"})
    assert "ghost" in reg and reg.names() == ["ghost"]
    with pytest.raises(registry.RegistryError, match="strategy 'ghost' needs 'evosearch_no_such"):
        reg.get("ghost")


def test_a_builtin_name_cannot_be_taken_by_another_object():
    class Impostor:
        arity = 1

        def __call__(self, parents, rng):
            return parents

    reg = registry.Registry("operator", builtins=BUILTINS["operator"])  # nothing loaded yet
    with pytest.raises(ValueError, match="'vector.sbx' is a built-in name"):
        reg.add("vector.sbx", Impostor)
