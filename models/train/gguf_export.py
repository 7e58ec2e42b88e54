"""Writes fine-tuned Llama-family weights as a GGUF file that llama.cpp loads like the base model.

The base GGUF supplies everything but the weights: its metadata (architecture, tokenizer, chat template) is copied
key by key, and each of its tensors is replaced by the fine-tuned tensor of the same role. llama.cpp stores the query
and key projections with their rows regrouped for its rotary embedding (transformers undoes that when it loads a
GGUF), so those two are regrouped again here. Two-dimensional weights take the requested type, quantized by ggml
itself (ggml_quant.py; K-quants fall back as llama.cpp's quantizer does where rows do not fill their blocks); norms
stay f32.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

# GGUF tensor name -> Hugging Face parameter name, for the Llama layout.
_BLOCK = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
_GLOBAL = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
           "output.weight": "lm_head.weight"}


def hf_name(gguf_name: str) -> str:
    if gguf_name in _GLOBAL:
        return _GLOBAL[gguf_name]
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight", gguf_name)
    if m is None or m.group(2) not in _BLOCK:
        raise KeyError(f"no Hugging Face parameter for GGUF tensor {gguf_name}")
    return f"model.layers.{m.group(1)}.{_BLOCK[m.group(2)]}.weight"


def rope_regroup(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's row order for a query/key projection: within each head, the two rotary halves interleaved."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_weight(name: str, state: dict, heads: int, kv_heads: int) -> np.ndarray:
    w = state[hf_name(name)].detach().float().cpu().numpy()
    if ".attn_q." in name:
        return rope_regroup(w, heads)
    if ".attn_k." in name:
        return rope_regroup(w, kv_heads)
    return w


FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7, "q4_1": 3, "q4_k": 14}  # llama.cpp ftype; q4_k is Q4_K_S-like


def write_gguf(base: Path, state: dict, out: Path, outtype: str, name: str) -> None:
    import gguf

    reader = gguf.GGUFReader(str(base))
    arch = reader.fields["general.architecture"].contents()
    heads = int(reader.fields[f"{arch}.attention.head_count"].contents())
    kv_heads = int(reader.fields[f"{arch}.attention.head_count_kv"].contents())
    from ggml_quant import quantize_with_fallback

    writer = gguf.GGUFWriter(str(out), arch=arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type", "general.name",
                                              "general.quantization_version"):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub)
    writer.add_name(name)
    writer.add_file_type(FILE_TYPES[outtype])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    for tensor in reader.tensors:
        w = gguf_weight(tensor.name, state, heads, kv_heads)
        if w.ndim == 1 or outtype == "f32":
            writer.add_tensor(tensor.name, w.astype(np.float32))
        elif outtype == "f16":
            writer.add_tensor(tensor.name, w.astype(np.float16))
        else:
            data, used = quantize_with_fallback(w, outtype.upper())
            writer.add_tensor(tensor.name, data, raw_dtype=gguf.GGMLQuantizationType[used])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def read_gguf_weights(path: Path) -> dict[str, np.ndarray]:
    """Dequantised tensors of a GGUF file by name, in row-major (Hugging Face) shape; for round-trip checks."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    out = {}
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        out[t.name] = np.asarray(data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
    return out
