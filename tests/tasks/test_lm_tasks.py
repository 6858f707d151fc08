"""LM task evaluators: exact match, log-likelihoods, batched vs one-by-one."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.modeling_outputs import CausalLMOutputWithPast

from evosearch.models.bytetok import byte_tokenizer
from evosearch.tasks import lm_data, lm_tasks

CONFIDENCE = 20.0  # oracle logit of the token it wants; all others are 0


def _pico_config() -> LlamaConfig:
    return LlamaConfig(
        vocab_size=260,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )


class OracleLM(LlamaForCausalLM):
    """A real HF causal LM whose logits spell the right answer (``wrong``: answer + 1 digit).

    Generation runs without a KV cache, so every forward sees the whole sequence and the
    next token follows from the text so far.
    """

    def __init__(self, config, wrong: bool = False):
        super().__init__(config)
        self.wrong = wrong
        self.generation_config.use_cache = False

    def _next(self, text: str) -> int:
        tok = byte_tokenizer()
        for sep in ("=", "|"):
            if sep in text:
                prompt, done = text.split(sep, 1)
                answer = str(sum(map(int, prompt.split("+")))) if sep == "=" else prompt[::-1]
                if self.wrong:
                    answer += "7"
                if len(done) < len(answer):
                    return tok.encode(answer[len(done)])[0]
                return tok.eos_token_id
        return tok.pad_token_id

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        tok = byte_tokenizer()
        logits = torch.zeros(*input_ids.shape, self.config.vocab_size)
        for i, row in enumerate(input_ids.tolist()):
            for t in range(len(row)):
                text = tok.decode([x for x in row[: t + 1] if x > 3])
                logits[i, t, self._next(text)] = CONFIDENCE
        return CausalLMOutputWithPast(logits=logits)


def _expected_token_loglik() -> float:
    return CONFIDENCE - math.log(math.exp(CONFIDENCE) + 259)


@pytest.mark.parametrize("task", lm_data.TASKS)
def test_a_model_that_answers_right_scores_one_with_the_exact_loglik(task):
    oracle = OracleLM(_pico_config()).eval()
    score = lm_tasks.score_task(oracle, task, split="test", n=12)
    assert score.accuracy == 1.0 and score.n == 12
    assert score.token_loglik == pytest.approx(_expected_token_loglik(), abs=1e-5)
    data = lm_data.examples(task, "test", n=12)
    tokens = sum(len(ex.answer) + 1 for ex in data)
    assert score.loglik == pytest.approx(_expected_token_loglik() * tokens / 12, abs=1e-4)


def test_a_model_that_answers_wrong_scores_zero_and_a_low_loglik():
    oracle = OracleLM(_pico_config(), wrong=True).eval()
    result = lm_tasks.score_model(oracle, split="test", n=8)
    assert result.metrics["acc_add"] == 0.0 and result.metrics["acc_rev"] == 0.0
    assert result.score == 0.0
    assert result.metrics["token_loglik_add"] < -1.0  # the EOS it wants is the wrong token


def test_combined_score_is_the_mean_accuracy_plus_weighted_loglik():
    oracle = OracleLM(_pico_config()).eval()
    result = lm_tasks.score_model(oracle, split="val", n=6, loglik_weight=0.5)
    assert result.metrics["acc_mean"] == 1.0
    assert result.descriptors == (1.0, 1.0)
    assert result.score == pytest.approx(1.0 + 0.5 * _expected_token_loglik(), abs=1e-5)


@pytest.fixture(scope="module")
def pico_lm():
    torch.manual_seed(0)
    return LlamaForCausalLM(_pico_config()).eval()


@pytest.mark.parametrize("task", lm_data.TASKS)
def test_batched_evaluation_agrees_with_one_prompt_at_a_time(pico_lm, task):
    data = lm_data.examples(task, "val", n=6)
    prompts = [ex.prompt for ex in data]
    batched = lm_tasks.generate_answers(pico_lm, prompts, max_new_tokens=5)
    single = lm_tasks.generate_answers(pico_lm, prompts, max_new_tokens=5, batch_size=1)
    assert batched == single
    ll_b, n_b = lm_tasks.answer_logliks(pico_lm, data)
    ll_s, n_s = lm_tasks.answer_logliks(pico_lm, data, batch_size=1)
    assert torch.equal(n_b, n_s)
    torch.testing.assert_close(ll_b, ll_s, rtol=0, atol=1e-4)


def test_loglik_matches_a_plain_unpadded_forward(pico_lm):
    tok = byte_tokenizer()
    ex = lm_data.examples("rev", "val", n=1)[0]
    ids = torch.tensor([[tok.bos_token_id, *tok.encode(ex.prompt + ex.answer), tok.eos_token_id]])
    with torch.no_grad():
        logp = torch.log_softmax(pico_lm(input_ids=ids).logits[0, :-1], -1)
    n = len(ex.answer) + 1
    expected = logp[-n:].gather(-1, ids[0, -n:, None]).sum()
    got, count = lm_tasks.answer_logliks(pico_lm, [ex])
    assert int(count[0]) == n
    assert float(got[0]) == pytest.approx(float(expected), abs=1e-5)


def test_state_dicts_of_one_architecture_are_scored_in_one_model(pico_lm):
    state = {k: v.clone() for k, v in pico_lm.state_dict().items()}
    direct = lm_tasks.score_model(pico_lm, n=4)
    skeleton = LlamaForCausalLM(_pico_config())
    via_states = lm_tasks.score_states([state, state], skeleton, n=4)
    assert [r.metrics for r in via_states] == [direct.metrics, direct.metrics]
    bad = {k: v for k, v in state.items() if "lm_head" not in k}
    with pytest.raises(RuntimeError, match="lm_head"):
        lm_tasks.model_with_state(skeleton, bad)
