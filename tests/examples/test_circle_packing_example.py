"""The circle-packing example's evaluator: validity checks and scores, in the sandbox."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

from evosearch.fitness.base import FitnessContext
from evosearch.genomes.code import CodeGenome
from evosearch.individual import Status
from evosearch.tasks.code_evaluator import code_sandbox

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "circle-packing"
API = pathlib.Path(__file__).resolve().parents[2] / "evosearch" / "sandbox" / "evaluator_api.py"


@pytest.fixture(scope="module")
def evaluator():
    api = importlib.util.spec_from_file_location("evosearch_eval", API)
    sys.modules["evosearch_eval"] = module = importlib.util.module_from_spec(api)
    api.loader.exec_module(module)
    spec = importlib.util.spec_from_file_location("circle_evaluator", EXAMPLE / "evaluator.py")
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)
    yield ev
    del sys.modules["evosearch_eval"]


def grid():
    ticks = (np.arange(6) + 0.5) / 6
    centers = np.array([(x, y) for y in ticks for x in ticks])[:26]
    return centers, np.full(26, 1 / 12)


def test_a_valid_packing_has_no_problems(evaluator):
    assert evaluator.check(*grid()) == []


def test_overlaps_and_circles_outside_the_square_are_named(evaluator):
    centers, radii = grid()
    radii = radii.copy()
    radii[0] = 0.2  # pokes out of the square and into its neighbours
    problems = evaluator.check(centers, radii)
    assert any("circle 0" in p and "leaves the square" in p for p in problems)
    assert any(p.startswith("circles 0 and 1 overlap") for p in problems)


def run_example(main: str):
    ctx = FitnessContext(params={"evaluator": str(EXAMPLE / "evaluator.py"), "thresholds": [0.5]})
    return code_sandbox(CodeGenome({"main.py": main}), ctx)


def test_the_sandboxed_evaluator_scores_valid_invalid_and_broken_programs():
    good = CodeGenome.from_dir(EXAMPLE / "initial_program")
    r = run_example(good.files["main.py"])
    assert r.status is Status.OK and r.metrics["valid"] == 1.0 and r.metrics["stage"] == 2.0
    assert r.score == pytest.approx(r.metrics["sum_radii"]) and 1.9 < r.score < 2.0
    overlap = "import numpy as np\ndef run():\n    return np.full((26, 2), 0.5), np.full(26, 0.1)\n"
    bad = run_example(overlap)
    assert bad.status is Status.OK and bad.score == 0.0 and bad.metrics["valid"] == 0.0
    assert "invalid packing: circles 0 and 1 overlap" in bad.feedback
    shapes = run_example("def run():\n    return [[0.5, 0.5]], [0.1]\n")
    assert shapes.score == 0.0 and shapes.metrics["stage"] == 1.0
    assert "must return centers (26, 2)" in shapes.feedback
