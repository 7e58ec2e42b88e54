#!/usr/bin/env bash
# `npm run train:dpo [-- args]`: sets up models/train/.venv, then trains the DPO LoRA adapter.
# Without --out, a full run writes models/adapters/smollm2-135m-mcpguard-dpo.{gguf,json};
# --smoke runs a few steps on a tiny slice and writes to a temp dir. Extra args go to train_dpo.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/setup.sh"
exec "$here/.venv/bin/python" "$here/train_dpo.py" "$@"
