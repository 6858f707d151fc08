import fault_fitness

from evosearch.config import FitnessConfig
from evosearch.executors.serial import SerialExecutor
from evosearch.fitness.base import FitnessContext, FitnessSpec
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Status


def run(ref, n, **params):
    spec = FitnessSpec.from_config(FitnessConfig(ref=ref, params=params))
    genomes = [VectorGenome([float(i)]) for i in range(n)]
    return SerialExecutor().evaluate(
        spec, genomes, [FitnessContext(spec.params, seed=i) for i in range(n)]
    )


def test_a_setup_resource_is_built_once_per_process_and_params():
    before = fault_fitness.SETUP_CALLS
    results = run("i8_resident_probe", 3, variant="a")
    assert [r.status for r in results] == [Status.OK] * 3
    assert fault_fitness.SETUP_CALLS == before + 1
    run("i8_resident_probe", 2, variant="b")  # other params: another resource
    assert fault_fitness.SETUP_CALLS == before + 2


def test_a_setup_that_raises_fails_the_evaluations_that_need_it():
    results = run("i8_broken_setup_probe", 2)
    assert [r.status for r in results] == [Status.FAILED] * 2
    assert "setup of fitness 'i8_broken_setup_probe' failed" in results[0].error
    assert "model file not found" in results[0].error
