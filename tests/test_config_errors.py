"""Invalid configs fail before anything is written, naming the key and what is allowed.

Each case is checked through ``Engine.create`` and through the CLI (``evosearch run``): one
line on stderr, exit code 2, no traceback.
"""

from __future__ import annotations

import pytest
import yaml
from conftest import run_cli, sphere_config

from evosearch import ConfigError, Engine, RegistryError
from evosearch.cli import main
from evosearch.config import load_config


def with_(**changes) -> dict:
    cfg = sphere_config()
    for dotted, value in changes.items():
        node = cfg
        *path, last = dotted.split("__")
        for part in path:
            node = node[part]
        node[last] = value
    return cfg


CASES = {
    "unknown top-level key": (
        with_(colour="red"),
        ["colour: unknown key; allowed keys here: name, description, seed, mode, budget"],
    ),
    "unknown nested key": (
        with_(budget__gens=3),
        ["budget.gens: unknown key; allowed keys here: generations, evaluations, wall_seconds"],
    ),
    "bad literal": (with_(mode="fast"), ["mode: Input should be 'generational' or 'steady_state'"]),
    "unknown strategy": (
        with_(strategy={"ref": "simplex"}),
        ["strategy.ref: unknown strategy 'simplex'; allowed: [", "'cmaes'", "'ga'"],
    ),
    "unknown executor": (
        with_(executor="gpu-farm"),
        ["executor.ref: unknown executor 'gpu-farm'; allowed: [", "'processes'", "'serial'"],
    ),
    "bad strategy param value": (
        with_(strategy__params__dimension=0),
        ["strategy.params.dimension: Input should be greater than or equal to 1"],
    ),
    "unknown strategy param": (
        with_(strategy__params__sigma=0.5),
        ["strategy.params.sigma: Extra inputs are not permitted", "accepted:"],
    ),
    "bad operator param": (
        {
            **sphere_config(),
            "strategy": {
                "ref": "archive",
                "params": {
                    "init": {"ref": "vector.uniform", "params": {"dimension": 2}},
                    "operators": [{"ref": "vector.gaussian", "params": {"sigma": -1}}],
                },
            },
        },
        ["strategy.params.operators.0.params.sigma: Input should be greater than 0"],
    ),
    "missing fitness module": (
        with_(fitness="no_such_module.scores:score"),
        [
            "fitness.ref: cannot import module 'no_such_module.scores' of "
            "'no_such_module.scores:score'"
        ],
    ),
    "missing fitness function": (
        with_(fitness="helper_fitness:no_such_function"),
        ["fitness.ref: module 'helper_fitness' has no attribute 'no_such_function'"],
    ),
    "unknown fitness name": (
        with_(fitness="spherical"),
        ["fitness.ref: unknown fitness 'spherical'; known: ", "sphere", "evosearch.fitness"],
    ),
    "missing required key": (
        {k: v for k, v in sphere_config().items() if k != "fitness"},
        ["fitness: required key is missing"],
    ),
    "empty budget": (with_(budget={}), ["budget: set at least one of generations, evaluations"]),
    "negative timeout": (
        with_(fitness={"ref": "sphere", "timeout": -1}),
        ["fitness.timeout: Input should be greater than 0"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_create_rejects_the_config_and_writes_nothing(tmp_path, case):
    cfg, expected = CASES[case]
    with pytest.raises((ConfigError, RegistryError)) as info:
        Engine.create(cfg, tmp_path / "run")
    for fragment in expected:
        assert fragment in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys, case):
    cfg, expected = CASES[case]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("evosearch: error: ")
    for fragment in expected:
        assert fragment in err
    assert not (tmp_path / "run").exists()


def test_a_file_that_is_not_yaml_is_named(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("budget: [generations: 3\nfitness: sphere\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid YAML"):
        Engine.create(path, tmp_path / "run")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evosearch: error: {path}: not valid YAML: line 2, column 8: ")
    assert len(err.strip().splitlines()) == 1, err


def test_a_yaml_file_that_is_not_a_mapping_is_named(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        Engine.create(path, tmp_path / "run")


def test_a_bad_override_names_the_key(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(sphere_config()))
    with pytest.raises(ConfigError, match="budget.generations: Input should be greater than"):
        Engine.create(path, tmp_path / "run", overrides=["budget.generations=0"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        Engine.create(path, tmp_path / "run", overrides=["budget.generations"])


def test_a_real_cli_process_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(with_(colour="red")))
    fragment = "colour: unknown key; allowed keys here: name,"
    proc = run_cli("run", path, "--out", tmp_path / "run")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evosearch: error: ")
    assert fragment in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_the_deprecated_plugin_key_name_still_works_with_one_warning():
    cfg = sphere_config(strategy={"name": "cmaes", "params": {"dimension": 2}})
    with pytest.warns(FutureWarning, match="'name' is deprecated: write 'ref'"):
        config = load_config(cfg)
    assert config.strategy.ref == "cmaes" and config.strategy.name == "cmaes"


def test_ref_and_a_different_name_together_are_an_error():
    cfg = sphere_config(strategy={"ref": "cmaes", "name": "ga", "params": {"dimension": 2}})
    with pytest.raises(ConfigError, match="strategy: give the plugin once, as ref"):
        load_config(cfg)


@pytest.mark.parametrize("spelling", ["batch_size", "popsize"])
def test_old_population_size_spellings_are_deprecated_aliases(tmp_path, spelling):
    cfg = sphere_config(
        budget={"generations": 1},
        strategy={"ref": "cmaes", "params": {"dimension": 2, spelling: 5}},
    )
    with pytest.warns(FutureWarning, match=f"strategy.params.{spelling} is deprecated"):
        engine = Engine.create(cfg, tmp_path / "run")
    assert engine.strategy.batch_size == 5
    engine.close()


def test_population_size_reaches_every_strategy_under_its_own_spelling(tmp_path):
    cfg = sphere_config(
        budget={"generations": 1},
        strategy={"ref": "cmaes", "params": {"dimension": 2, "population_size": 1}},
    )
    with pytest.raises(Exception, match=r"strategy.params.population_size: Input should be"):
        Engine.create(cfg, tmp_path / "bad")
    cfg["strategy"]["params"]["population_size"] = 7
    engine = Engine.create(cfg, tmp_path / "run")
    assert engine.strategy.batch_size == 7
    engine.close()
