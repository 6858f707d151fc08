"""``code.sandbox``: score a ``CodeGenome`` by running a user evaluator in the sandbox.

The evaluator is a Python script (see ``docs/code-evaluators.md``). For every stage it runs
in a fresh sandbox holding ``/work/program/`` (the candidate's files) and, read-only,
``/evosearch/evaluator.py`` and the ``evosearch_eval.py`` helper, with the job in
``EVOSEARCH_JOB``. It calls the candidate in a separate process (``load_entry``) and sends
its verdict ``{"score": ..., "metrics": {...}, "feedback": "..."}`` on the verdict channel,
which the candidate never holds; the candidate's stdout is feedback only.

Staged (cascade) evaluation: with ``thresholds: [t1, t2, ...]`` stage 2 runs only when stage
1 scored at least ``t1``, and so on. The result is the last stage's, with every stage's
metrics (prefixed ``stageN.`` for the earlier ones) and ``stage`` = the last stage run.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from evosearch.fitness.base import FitnessContext, fitness
from evosearch.genomes.code import CodeGenome
from evosearch.individual import FitnessResult, Status, coerce_result
from evosearch.sandbox.runner import (
    EVALUATOR_API,
    SandboxLimits,
    SandboxResult,
    require_sandbox,
    run_sandboxed,
)


class CodeEvalParams(BaseModel):
    """``fitness.params`` of ``code.sandbox``.

    Attributes:
        evaluator: Path of the evaluator script (relative to the working directory).
        thresholds: Stage gates: stage k+1 runs only if stage k scored ≥ ``thresholds[k-1]``.
        params: Passed to the evaluator as ``job()["params"]``.
        limits: Sandbox limits per stage (timeout, memory_mb, cpu_seconds, ...).
        env: Extra environment variables for the evaluator (the rest is scrubbed).
        python: Interpreter for the evaluator (default: the engine's).
        sandbox: ``bwrap`` (bubblewrap, the default) or ``none`` (trusted code only: no
            namespaces, the engine's uid; every result says so).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    evaluator: str
    thresholds: list[float] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    env: dict[str, str] = Field(default_factory=dict)
    python: str | None = None
    sandbox: Literal["bwrap", "none"] = "bwrap"


def parse_params(raw: dict[str, Any]) -> CodeEvalParams:
    """Validate ``fitness.params``.

    Raises:
        ValueError: naming the key (``fitness.params.<key>``) and the problem.
    """
    try:
        params = CodeEvalParams.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"fitness.params.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None
    if not pathlib.Path(params.evaluator).is_file():
        raise ValueError(f"fitness.params.evaluator: file not found: {params.evaluator}")
    return params


def check_params(raw: dict[str, Any]) -> None:
    """Fail at run creation: bad params, or no bubblewrap (one line saying how to install)."""
    require_sandbox(parse_params(raw).sandbox)


def result_from_run(run: SandboxResult, limits: SandboxLimits) -> FitnessResult:
    """Turn one sandboxed evaluator run into a ``FitnessResult`` (status + readable error)."""
    output = _output(run)
    if run.timed_out:
        return _fail(Status.TIMEOUT, f"killed after the {limits.timeout:g}s wall-clock limit", run)
    code = run.returncode
    if code == 128 + 24:  # SIGXCPU
        return _fail(Status.TIMEOUT, "CPU time limit exceeded (SIGXCPU)", run)
    if code == 128 + 25:  # SIGXFSZ
        return _fail(Status.FAILED, f"file size limit ({limits.file_size_mb} MB) exceeded", run)
    if "MemoryError" in run.stderr:
        return _fail(Status.FAILED, f"memory limit ({limits.memory_mb} MB) exceeded", run)
    if code == 128 + 9:
        return _fail(Status.FAILED, "killed by SIGKILL (CPU hard limit or out of memory)", run)
    if code != 0:
        last = run.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return _fail(Status.FAILED, f"evaluator exited with code {code}: {last[0]}", run)
    line = run.verdict
    if line is None or "score" not in line:
        return _fail(Status.INVALID, "the evaluator sent no verdict (report() was not called)", run)
    allowed = {"score", "metrics", "descriptors", "feedback", "status", "error"}
    result = coerce_result({k: v for k, v in line.items() if k in allowed})
    extra = "\n".join(filter(None, [result.feedback, output]))
    return result.with_(feedback=extra, eval_seconds=run.seconds)


@fitness("code.sandbox", check=check_params)
def code_sandbox(genome: CodeGenome, ctx: FitnessContext) -> FitnessResult:
    """Run the configured evaluator on ``genome`` in the sandbox, stage by stage."""
    if not isinstance(genome, CodeGenome):
        return FitnessResult.failure(
            Status.INVALID, f"code.sandbox scores CodeGenome, got {type(genome).__name__}"
        )
    params = parse_params(ctx.params)
    files = {f"program/{p}": t for p, t in genome.files.items()}
    trusted = {
        "evaluator.py": pathlib.Path(params.evaluator).read_text(),
        "evosearch_eval.py": EVALUATOR_API.read_text(),
    }
    metrics: dict[str, float] = {}
    feedback: list[str] = []
    isolation = ""
    seconds = 0.0
    stages = len(params.thresholds) + 1
    result = FitnessResult()
    for stage in range(1, stages + 1):
        job = {
            "stage": stage,
            "stages": stages,
            "entry": genome.entry,
            "seed": ctx.seed,
            "params": params.params,
        }
        env = {
            **params.env,
            "EVOSEARCH_JOB": json.dumps(job),
            "EVOSEARCH_PROGRAM_DIR": "{workdir}/program",
        }
        run = run_sandboxed(
            files,
            [params.python or sys.executable, "{trusted}/evaluator.py"],
            params.limits,
            env=env,
            trusted_files=trusted,
            verdict=True,
            mode=params.sandbox,
        )
        result = result_from_run(run, params.limits)
        isolation = run.describe_isolation()
        seconds += run.seconds
        if stages > 1:
            feedback.append(f"[stage {stage}] {result.error or ''}{result.feedback}".rstrip())
        else:
            feedback.append(result.feedback)
        if stage < stages:
            metrics.update({f"stage{stage}.{k}": v for k, v in result.metrics.items()})
        else:
            metrics.update(result.metrics)
        if not result.ok or stage == stages:
            break
        gate = params.thresholds[stage - 1]
        if not result.score >= gate:
            feedback.append(f"stopped after stage {stage}: score {result.score:.6g} < {gate:g}")
            metrics.update(result.metrics)
            break
    metrics["stage"] = float(stage)
    feedback.append(isolation)
    return result.with_(
        metrics=metrics,
        feedback="\n".join(f for f in feedback if f),
        eval_seconds=seconds,
    )


def _fail(status: Status, error: str, run: SandboxResult) -> FitnessResult:
    return FitnessResult.failure(status, error, eval_seconds=run.seconds).with_(
        feedback=_output(run)
    )


def _output(run: SandboxResult) -> str:
    parts = []
    if run.stdout.strip():
        parts.append(f"stdout:\n{run.stdout.strip()}")
    if run.stderr.strip():
        parts.append(f"stderr:\n{run.stderr.strip()}")
    return "\n".join(parts)
