"""Causal-LM task evaluators: exact-match accuracy and answer log-likelihood, batched.

The core takes a model (any ``transformers`` causal LM, an ``nn.Module``) or a state dict
plus an architecture, and a ``device``. A whole batch of prompts goes through one
``generate()`` call (greedy, left-padded) and one teacher-forced forward for the
log-likelihoods. ``score_model`` turns a model into a ``FitnessResult`` with per-task metrics
and the combined two-skill score; the registered fitness ``lm_two_skill`` applies it to
``WeightsGenome`` recipes materialised by ``evosearch.models`` (see ``score_genomes``).

Tasks and splits come from ``evosearch.tasks.lm_data`` (shared with the model builder).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from evosearch.individual import FitnessResult
from evosearch.models.bytetok import byte_tokenizer
from evosearch.tasks import lm_data


@dataclasses.dataclass(frozen=True)
class TaskScore:
    """How one model does on one task split.

    Attributes:
        task: Task name (``add`` / ``rev``).
        accuracy: Exact-match accuracy of greedy answers, in [0, 1].
        loglik: Mean over examples of the summed log-probability of answer + EOS.
        token_loglik: Mean log-probability per answer token (EOS included).
        n: Examples scored.
    """

    task: str
    accuracy: float
    loglik: float
    token_loglik: float
    n: int


def _encode(prompts: Sequence[str], device: torch.device | str) -> tuple[torch.Tensor, ...]:
    """Left-padded ``[BOS] + prompt`` ids and attention mask."""
    tok = byte_tokenizer()
    rows = [[tok.bos_token_id, *tok.encode(p)] for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


@torch.inference_mode()
def generate_answers(
    model: torch.nn.Module,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
) -> list[str]:
    """Greedy answers to ``prompts``, each cut at the first EOS.

    Args:
        model: A causal LM with ``generate`` (already on ``device``).
        prompts: Prompt strings (BOS is prepended).
        max_new_tokens: Generation length limit.
        device: Where the batch runs.
        batch_size: Prompts per ``generate()`` call (default: all in one call).

    Returns:
        One decoded answer per prompt.
    """
    tok = byte_tokenizer()
    step = batch_size or max(1, len(prompts))
    out: list[str] = []
    for start in range(0, len(prompts), step):
        ids, mask = _encode(prompts[start : start + step], device)
        gen = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        for row in gen[:, ids.shape[1] :].tolist():
            if tok.eos_token_id in row:
                row = row[: row.index(tok.eos_token_id)]
            out.append(tok.decode(row, skip_special_tokens=True))
    return out


@torch.inference_mode()
def answer_logliks(
    model: torch.nn.Module,
    examples: Sequence[lm_data.Example],
    *,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probability of each reference answer (+ EOS) given its prompt.

    Args:
        model: A causal LM (already on ``device``).
        examples: Prompt/answer pairs.
        device: Where the batch runs.
        batch_size: Examples per forward (default: all at once).

    Returns:
        ``(logliks, token_counts)``: float64 and int64 tensors of length ``len(examples)``.
    """
    tok = byte_tokenizer()
    step = batch_size or max(1, len(examples))
    sums, counts = [], []
    for start in range(0, len(examples), step):
        chunk = examples[start : start + step]
        rows, n_answer = [], []
        for ex in chunk:
            a = [*tok.encode(ex.answer), tok.eos_token_id]
            rows.append([tok.bos_token_id, *tok.encode(ex.prompt), *a])
            n_answer.append(len(a))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        target = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, (r, k) in enumerate(zip(rows, n_answer, strict=True)):
            ids[i, width - len(r) :] = torch.tensor(r)  # left padding, as in generation
            mask[i, width - len(r) :] = 1
            target[i, width - k :] = True
        ids, mask, target = ids.to(device), mask.to(device), target.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # what generate() uses for left padding
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        picked = logp.gather(-1, ids[:, 1:, None])[..., 0]
        sel = target[:, 1:]
        sums.append((picked * sel).sum(dim=1).double().cpu())
        counts.append(sel.sum(dim=1).cpu())
    return torch.cat(sums), torch.cat(counts)


