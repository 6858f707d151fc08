"""A run's context: its LLM backends and response cache are its own, never the process's."""

from __future__ import annotations

import pickle

from conftest import archive_config
from scripted_backend import ScriptedBackend

from evosearch import Engine
from evosearch.individual import FitnessResult
from evosearch.llm.cache import CACHE_FILE, ResponseCache
from evosearch.llm.pool import get_cache_dir
from evosearch.run_context import RunContext
from evosearch.store import RunStore


class CacheableScripted(ScriptedBackend):
    """The scripted backend, declared cacheable so that runs keep its answers."""

    cacheable = True


LLM = {
    "ref": "test_run_context:CacheableScripted",
    "params": {"responses": ["<prompt>Say positive.</prompt>", "<prompt>Be kind.</prompt>"]},
}


def prompt_length(genome, ctx) -> float:
    """A cheap fitness over text genomes that records the run it was evaluated for."""
    assert ctx.run is not None and ctx.run.run_dir is not None
    return float(len(genome.text))


def where_evaluated(genome, ctx) -> FitnessResult:
    """A fitness that reports the run directory and device its context names."""
    return FitnessResult(score=0.0, feedback=f"{ctx.run.run_dir}|{ctx.run.device}")


def prompt_run() -> dict:
    return {
        "name": "ctx",
        "seed": 4,
        "budget": {"generations": 10},
        "fitness": {"ref": "test_run_context:prompt_length"},
        "strategy": {
            "ref": "archive",
            "params": {
                "population_size": 2,
                "init": {"ref": "text.prompts", "params": {"prompts": ["Say something."]}},
                "operators": [{"ref": "llm.prompt_mutate", "params": {"llm": LLM}}],
                "archive": {"ref": "population", "params": {"size": 4}},
            },
        },
    }


def test_two_runs_in_one_process_keep_their_llm_caches_apart(tmp_path):
    # The same config and seed: both runs make the very same (cacheable) requests, so a
    # shared cache would answer the second run from the first run's answers.
    a = Engine.create(prompt_run(), tmp_path / "a")
    b = Engine.create(prompt_run(), tmp_path / "b")
    for _ in range(3):  # interleaved: init, then two LLM generations of two requests each
        a.step()
        b.step()
    backend_a, backend_b = a.context.llm_backend(LLM), b.context.llm_backend(LLM)
    assert backend_a is not backend_b and backend_a.inner is not backend_b.inner
    assert (backend_a.misses, backend_a.hits) == (4, 0)
    assert (backend_b.misses, backend_b.hits) == (4, 0)  # nothing seen of run a's answers
    assert len(backend_a.inner.calls) == len(backend_b.inner.calls) == 4
    assert get_cache_dir() is None  # no run set anything process-wide
    a.close()
    b.close()
    for run in (tmp_path / "a", tmp_path / "b"):  # each run's answers in its own cache
        cache = ResponseCache(run / CACHE_FILE)
        assert len(cache) == 4
        cache.close()


def test_a_resumed_run_reads_only_its_own_cache(tmp_path):
    a = Engine.create(prompt_run(), tmp_path / "a")
    for _ in range(2):
        a.step()
    a.close()
    b = Engine.create(prompt_run(), tmp_path / "b")  # fresh run, same requests as a's
    b.step()
    b.step()
    assert b.context.llm_backend(LLM).hits == 0
    b.close()
    resumed = Engine.resume(tmp_path / "a")
    backend = resumed.context.llm_backend(LLM)
    assert backend.cache.path == tmp_path / "a" / CACHE_FILE
    resumed.close()


def test_a_run_context_sent_to_a_worker_keeps_its_run_and_device(tmp_path):
    ctx = RunContext(tmp_path, "cpu")
    copy = pickle.loads(pickle.dumps(ctx))
    assert (copy.run_dir, copy.device) == (tmp_path, "cpu")
    assert copy.llm is not ctx.llm and copy.llm.cache_dir == tmp_path
    copy.close()  # a worker's context leaves the worker's shared backends open
    ctx.close()


def test_a_fitness_in_a_worker_process_gets_its_runs_context(tmp_path):
    cfg = archive_config(
        budget={"generations": 2},
        executor={"ref": "processes", "workers": 2},
        fitness={"ref": "test_run_context:where_evaluated", "params": {"device": "cpu"}},
    )
    Engine.create(cfg, tmp_path / "run").run()
    feedback = RunStore.open(tmp_path / "run").table(["feedback"])["feedback"].to_pylist()
    assert len(feedback) == 16 and set(feedback) == {f"{tmp_path / 'run'}|cpu"}
