"""The pydantic settings of plugin parameter classes, shared by every plugin family.

Operators, selectors, initializers and archives are pydantic dataclasses
(``@dataclass(config=PARAMS)``): their parameters are validated, strict and frozen. This
sits below the families so an archive need not import the operators' module for it;
``evosearch.api`` re-exports both.
"""

from __future__ import annotations

import pydantic

# Frozen, strict parameter models for operators, selectors, initializers and archives.
PARAMS = pydantic.ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
# The same for stateful plugins (archives), whose parameters are fixed but state is not.
STATEFUL = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
