"""Pico models for weight-space tests: tiny Llama checkpoints built from a config.

Import the fixtures into a test module with ``from pico_models import pico_pool``.
"""

from __future__ import annotations

import pathlib

import pytest


def make_pico_llama(path: pathlib.Path, seed: int, hidden: int = 32, tokenizer: bool = False):
    """Save a 2-layer Llama (vocab 260, hidden ``hidden``) initialised from ``seed``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=260,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    if tokenizer:
        from evosearch.models.bytetok import byte_tokenizer

        byte_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def pico_pool(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Three compatible pico Llamas ``m0`` (with tokenizer), ``m1``, ``m2``."""
    root = tmp_path_factory.mktemp("pico")
    return {f"m{i}": make_pico_llama(root / f"m{i}", seed=i, tokenizer=i == 0) for i in range(3)}


@pytest.fixture(scope="session")
def pico_odd(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Models that do not fit the pico pool: a wider Llama and a GPT-2."""
    from transformers import GPT2Config, GPT2LMHeadModel

    root = tmp_path_factory.mktemp("odd")
    wide = make_pico_llama(root / "wide", seed=9, hidden=48)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=260, n_embd=32, n_layer=2, n_head=4))
    gpt2.save_pretrained(root / "gpt2")
    return {"wide": wide, "gpt2": root / "gpt2"}


def make_pico_qwen2(path: pathlib.Path, seed: int, hidden: int = 32):
    """Save a 2-layer Qwen2 (attention biases, tied embeddings off) initialised from ``seed``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        vocab_size=260,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():  # Qwen2 initialises biases to zero: give them values to merge
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.02)
    model.save_pretrained(path)
    return path
