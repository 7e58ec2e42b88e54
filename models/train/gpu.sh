#!/usr/bin/env bash
# Trains the decision model on a lent GPU machine (see /work/.library/device), which has PyTorch and CUDA but no
# Node, no registry, at most 64 MiB of working tree per call and 64 MiB of files back per call.
#
#   here:   models/train/gpu.sh prepare          # .remote/: the base model in parts, the gguf and transformers wheels
#   there:  bash models/train/gpu.sh stage       # one call per part (carry .remote/part-K, and .remote/wheels first)
#   there:  bash models/train/gpu.sh train [ARGS]   # the last part, then train_dpo.py ARGS; returns the card and chunks
#   there:  bash models/train/gpu.sh send N      # chunk group N (64 MiB) of the model, while the machine is warm
#   here:   models/train/gpu.sh collect DIR...   # joins the chunks into models/decision and checks the card's sha256
#   here:   models/train/gpu.sh dry-run          # all of the above on this machine, with --smoke and a temp $OUT
#
# The tracked working tree is ~170 MB with the shipped decision model: move models/decision/*.gguf aside before the
# device calls (and back after), or the call is refused for size.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
remote="$root/.remote"
stage="${MCPGUARD_GPU_STAGE:-/tmp/mcpguard-gpu}"
py="${MCPGUARD_GPU_PYTHON:-python3}"        # the GPU machine's python3 holds PyTorch
part_bytes=$((24 * 1024 * 1024))
chunk_bytes=$((16 * 1024 * 1024 - 4096))   # a file back is at most 16 MiB
chunks_per_call=3                          # 3 x 16 MiB, leaving room for the card and log within 64 MiB
name="smollm2-135m-mcpguard"

prepare() {
    "$here/setup.sh" >&2
    node "$root/dist/cli.js" models fetch smollm2-135m-instruct >&2
    local base; base="$(node -e 'const m=require(process.argv[1]);console.log(m.models["smollm2-135m-instruct"].file)' "$root/models/manifest.json")"
    base="${MCPGUARD_HOME:-$HOME/.cache/mcpguard}/models/$base"
    rm -rf "$remote"
    mkdir -p "$remote/wheels"
    split -b "$part_bytes" -d -a 1 "$base" "$remote/part-"
    for p in "$remote"/part-*; do mkdir "$p.d" && mv "$p" "$p.d/$(basename "$p")" && mv "$p.d" "$p"; done
    sha256sum "$base" | cut -d' ' -f1 > "$remote/wheels/base.sha256"
    basename "$base" > "$remote/wheels/base.name"
    local llama; llama="$("$here/llama-source.sh")"
    "$here/.venv/bin/python" -m pip wheel -q --no-deps -w "$remote/wheels" "$llama/gguf-py" >&2
    "$here/.venv/bin/python" -m pip download -q --no-deps --only-binary=:all: -d "$remote/wheels" transformers==5.24.0 >&2
    echo "prepared $remote:"; du -sh "$remote"/* | sed 's/^/  /'
    echo "device calls: 1) carry [.remote/wheels, .remote/part-0] run 'bash models/train/gpu.sh stage';"
    echo "  then one per further part (carry .remote/part-K) with 'stage', the last one with 'train [ARGS]';"
    echo "  then 'send 1', 'send 2', ... until it says done; then here: models/train/gpu.sh collect FILES_AT..."
}

stage() {
    mkdir -p "$stage/parts"
    if compgen -G "$root/.remote/wheels/*.whl" > /dev/null; then
        "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$stage/site" "$root"/.remote/wheels/*.whl
        cp "$root/.remote/wheels/base.sha256" "$root/.remote/wheels/base.name" "$stage/"
    fi
    for p in "$root"/.remote/part-*/part-*; do [[ -f "$p" ]] && cp "$p" "$stage/parts/"; done
    echo "staged: $(ls "$stage/parts" | tr '\n' ' ')"
}

train() {
    stage
    local base; base="$stage/$(cat "$stage/base.name")"
    cat "$stage"/parts/part-* > "$base"
    [[ "$(sha256sum "$base" | cut -d' ' -f1)" == "$(cat "$stage/base.sha256")" ]] || { echo "gpu.sh: the base model's parts do not add up (sha256)"; exit 1; }
    rm -rf "$stage/out" && mkdir -p "$stage/out"
    PYTHONPATH="$stage/site${PYTHONPATH:+:$PYTHONPATH}" MCPGUARD_GGUF_PY="$stage/site" PYTHONUNBUFFERED=1 \
        "$py" "$here/train_dpo.py" --base "$base" --out "$stage/out" "$@" 2>&1 | tee "$stage/out/train.log"
    (cd "$stage/out" && split -b "$chunk_bytes" -d -a 2 "$name.gguf" "$name.gguf.chunk-")
    send 0
}

send() {
    local group="$1" out="${OUT:?gpu.sh: OUT is not set (run it through the device tool, or dry-run)}" i=0 sent=0
    [[ "$group" == 0 ]] && cp "$stage/out/$name.json" "$stage/out/train.log" "$out/"
    for chunk in "$stage"/out/"$name".gguf.chunk-*; do
        if (( i / chunks_per_call == group )); then cp "$chunk" "$out/"; sent=$((sent + 1)); fi
        i=$((i + 1))
    done
    local groups=$(( (i + chunks_per_call - 1) / chunks_per_call ))
    echo "sent group $group: $sent chunks; $((groups - group - 1)) groups left$([[ $((group + 1)) -ge $groups ]] && echo ' (done)')"
}

# Joins the chunks found in DIRS into DEST/NAME.gguf with its card, after checking the card's sha256.
collect_to() {
    local dest="$1" tmp; shift; tmp="$(mktemp -d)"
    for dir in "$@"; do cp "$dir"/* "$tmp/"; done
    cat "$tmp/$name".gguf.chunk-* > "$tmp/$name.gguf"
    local want; want="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["sha256"])' "$tmp/$name.json")"
    [[ "$(sha256sum "$tmp/$name.gguf" | cut -d' ' -f1)" == "$want" ]] || { echo "gpu.sh: the joined model does not match its card's sha256"; exit 1; }
    mkdir -p "$dest" && mv "$tmp/$name.gguf" "$tmp/$name.json" "$dest/"
    echo "collected $dest/$name.gguf (sha256 $want)"
}

dry_run() {
    local fake; fake="$(mktemp -d)"
    stage="$fake/stage"; py="$here/.venv/bin/python"
    prepare
    stage
    local outs=() g
    for g in 0 1 2 3 4 5 6 7 8 9; do
        export OUT="$fake/out-$g"; mkdir -p "$OUT"; outs+=("$OUT")
        if [[ $g == 0 ]]; then train --smoke; else send "$g"; fi | tee "$fake/last"
        grep -q "(done)" "$fake/last" && break
    done
    collect_to "$fake/collected" "${outs[@]}"
    echo "dry run: $(ls -d "$remote"/part-* | wc -l) parts staged, ${#outs[@]} calls of files back; nothing here was replaced"
}

cmd="${1:-}"; shift || true
case "$cmd" in
    prepare) prepare ;;
    stage) stage ;;
    train) train "$@" ;;
    send) send "$1" ;;
    collect) collect_to "$root/models/decision" "$@"; echo "now: models/manifest.json's sha256 and size, then npm run calibrate" ;;
    dry-run) dry_run ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
esac
