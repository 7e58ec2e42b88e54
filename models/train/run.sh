#!/usr/bin/env bash
# `npm run train:dpo [-- args]`: sets up models/train/.venv, then trains the decision model (all weights, SFT then DPO).
# Without --out, a full run writes models/decision/smollm2-135m-mcpguard.{gguf,json};
# --smoke runs a few steps on a tiny slice and writes to a temp dir. Extra args go to train_dpo.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/setup.sh"
# The default base model (the recipe's --base); fetched and verified once, like every model the guard uses.
node "$here/../../dist/cli.js" models fetch smollm2-135m-instruct >&2
# glibc returns freed activation buffers to the kernel and faults them back in on the next step; on a small VM that
# doubled a CPU training step. Keep them in the heap (thresholds in bytes; no effect on the results).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-33554432}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-17179869184}"
exec "$here/.venv/bin/python" "$here/train_dpo.py" "$@"
