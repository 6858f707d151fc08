"""One naming scheme for built-in plugins; old names resolve with a warning for one version."""

from __future__ import annotations

import re
import textwrap

import pytest

from evosearch import registry
from evosearch.builtin_plugins import ALIASES, BUILTINS
from evosearch.config import load_config

SCHEME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")
OLD_NAMES = [(f, old, new) for f, table in ALIASES.items() for old, new in table.items()]


def test_every_builtin_name_follows_the_scheme_and_belongs_to_one_family():
    bad = [f"{f}:{n}" for f, table in BUILTINS.items() for n in table if not SCHEME.fullmatch(n)]
    assert not bad, f"names outside the scheme (docs/plugins.md, 'Plugin names'): {bad}"
    families: dict[str, list[str]] = {}
    for family, table in BUILTINS.items():
        for name in table:
            families.setdefault(name, []).append(family)
    assert {n: f for n, f in families.items() if len(f) > 1} == {}


def test_every_alias_points_to_a_builtin_of_its_family_and_is_not_itself_one():
    for family, old, new in OLD_NAMES:
        assert new in BUILTINS[family], f"{family} alias {old!r} -> unknown {new!r}"
        assert old not in BUILTINS[family]


@pytest.mark.parametrize(("family", "old", "new"), OLD_NAMES)
def test_an_old_name_resolves_to_the_new_plugin_and_warns_with_the_new_name(family, old, new):
    reg = registry.REGISTRIES[family]
    assert old in reg and old not in reg.names() and reg.aliases()[old] == new
    with pytest.warns(registry.ConfigDeprecationWarning, match=rf"'{re.escape(new)}'"):
        entry = reg.get(old)
    assert entry is reg.get(new) and entry.name == new


def test_an_unknown_name_lists_the_new_names_not_the_old_ones():
    with pytest.raises(registry.RegistryError) as err:
        registry.selectors.get("dgmm")
    known = str(err.value).split("known: ")[1].split(" (")[0].split(", ")
    assert "dgm.score_child_prop" in known and "novelty_tournament" in known
    assert "dgm" not in known and "novelty" not in known


def test_a_config_naming_a_strategy_by_its_old_name_still_loads(tmp_path):
    cfg = {"budget": {"generations": 1}, "fitness": "sphere", "strategy": {"ref": "genome"}}
    assert load_config(cfg).strategy.ref == "genome"
    with pytest.raises(ValueError, match=r"strategy.ref: unknown strategy 'genomes'") as err:
        load_config({**cfg, "strategy": {"ref": "genomes"}})
    assert "genome_merge" in str(err.value) and "'genome'," not in str(err.value)


def test_an_entry_point_installed_after_the_first_lookup_is_found(tmp_path, monkeypatch):
    reg = registry.Registry("selector", registry.selectors._check)
    assert "late_pick" not in reg.names()
    dist = tmp_path / "evosearch_late_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: evosearch-late-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text("[evosearch.selector]\nlate_pick = late_mod:Pick\n")
    (tmp_path / "late_mod.py").write_text(
        textwrap.dedent("""
        from evosearch.api import Selector

        class Pick(Selector):
            def __call__(self, individuals, n, rng):
                return list(individuals)[:n]
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "late_pick" in reg.names()
    assert reg.get("late_pick").obj.__name__ == "Pick"
