"""A local ``transformers`` checkpoint as an LLM backend: batched sampling on the device.

Requests are sorted by prompt length and answered in batches (left padding, attention
masks). Each request keeps its own temperature, token limit, stop strings and seed inside a
shared batch: a logits processor samples every row with its own ``torch.Generator`` (seeded
from ``request.seed``) and temperature, and a stopping criterion ends each row on its own
limit, stop string or end-of-sequence token. Token counts are the real counts of prompt and
generated tokens.
"""

from __future__ import annotations

import concurrent.futures
import pathlib
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pydantic

from evosearch import registry
from evosearch.llm.base import Completion, LLMBackend, LLMRequest, Message


class TransformersParams(pydantic.BaseModel):
    """Parameters of the ``transformers`` backend (the ``llm.params`` of a config).

    Attributes:
        path: A local checkpoint directory (config, weights, tokenizer).
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1`` ...
        dtype: Weight dtype; ``auto`` takes the checkpoint's (float32 on CPU).
        batch_size: Requests generated together in one call to ``generate``.
        chat_template: ``auto`` uses the tokenizer's chat template when it has one;
            ``never`` always uses the plain rendering.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    path: str
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    batch_size: int = pydantic.Field(default=8, ge=1)
    chat_template: Literal["auto", "never"] = "auto"

    @pydantic.field_validator("path")
    @classmethod
    def _exists(cls, value: str) -> str:
        p = pathlib.Path(value).expanduser()
        if not p.is_dir():
            raise ValueError(
                f"checkpoint directory {str(p)!r} does not exist (the transformers backend "
                "needs a local model; docs/llm-backends.md: serve a local checkpoint with "
                "'transformers serve')"
            )
        if not (p / "config.json").is_file():
            raise ValueError(f"{str(p)!r} is not a transformers checkpoint (no config.json)")
        return str(p.resolve())


def render_plain(messages: Sequence[Message]) -> str:
    """The prompt for a tokenizer without a chat template.

    A lone user message is passed as is (a base model continues it); a chat is rendered as
    ``Role: content`` paragraphs ending with ``Assistant:``.
    """
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].content
    parts = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


@registry.llms.register("transformers")
class TransformersBackend(LLMBackend):
    """Batched generation from a local checkpoint directory.

    Args:
        path: Checkpoint directory (``config.json``, weights, tokenizer files).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        dtype: ``auto``, ``float32``, ``float16`` or ``bfloat16``.
        batch_size: Requests per ``generate`` call.
        chat_template: ``auto`` or ``never``.

    Raises:
        pydantic.ValidationError: for a missing directory or a bad option.
    """

    cacheable = True

    def __init__(
        self,
        path: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        chat_template: str = "auto",
    ):
        self.params = TransformersParams(
            path=path,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            chat_template=chat_template,
        )
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[tuple[LLMRequest, concurrent.futures.Future]] = []
        self._busy = False
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def cache_id(self) -> str:
        """What identifies this backend's answers (for the response cache)."""
        return f"transformers:{self.params.path}:{self.params.dtype}"

    # ------------------------------------------------------------------ loading
    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.params.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype: Any = "auto" if self.params.dtype == "auto" else getattr(torch, self.params.dtype)
        if dtype == "auto" and device == "cpu":
            dtype = torch.float32  # half precision on CPU is slow and sometimes unsupported
        tok = AutoTokenizer.from_pretrained(self.params.path)
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        model = AutoModelForCausalLM.from_pretrained(self.params.path, dtype=dtype)
        model.to(device).eval()
        self._device = device
        self._tokenizer, self._model = tok, model

    # ------------------------------------------------------------------ rendering
    def _prompt_ids(self, req: LLMRequest) -> list[int]:
        tok = self._tokenizer
        if self.params.chat_template == "auto" and getattr(tok, "chat_template", None):
            chat = [{"role": m.role, "content": m.content} for m in req.messages]
            text = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False)["input_ids"]
        return tok(render_plain(req.messages))["input_ids"]

    # ------------------------------------------------------------------ generation
    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer every request, in order; failures come back as error completions.

        Calls from several threads (parallel variations) are batched together: the first
        caller generates, and requests that arrive meanwhile wait and go in its next batch.
        """
        futures = [concurrent.futures.Future() for _ in requests]
        with self._queue_lock:
            self._queue.extend(zip(requests, futures))
            lead, self._busy = not self._busy, True
        while lead:
            with self._queue_lock:
                todo, self._queue = self._queue, []
                if not todo:
                    self._busy = False
                    break
            try:
                done = self._generate_now([r for r, _ in todo])
            except Exception as exc:  # never leave a waiting caller hanging
                done = [_error(f"generation failed: {exc}")] * len(todo)
            for (_, fut), comp in zip(todo, done):
                fut.set_result(comp)
        return [f.result() for f in futures]

    def _generate_now(self, requests: list[LLMRequest]) -> list[Completion]:
        with self._lock:
            try:
                self._load()
            except Exception as exc:  # a broken checkpoint fails every request, readably
                msg = f"cannot load checkpoint {self.params.path!r}: {exc}"
                return [Completion(text="", error=msg, finish_reason="error") for _ in requests]
            out: list[Completion | None] = [None] * len(requests)
            context = getattr(self._model.config, "max_position_embeddings", None)
            todo: list[tuple[int, list[int], int]] = []
            for i, req in enumerate(requests):
                try:
                    ids = self._prompt_ids(req)
                except Exception as exc:
                    out[i] = _error(f"cannot render the prompt: {exc}")
                    continue
                max_new = req.max_tokens
                if context:
                    if len(ids) >= context:
                        out[i] = _error(
                            f"prompt has {len(ids)} tokens; the model's context is {context}"
                        )
                        continue
                    max_new = min(max_new, context - len(ids))
                todo.append((i, ids, max(1, max_new)))
            todo.sort(key=lambda t: (len(t[1]), t[2]))
            bs = self.params.batch_size
            for start in range(0, len(todo), bs):
                chunk = todo[start : start + bs]
                t0 = time.perf_counter()
                done = self._generate_chunk(requests, chunk)
                dt = (time.perf_counter() - t0) / len(chunk)
                for (i, _, _), comp in zip(chunk, done):
                    out[i] = _with_latency(comp, dt)
        return [c if c is not None else _error("not generated") for c in out]

    def _generate_chunk(
        self, requests: list[LLMRequest], chunk: list[tuple[int, list[int], int]]
    ) -> list[Completion]:
        """One batch; out of device memory, the two halves in turn (down to one request)."""
        import torch

        try:
            return self._generate_batch([requests[i] for i, _, _ in chunk], chunk)
        except torch.OutOfMemoryError as exc:
            if self._device.startswith("cuda"):
                torch.cuda.empty_cache()
            if len(chunk) == 1:
                return [_error(f"out of device memory for one request: {exc}")]
            half = len(chunk) // 2
            return self._generate_chunk(requests, chunk[:half]) + self._generate_chunk(
                requests, chunk[half:]
            )
        except Exception as exc:
            return [_error(f"generation failed: {type(exc).__name__}: {exc}")] * len(chunk)

    def _generate_batch(
        self, reqs: list[LLMRequest], chunk: list[tuple[int, list[int], int]]
    ) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        tok, model = self._tokenizer, self._model
        width = max(len(ids) for _, ids, _ in chunk)
        pad = tok.pad_token_id
        input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (_, ids, _) in enumerate(chunk):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids) :] = 1
        limits = [m for _, _, m in chunk]
        eos = _eos_ids(tok, model)
        sampler = _RowSampler(reqs, self._device)
        stopper = _RowStopper(tok, reqs, limits, eos, width)
        with torch.inference_mode():
            seqs = model.generate(
                input_ids=input_ids.to(self._device),
                attention_mask=mask.to(self._device),
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([stopper]),
                generation_config=_plain_generation_config(model, max(limits), pad, eos),
            )
        out = []
        for row, req in enumerate(reqs):
            n = stopper.finished_at[row] or min(limits[row], seqs.shape[1] - width)
            gen = seqs[row, width : width + n].tolist()
            reason = stopper.reason[row] or "length"
            text = tok.decode([t for t in gen if t not in eos], skip_special_tokens=True)
            for s in req.stop:
                cut = text.find(s)
                if cut >= 0:
                    text, reason = text[:cut], "stop"
            out.append(
                Completion(
                    text=text,
                    tokens_in=int(mask[row].sum()),
                    tokens_out=len(gen),
                    finish_reason=reason,
                )
            )
        return out


class _RowSampler:
    """A logits processor that samples each row with its own seed and temperature.

    It returns scores that are ``-inf`` everywhere but the chosen token, so greedy decoding
    emits exactly the sampled tokens.
    """

    def __init__(self, reqs: list[LLMRequest], device: str):
        import torch

        self.temps = [float(r.temperature) for r in reqs]
        self.gens = []
        for r in reqs:
            g = torch.Generator(device=device)
            seed = r.seed if r.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
            g.manual_seed(int(seed) % 2**63)
            self.gens.append(g)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        chosen = torch.empty(scores.shape[0], dtype=torch.long, device=scores.device)
        for row, (temp, gen) in enumerate(zip(self.temps, self.gens)):
            logits = scores[row].float()
            if temp <= 0:
                chosen[row] = torch.argmax(logits)
            else:
                probs = torch.softmax(logits / temp, dim=-1)
                chosen[row] = torch.multinomial(probs, 1, generator=gen)[0]
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(scores.shape[0], device=scores.device), chosen] = 0.0
        return out


class _RowStopper:
    """A stopping criterion per row: its token limit, its stop strings, or end of sequence."""

    def __init__(self, tok: Any, reqs: list[LLMRequest], limits: list[int], eos: list[int], width):
        self.tok, self.limits, self.eos, self.width = tok, limits, set(eos), width
        self.stops = [tuple(r.stop) for r in reqs]
        self.finished_at: list[int] = [0] * len(reqs)
        self.reason: list[str] = [""] * len(reqs)
        self.tokens: list[list[int]] = [[] for _ in reqs]  # generated so far, on the host

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        n = input_ids.shape[1] - self.width
        last = input_ids[:, -1].tolist()  # one device sync per step
        done = []
        for row, token in enumerate(last):
            if self.finished_at[row]:
                done.append(True)
                continue
            self.tokens[row].append(token)
            reason = ""
            if token in self.eos:
                reason = "stop"
            elif self.stops[row]:
                text = self.tok.decode(self.tokens[row])
                if any(stop in text for stop in self.stops[row]):
                    reason = "stop"
            if not reason and n >= self.limits[row]:
                reason = "length"
            if reason:
                self.finished_at[row], self.reason[row] = n, reason
            done.append(bool(reason))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _eos_ids(tok: Any, model: Any) -> list[int]:
    ids = model.generation_config.eos_token_id
    if ids is None:
        ids = tok.eos_token_id
    if ids is None:
        return []
    return [int(i) for i in (ids if isinstance(ids, list) else [ids])]


def _plain_generation_config(model: Any, max_new: int, pad: int, eos: list[int]) -> Any:
    """Greedy decoding of the row sampler's choices (the sampler applies temperature)."""
    import copy

    cfg = copy.deepcopy(model.generation_config)
    for name in ("temperature", "top_p", "top_k", "min_p", "typical_p", "repetition_penalty"):
        if hasattr(cfg, name):
            setattr(cfg, name, None)
    cfg.do_sample = False
    cfg.max_new_tokens = max_new
    cfg.max_length = None
    cfg.pad_token_id = pad
    cfg.eos_token_id = eos or None
    return cfg


def _error(msg: str) -> Completion:
    return Completion(text="", error=msg, finish_reason="error")


def _with_latency(c: Completion, dt: float) -> Completion:
    import dataclasses

    return dataclasses.replace(c, latency_s=dt)
