"""Quantizes weights with ggml's own quantizer: the libggml-base that node-llama-cpp ships for this platform.

gguf-py quantizes a few simple types (Q8_0, Q4_0, Q4_1, ...) in numpy but not the K-quants; ggml does all of them
exactly as llama.cpp's tools do. Used by gguf_export.py for the types gguf-py cannot write.
"""
from __future__ import annotations

import ctypes
import glob
import platform
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent


@lru_cache(maxsize=1)
def _ggml() -> ctypes.CDLL:
    arch = {"x86_64": "x64", "AMD64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    pattern = str(ROOT / "node_modules" / "@node-llama-cpp" / f"linux-{arch}" / "bins" / "*" / "libggml-base.so")
    found = sorted(glob.glob(pattern))
    if not found:
        raise RuntimeError(f"ggml_quant: no {pattern}; run npm install first (node-llama-cpp ships it)")
    lib = ctypes.CDLL(found[0])
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_void_p]
    return lib


def quantize(weights: np.ndarray, ggml_type: int) -> np.ndarray:
    """A [rows, cols] float matrix as ggml blocks of `ggml_type` (gguf-py's numbering): uint8 [rows, row bytes]."""
    lib = _ggml()
    if lib.ggml_quantize_requires_imatrix(ggml_type):
        raise ValueError(f"ggml type {ggml_type} needs an importance matrix")
    src = np.ascontiguousarray(weights, dtype=np.float32)
    rows, cols = src.shape
    row_bytes = lib.ggml_row_size(ggml_type, cols)
    dst = np.zeros((rows, row_bytes), dtype=np.uint8)
    lib.ggml_quantize_init(ggml_type)
    written = lib.ggml_quantize_chunk(ggml_type, src.ctypes.data, dst.ctypes.data, 0, rows, cols, None)
    if written != dst.nbytes:
        raise RuntimeError(f"ggml_quantize_chunk wrote {written} bytes, expected {dst.nbytes}")
    return dst


# K-quants pack 256 values a block. For rows whose length is not a multiple of 256 (576 in SmolLM2-135M: most of its
# matrices) llama.cpp's quantizer falls back to a legacy type of similar size; these are its fallbacks.
K_QUANT_FALLBACK = {"Q2_K": "IQ4_NL", "Q3_K": "IQ4_NL", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}


def quantize_with_fallback(weights: np.ndarray, type_name: str) -> tuple[np.ndarray, str]:
    """Quantizes a matrix to `type_name`, or to its fallback where rows do not fill K-quant blocks; returns the type used."""
    import gguf

    name = K_QUANT_FALLBACK[type_name] if type_name in K_QUANT_FALLBACK and weights.shape[-1] % 256 else type_name
    return quantize(weights, int(gguf.GGMLQuantizationType[name])), name
