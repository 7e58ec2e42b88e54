#!/usr/bin/env bash
# Prints the path of llama.cpp's source tree, cloning it once from the git bundle inside
# node-llama-cpp's npm package into $MCPGUARD_HOME/llama.cpp (the same place the guard uses).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
home="${MCPGUARD_HOME:-$HOME/.cache/mcpguard}"
dir="$home/llama.cpp"

if [[ -f "$dir/convert_lora_to_gguf.py" && -d "$dir/gguf-py" ]]; then
    echo "$dir"
    exit 0
fi
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
if [[ ! -f "$bundle" ]]; then
    echo "llama-source: $bundle not found; run npm install first" >&2
    exit 1
fi
mkdir -p "$home"
rm -rf "$dir"
git clone --quiet "$bundle" "$dir" >&2
echo "$dir"