def score_task(
    model: torch.nn.Module,
    task: str,
    *,
    split: str = "val",
    n: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    seed: int = lm_data.DEFAULT_SEED,
) -> TaskScore:
    """Accuracy and log-likelihood of ``model`` on one task split.

    Args:
        model: A causal LM (already on ``device``).
        task: ``add`` or ``rev``.
        split: ``train``, ``val`` or ``test``.
        n: Use the first ``n`` examples of the split (default: all).
        device: Where the batch runs.
        batch_size: Examples per call (default: the whole split in one call).
        seed: The split seed.

    Returns:
        The task's ``TaskScore``.
    """
    data = lm_data.examples(task, split, seed=seed, n=n)
    longest = max(len(byte_tokenizer().encode(ex.answer)) for ex in data)
    answers = generate_answers(
        model,
        [ex.prompt for ex in data],
        max_new_tokens=longest + 1,
        device=device,
        batch_size=batch_size,
    )
    correct = sum(a == ex.answer for a, ex in zip(answers, data, strict=True))
    ll, count = answer_logliks(model, data, device=device, batch_size=batch_size)
    return TaskScore(
        task=task,
        accuracy=correct / len(data),
        loglik=float(ll.mean()),
        token_loglik=float(ll.sum() / count.sum()),
        n=len(data),
    )


def score_model(
    model: torch.nn.Module,
    *,
    task_names: Sequence[str] = lm_data.TASKS,
    split: str = "val",
    n: int | None = None,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
    loglik_weight: float = 0.0,
) -> FitnessResult:
    """The combined two-skill fitness of one model.

    ``score`` is the mean exact-match accuracy over the tasks, plus ``loglik_weight`` times
    the mean per-token answer log-likelihood (a dense tie-breaker; 0 by default).
    ``metrics`` holds ``acc_<task>``, ``loglik_<task>``, ``token_loglik_<task>`` and
    ``acc_mean``; ``descriptors`` are the per-task accuracies (for MAP-Elites).

    Args:
        model: A causal LM (already on ``device``).
        task_names: Tasks to score.
        split: Task split.
        n: Examples per task (default: the whole split).
        device: Where the batch runs.
        batch_size: Examples per call.
        loglik_weight: Weight of the per-token log-likelihood in ``score``.

    Returns:
        A ``FitnessResult``.
    """
    per = [
        score_task(model, t, split=split, n=n, device=device, batch_size=batch_size)
        for t in task_names
    ]
    metrics: dict[str, float] = {}
    for s in per:
        metrics[f"acc_{s.task}"] = s.accuracy
        metrics[f"loglik_{s.task}"] = s.loglik
        metrics[f"token_loglik_{s.task}"] = s.token_loglik
    acc = sum(s.accuracy for s in per) / len(per)
    tll = sum(s.token_loglik for s in per) / len(per)
    metrics["acc_mean"] = acc
    return FitnessResult(
        score=acc + loglik_weight * tll,
        metrics=metrics,
        descriptors=tuple(s.accuracy for s in per),
    )


def model_with_state(
    architecture: torch.nn.Module | Any,
    state: Mapping[str, torch.Tensor],
    *,
    device: torch.device | str = "cpu",
) -> torch.nn.Module:
    """A model of ``architecture`` holding ``state`` (tensors are used in place, not copied).

    Args:
        architecture: A model to reuse (its tensors are replaced) or a ``transformers``
            config to build one from.
        state: A full state dict for that architecture.
        device: Where the model should live.

    Returns:
        The model in eval mode on ``device``.

    Raises:
        RuntimeError: when ``state`` does not match the architecture (missing/extra keys).
    """
    if isinstance(architecture, torch.nn.Module):
        model = architecture
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_config(architecture)
    model.load_state_dict({k: v.to(device) for k, v in state.items()}, strict=True, assign=True)
    return model.to(device).eval()


def score_states(
    states: Sequence[Mapping[str, torch.Tensor]],
    architecture: torch.nn.Module | Any,
    *,
    device: torch.device | str = "cpu",
    **kwargs: Any,
) -> list[FitnessResult]:
    """``score_model`` over a population of state dicts sharing one architecture.

    One model object is reused: each state is swapped in (no copy) and scored.

    Args:
        states: State dicts.
        architecture: A model or config (see ``model_with_state``).
        device: Where evaluation runs.
        **kwargs: Passed to ``score_model``.

    Returns:
        One result per state.
    """
    out = []
    model = architecture
    for state in states:
        model = model_with_state(model, state, device=device)
        out.append(score_model(model, device=device, **kwargs))
    return out
