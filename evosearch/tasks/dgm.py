"""``dgm.coding``: score a coding agent (a ``CodeGenome``) on coding tasks, staged.

Stage 0 — the agent must import and pass its own smoke test (``agent/smoke_test.py``); a child
that broke itself is ``invalid`` and never chosen as a parent. Stage 1 runs the first
``stages[0]`` tasks; stage 2 the next ``stages[1]`` only if stage 1's accuracy reached
``threshold`` (the DGM's 10 tasks, then 50 more above 40%). The score is the accuracy over
every task run. Every agent run and every check is sandboxed; the agent reaches the LLM
through ``LLMProxy``. The feedback is a JSON document listing the failed tasks with the
agent's log and the check's output, which the self-improvement operator reads.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from evosearch.config import PluginConfig
from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.code import CodeGenome
from evosearch.individual import Cost, FitnessResult, Status
from evosearch.sandbox.runner import SandboxLimits, run_sandboxed
from evosearch.tasks.coding import check_task, log_tail, run_agent, task_list


class DGMTasksParams(BaseModel):
    """``fitness.params`` of ``dgm.coding``.

    Attributes:
        llm: The backend the agents use (through the sandbox's LLM proxy).
        task_set: ``humaneval``, ``repair`` or ``mixed``.
        stages: Tasks per stage, e.g. ``[10, 50]``.
        threshold: Stage-1 accuracy needed to run stage 2.
        seed: Task order seed (fixed across a run so scores compare).
        agent_limits: Sandbox limits of one agent run (wall-clock, memory ...).
        check_limits: Sandbox limits of one hidden check.
        max_llm_requests: LLM requests one agent run may make.
        max_tokens: Cap on each request's generation budget.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm: PluginConfig
    task_set: Literal["humaneval", "repair", "mixed"] = "mixed"
    stages: list[int] = Field(default_factory=lambda: [10, 50], min_length=1)
    threshold: float = Field(default=0.4, ge=0, le=1)
    seed: int = 0
    agent_limits: SandboxLimits = Field(default_factory=lambda: SandboxLimits(timeout=300))
    check_limits: SandboxLimits = Field(default_factory=lambda: SandboxLimits(timeout=20))
    max_llm_requests: int = Field(default=16, ge=1)
    max_tokens: int = Field(default=1024, ge=1)


def parse_params(raw: dict[str, Any]) -> DGMTasksParams:
    try:
        return DGMTasksParams.model_validate(raw)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"fitness.params.{loc}: {err['msg']}") from None


def smoke_test(agent: CodeGenome, limits: SandboxLimits) -> tuple[bool, str]:
    """Does the agent import and pass its own smoke test?"""
    if "agent/smoke_test.py" not in agent.files:
        return False, "agent/smoke_test.py is missing"
    res = run_sandboxed(dict(agent.files), [sys.executable, "agent/smoke_test.py"], limits)
    return res.returncode == 0 and not res.timed_out, log_tail(res, 2000)


@fitness("dgm.coding")
def dgm_coding(genome: CodeGenome, ctx: FitnessContext) -> FitnessResult:
    """Staged coding-task accuracy of an agent (see the module docstring)."""
    p = parse_params(ctx.params)
    if not isinstance(genome, CodeGenome):
        return FitnessResult.failure(
            Status.INVALID, f"dgm.coding needs a CodeGenome, got {type(genome).__name__}"
        )
    ok, out = smoke_test(genome, p.check_limits)
    if not ok:
        return FitnessResult.failure(
            Status.INVALID, "the agent broke itself: its smoke test failed"
        ).with_(feedback=out)
    metrics: dict[str, float] = {}
    failed: list[dict[str, str]] = []
    isolation = ""
    cost = Cost()
    requests = solved = run = 0
    offset = 0
    stage_reached = 0
    for stage, size in enumerate(p.stages, 1):
        if stage > 1 and solved / max(1, run) < p.threshold:
            break
        stage_reached = stage
        for k, task in enumerate(task_list(p.task_set, size, p.seed, offset)):
            agent_run = run_agent(
                genome,
                task.files,
                task.collect,
                llm=p.llm,
                limits=p.agent_limits,
                seed=ctx.seed + 1000 * stage + k,
                max_llm_requests=p.max_llm_requests,
                max_tokens=p.max_tokens,
            )
            cost = cost + agent_run.cost
            isolation = agent_run.sandbox.describe_isolation()
            requests += agent_run.llm_requests
            if agent_run.llm_errors and len(agent_run.llm_errors) >= agent_run.llm_requests:
                # the LLM could not be reached: no score, an infrastructure failure
                return FitnessResult.failure(
                    Status.FAILED, f"every LLM request failed: {agent_run.llm_errors[0]}"
                ).with_(cost=cost)
            passed, check_out = check_task(task, agent_run.files, p.check_limits)
            run += 1
            solved += passed
            metrics[f"task.{task.id}"] = float(passed)
            if not passed:
                failed.append(
                    {
                        "task": task.id,
                        "statement": task.files["TASK.md"][:3000],
                        "agent_log": log_tail(agent_run.sandbox) + _refusals(agent_run.refused),
                        "check_output": check_out[-2000:],
                    }
                )
        offset += size
        metrics[f"accuracy.stage{stage}"] = solved / max(1, run)
    accuracy = solved / max(1, run)
    metrics.update(
        accuracy=accuracy,
        tasks_run=float(run),
        stage=float(stage_reached),
        llm_requests=float(requests),
    )
    report = {"accuracy": accuracy, "failed": failed[:20], "sandbox": isolation}
    feedback = json.dumps(report, indent=1)
    return FitnessResult(score=accuracy, metrics=metrics, feedback=feedback, cost=cost)


def _refusals(refused: dict[str, str]) -> str:
    if not refused:
        return ""
    return "\n[files not collected] " + "; ".join(f"{p}: {r}" for p, r in refused.items())
