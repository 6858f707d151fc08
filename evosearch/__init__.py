"""evosearch: evolutionary search over models, prompts and code.

The public API. Subpackages re-export their own public classes. Plugin authors import from
``evosearch.api``: the base class of every plugin family, the fitness decorator and the
records, in one stable module. The fitness decorator is also ``evosearch.fitness.fitness``
(exported here as ``register_fitness``): the name ``evosearch.fitness`` is the subpackage.
Importing ``evosearch`` imports no plugin: the registry loads one when a config names it.

Importing it before torch also turns on torch's transparent-huge-page allocation for large
CPU tensors (``THP_MEM_ALLOC_ENABLE=1``, unless the variable is already set): merged weights
are fresh multi-MB tensors, and 4 KiB first-touch page faults cost ~15 % of a TIES merge
(``benchmarks/RESULTS.md``, issue 13). Set ``THP_MEM_ALLOC_ENABLE=0`` to opt out.
"""

import os as _os

_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # read by torch at its first allocation

from evosearch.config import ConfigError, RunConfig, load_config
from evosearch.engine import Engine, Progress, RunSummary
from evosearch.fitness.base import FitnessContext
from evosearch.fitness.base import fitness as register_fitness
from evosearch.genomes import Genome, VectorGenome
from evosearch.individual import Cost, FitnessResult, Individual, Status
from evosearch.registry import REGISTRIES, RegistryError
from evosearch.store import RunStore, StoreError
from evosearch.strategies.base import Offspring, Strategy
from evosearch.version import __version__

__all__ = [
    "REGISTRIES",
    "ConfigError",
    "Cost",
    "Engine",
    "FitnessContext",
    "FitnessResult",
    "Genome",
    "Individual",
    "Offspring",
    "Progress",
    "RegistryError",
    "RunConfig",
    "RunStore",
    "RunSummary",
    "Status",
    "StoreError",
    "Strategy",
    "VectorGenome",
    "__version__",
    "register_fitness",
    "load_config",
]
