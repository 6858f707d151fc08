"""The stable plugin API: everything a third-party plugin imports, from one module.

Each plugin family has a base class that declares what a plugin may provide, with defaults
(the engine reads these attributes; it never probes with ``getattr``):

- ``Strategy``: ``Params`` (None), ``steady_state`` (False), ``archive`` (None),
  ``restore(store)`` (no-op), ``population_size``.
- ``Operator``: ``arity`` (1), ``uses_context`` (False), ``inspirations`` (0).
- ``Selector``: ``uses_child_counts`` (False). ``Initializer``: nothing.
- ``Archive``: ``islands`` (1), ``drain_events()`` (none), ``stats()`` (from ``members()``).
- ``Executor``: ``submit`` (required), ``wait``, ``evaluate``, ``close()`` (no-op).
- ``LLMBackend``: ``cacheable`` (False), ``cache_id`` (None), ``close()`` (no-op).
- ``LLMOperator``: an ``Operator`` that implements ``_prompt`` and ``_parse``; the template
  asks the run's backend and turns a parse error into a ``VariationError``.
- ``RunContext``: what a run needs at run time (its LLM backends, device); plugins reach it
  as ``VariationContext.run``, ``FitnessContext.run`` and ``Strategy.run_context``.
- the ``fitness`` decorator: ``batched`` (False), ``version`` ("1"), ``setup`` (None).

Register a plugin with its family's decorator (``registry.operators.register("name")``),
an entry point in the group ``evosearch.<family>``, or name it in a config as
``package.module:attribute``. Configs name every plugin with ``ref`` and every population
size with ``population_size``. See docs/plugins.md.
"""

from __future__ import annotations

from evosearch.archives.base import Archive
from evosearch.archives.population import AddStatus
from evosearch.executors.base import Executor, Task, run_task
from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.base import Genome
from evosearch.genomes.vector import VectorGenome
from evosearch.individual import Cost, FitnessResult, Individual, Status
from evosearch.llm.base import Completion, LLMBackend, LLMRequest, Message
from evosearch.operators.base import (
    Initializer,
    Operator,
    Selector,
    VariationContext,
    VariationError,
)
from evosearch.operators.llm_common import LLMOperator, Prompt
from evosearch.plugin_params import PARAMS, STATEFUL
from evosearch.registry import (
    archives,
    executors,
    fitnesses,
    initializers,
    llms,
    operators,
    selectors,
    strategies,
)
from evosearch.run_context import RunContext
from evosearch.strategies.base import Offspring, Strategy

__all__ = [
    "PARAMS",
    "STATEFUL",
    "AddStatus",
    "Archive",
    "Completion",
    "Cost",
    "Executor",
    "FitnessContext",
    "FitnessResult",
    "Genome",
    "Individual",
    "Initializer",
    "LLMBackend",
    "LLMOperator",
    "LLMRequest",
    "Message",
    "Offspring",
    "Operator",
    "Prompt",
    "RunContext",
    "Selector",
    "Status",
    "Strategy",
    "Task",
    "VariationContext",
    "VariationError",
    "VectorGenome",
    "archives",
    "executors",
    "fitness",
    "fitnesses",
    "initializers",
    "llms",
    "operators",
    "run_task",
    "selectors",
    "strategies",
]
