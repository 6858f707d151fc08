"""The Darwin Gödel Machine's self-improvement step, and its initial agent.

``dgm.self_improve`` (Zhang et al., 2025): given a parent agent chosen by the DGM rule, pick
one of its failed tasks; an LLM diagnosis returns JSON (``problem_description``,
``implementation_suggestion``); then the *parent agent itself* runs, sandboxed, on a copy of
its own code with that instruction, and its edits become the child. Whether the child still
works is decided by the evaluator (smoke test first), not here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass

from evosearch import registry
from evosearch.config import PluginConfig
from evosearch.genomes.code import CodeGenome
from evosearch.llm.templates import render
from evosearch.operators.base import (
    PARAMS,
    Initializer,
    Offspring,
    Operator,
    VariationContext,
    VariationError,
)
from evosearch.operators.llm_common import ask_llm
from evosearch.sandbox.runner import SandboxLimits
from evosearch.tasks.coding import log_tail, run_agent
from evosearch.tasks.dgm_agent import ENTRY, initial_agent_files

_JSON = re.compile(r"\{.*\}", re.S)
AGENT_CODE_CHARS = 12000


@registry.initializers.register("dgm.initial_agent")
@dataclass(config=PARAMS)
class InitialAgent(Initializer):
    """The DGM's root: the shipped initial coding agent (``evosearch/tasks/dgm_agent``)."""

    def __call__(self, n: int, rng: np.random.Generator) -> list[CodeGenome]:
        return [CodeGenome(initial_agent_files(), ENTRY) for _ in range(n)]


def parse_diagnosis(text: str) -> dict[str, str]:
    """The diagnosis JSON (the first ``{...}`` block with both keys).

    Raises:
        ValueError: if there is no such JSON object.
    """
    match = _JSON.search(text)
    if not match:
        raise ValueError("no JSON object in the diagnosis")
    data = json.loads(match.group(0))
    keys = ("problem_description", "implementation_suggestion")
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data[k].strip() for k in keys
    ):
        raise ValueError(f"the diagnosis JSON needs non-empty string keys {list(keys)}")
    return {k: data[k].strip() for k in keys}


def agent_code(genome: CodeGenome, limit: int = AGENT_CODE_CHARS) -> str:
    parts = [f"## {path}\n```python\n{text}\n```" for path, text in genome.files.items()]
    text = "\n\n".join(parts)
    return text if len(text) <= limit else text[:limit] + "\n... (truncated)"


@registry.operators.register("dgm.self_improve")
@dataclass(config=PARAMS)
class SelfImprove(Operator):
    """Diagnose a failed task, then let the parent agent rewrite its own code.

    Attributes:
        llm: Backend for the diagnosis and for the agent's own calls.
        limits: Sandbox limits of the self-modification run.
        max_llm_requests: LLM requests the agent may make while modifying itself.
        diagnosis_tokens: Generation budget of the diagnosis.
        temperature: Sampling temperature of the diagnosis.
    """

    arity: ClassVar[int] = 1
    uses_context: ClassVar[bool] = True
    llm: PluginConfig
    limits: SandboxLimits = Field(default_factory=lambda: SandboxLimits(timeout=600))
    max_llm_requests: int = Field(default=24, ge=1)
    max_tokens: int = Field(default=2048, ge=1)
    diagnosis_tokens: int = Field(default=1024, ge=1)
    temperature: float = Field(default=0.7, ge=0)

    def __call__(
        self,
        parents: Sequence[CodeGenome],
        rng: np.random.Generator,
        context: VariationContext | None = None,
    ) -> list[Offspring]:
        (parent,) = parents
        if not isinstance(parent, CodeGenome):
            raise VariationError(f"dgm.self_improve needs a CodeGenome, got {type(parent)}")
        failures = _failures(context)
        if failures:
            failure = failures[int(rng.integers(0, len(failures)))]
        else:  # everything solved (or no record): ask for a general improvement
            failure = {
                "task": "none",
                "statement": "(no failed task recorded)",
                "agent_log": "",
                "check_output": "",
            }
        prompt = render(
            "dgm_diagnose",
            agent_code=agent_code(parent),
            task_id=failure["task"],
            task=failure["statement"],
            agent_log=failure["agent_log"] or "(empty)",
            check_output=failure["check_output"] or "(empty)",
        )
        text, cost = ask_llm(
            self.llm,
            prompt,
            system=None,
            rng=rng,
            max_tokens=self.diagnosis_tokens,
            temperature=self.temperature,
            tag="dgm.diagnose",
            context=context,
        )
        try:
            diagnosis = parse_diagnosis(text)
        except ValueError as exc:
            raise VariationError(f"diagnosis did not parse: {exc}", raw=text, cost=cost) from None
        instruction = render("dgm_self_improve", **diagnosis)
        task_files = {"TASK.md": instruction, **dict(parent.files)}
        agent_run = run_agent(
            parent,
            task_files,
            None,
            llm=self.llm,
            limits=self.limits,
            seed=int(rng.integers(0, 2**31 - 1)),
            max_llm_requests=self.max_llm_requests,
            max_tokens=self.max_tokens,
        )
        cost = cost + agent_run.cost
        edited = {
            p: t
            for p, t in agent_run.files.items()
            if p.startswith("agent/") and p.endswith((".py", ".md", ".txt"))
        }
        if not edited or edited == dict(parent.files):
            raise VariationError(
                "the agent made no edits to its own code",
                raw=f"diagnosis: {json.dumps(diagnosis)}\n\nagent log:\n"
                + log_tail(agent_run.sandbox, 8000),
                cost=cost,
            )
        try:
            child = CodeGenome(edited, parent.entry)
        except (ValueError, TypeError) as exc:
            raise VariationError(
                f"the edited agent is not a valid program: {exc}",
                raw=log_tail(agent_run.sandbox, 8000),
                cost=cost,
            ) from None
        params = {
            "task": failure["task"],
            "diagnosis": diagnosis,
            "llm_requests": agent_run.llm_requests,
            "changed_files": sorted(p for p in edited if edited[p] != parent.files.get(p)),
        }
        if agent_run.refused:  # links, devices, oversized files: never read, said why
            params["refused_files"] = agent_run.refused
        return [Offspring(child, operator_params=params, cost=cost)]


def _failures(context: VariationContext | None) -> list[dict[str, str]]:
    if context is None or not context.parents or context.parents[0].result is None:
        return []
    try:
        data = json.loads(context.parents[0].result.feedback or "{}")
    except json.JSONDecodeError:
        return []
    failed = data.get("failed", []) if isinstance(data, dict) else []
    return [f for f in failed if isinstance(f, dict) and "task" in f]
