#!/usr/bin/env bash
# Creates models/train/.venv with the pinned DPO training stack. Idempotent: a marker file
# (.venv/.complete) records a finished install together with the pins it was made from.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
python="${MCPGUARD_PYTHON:-python3}"

# The pins. torch: a CPU wheel here, the CUDA build on a GPU machine (pip picks by platform/index).
pins=(
    "torch==2.13.0"
    "transformers==5.24.0"
    "accelerate==1.15.0"
    "peft==0.21.2"
    "numpy==2.4.6"
    "safetensors==0.8.0"
    "sentencepiece==0.2.3"
)
stamp="$(printf '%s\n' "${pins[@]}")"

# llama.cpp's source as node-llama-cpp ships it: gives gguf-py and convert_lora_to_gguf.py.
llama="$("$here/llama-source.sh")"

if [[ -f "$venv/.complete" ]] && [[ "$(cat "$venv/.complete")" == "$stamp" ]] && [[ -x "$venv/bin/python" ]]; then
    echo "setup: $venv is ready" >&2
    exit 0
fi

echo "setup: creating $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install --quiet "${pins[@]}" "$llama/gguf-py"
"$venv/bin/python" -c "import torch, transformers, peft, accelerate, gguf; print('setup: torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)" >&2
printf '%s' "$stamp" > "$venv/.complete"
