"""A byte-level tokenizer built offline: 256 byte tokens plus a few specials.

Tiny models made by evosearch (demo experts, test LLMs, the EvoLLM model) use it, so nothing
is downloaded. It is a real ``transformers.PreTrainedTokenizerFast`` (byte-level BPE with no
merges), so ``save_pretrained``/``from_pretrained`` and ``generate`` work as with any model.
"""

from __future__ import annotations

from functools import lru_cache

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


@lru_cache(maxsize=1)
def byte_tokenizer():
    """The shared byte-level tokenizer (vocabulary: 4 specials + 256 bytes = 260)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 printable stand-ins for bytes
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
    )
    fast.padding_side = "left"  # decoder-only generation pads on the left
    return fast
