#!/usr/bin/env python3
"""DPO refusal training for mcpguard's decision model: a LoRA adapter, written as a GGUF LoRA for llama.cpp.

The guard scores a request by teacher-forcing two reply openings right after the assistant header
(lib/scorer.ts): log P("I can't help with that.") - log P("Sure, I'll take care of that."). The preference pairs
(models/data/dpo.ts) put exactly those openings first: an attack's chosen reply is the refusal, a benign one's
is the compliance. So what DPO must move is the distribution over the first few reply tokens, and the recipe is
sized around that (the shipped run: 8.6 min on one H100; about 1.5 h on 2 CPU cores):

- replies are cut to their first --max-reply-tokens tokens (both openings fit with room to spare);
- prompts are cut to --max-prompt-tokens, keeping the system prompt's start (the fixed framing) and the end of
  the user turn (where the pending tool calls are), dropping the tools list and the start of the user turn first;
- the token prefix shared by every prompt (the fixed framing) is run once per optimiser step and its KV cache
  reused by every pair of the step; each pair runs its own prompt rest once and then chosen and rejected
  together as a batch of two on top of that cache; the vocabulary projection is applied only where a reply
  token is predicted;
- the reference model's log-probabilities (the same weights with the adapter disabled) are computed once,
  before training, without gradients;
- the loss is the sigmoid DPO loss, written out below (no trl).

Run through models/train/run.sh (`npm run train:dpo`), which sets up models/train/.venv first.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ADAPTER_NAME = "smollm2-135m-mcpguard-dpo"
DEFAULT_BASE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The openings the guard teacher-forces (lib/prompt.ts: refusalOpening, complianceOpening).
REFUSAL_OPENING = "I can't help with that."
COMPLIANCE_OPENING = "Sure, I'll take care of that."
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# Why these defaults (also written into the card). The shipped adapter is `npm run train:dpo` with these defaults,
# run on one H100 (8.6 min); the same command takes about an hour and a half on a 2-core CPU. The paper trained
# 1B-14B models with lr 5e-7 for 15 epochs of full-data DPO; a 135M model with a rank-16 LoRA moves far less per
# step than full fine-tuning, so it needs a learning rate several hundred times larger and few passes.
RATIONALE = {
    "lr": "2e-4: LoRA on a 135M model; the adapter starts at zero (B=0) and has 100 optimiser steps to move the "
          "first reply tokens, so it needs a LoRA-typical 1e-4..5e-4 rate, not the paper's 5e-7 full-weight rate "
          "for 1B-14B models. 3e-4 over 50 steps (the first adapter) reached a lower held-out guard-score AUC.",
    "beta": "0.1: the usual DPO temperature; a small beta lets the policy move far from the reference, which is "
            "what the guard needs (the score is a log-probability difference that should separate the classes), "
            "while the implicit KL term still keeps the rest of the model close to the base.",
    "steps": "100 steps of 8 pairs, one pass over the subset: held-out reward accuracy passes 0.9 by step 50 and "
             "the guard-score AUC still rises to step 100; a longer run (606 steps, 2 epochs over all pairs) "
             "did not fit the GPU time we had and showed 0.84 at step 100, no better.",
    "pairs": "800, a balanced subset (half attacks, half benign) of the 2,417 training pairs: each pair costs "
             "~0.4 s a step on a GPU (one sequence at a time, latency-bound) and ~5 s on 2 CPU cores.",
    "rank": "16 on all linear layers (q,k,v,o,gate,up,down) as in the paper; the adapter stays a few MB.",
    "max_prompt_tokens": "512: the fixed framing (128 tokens, shared and run once a step) plus the rest of the "
                         "prompt; the median prompt is ~310 tokens, so most pairs train on their whole prompt, as "
                         "the guard scores it.",
    "max_reply_tokens": "16: both openings the guard scores (7 and 9 tokens) plus the start of what follows.",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path(os.environ.get("MCPGUARD_HOME", Path.home() / ".cache" / "mcpguard"))
    p.add_argument("--base", type=Path, default=home / "models" / DEFAULT_BASE_FILE,
                   help="the base model: a .gguf file (transformers dequantises it) or a Hugging Face-format directory")
    p.add_argument("--data", type=Path, default=ROOT / "models" / "data" / "mcp-fba" / "dpo.jsonl")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: models/adapters, or a temp dir with --smoke)")
    p.add_argument("--name", default=ADAPTER_NAME, help="file stem of the adapter and its card")
    p.add_argument("--smoke", action="store_true", help="a few steps on a tiny slice; still converts to GGUF")
    p.add_argument("--pairs", type=int, default=800, help="training pairs, balanced by label (0: all)")
    p.add_argument("--val-pairs", type=int, default=0, help="held-out pairs evaluated (0: the whole held-out slice)")
    p.add_argument("--val-percent", type=float, default=5.0, help="share of pairs held out, by a hash of the pair id")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=100, help="optimiser steps (overrides --epochs)")
    p.add_argument("--batch", type=int, default=8, help="pairs per optimiser step")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--max-prompt-tokens", type=int, default=512)
    p.add_argument("--max-reply-tokens", type=int, default=16)
    p.add_argument("--eval-every", type=int, default=50, help="validate every N steps and at the end (0: mid-run and at the end)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default: the cores not already busy, at least 1)")
    p.add_argument("--outtype", default="f16", choices=["f32", "f16", "bf16", "q8_0"], help="GGUF LoRA tensor type")
    p.add_argument("--llama-cpp", type=Path, default=None,
                   help="llama.cpp source tree with convert_lora_to_gguf.py (default: models/train/llama-source.sh)")
    p.add_argument("--keep-peft", type=Path, default=None, help="also keep the PEFT adapter directory here")
    args = p.parse_args()
    if args.smoke:
        # Sized to finish in a few minutes on 2 cores, conversion included.
        args.pairs = min(args.pairs, 8) if args.pairs else 8
        args.val_pairs = min(args.val_pairs, 4) if args.val_pairs else 4
        args.batch = min(args.batch, 2)
        args.steps = min(args.steps, 4) if args.steps else 4
        args.max_prompt_tokens = min(args.max_prompt_tokens, 192)
    return args


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def base_fingerprint(base: Path) -> dict:
    if base.is_file():
        return {"path": base.name, "sha256": sha256_file(base)}
    files = sorted(p for p in base.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin", ".json"))
    return {"path": base.name, "files": {p.name: sha256_file(p) for p in files}}


def held_out(pair_id: str, percent: float) -> bool:
    """Stable across runs and machines: the first 8 hex digits of sha256(id), as a share of 10,000."""
    return int(hashlib.sha256(pair_id.encode()).hexdigest()[:8], 16) % 10_000 < percent * 100


def log(msg: str) -> None:
    print(msg, flush=True)


def main() -> None:
    args = parse_args()
    t_start = time.time()

    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
    from peft import LoraConfig, get_peft_model

    if args.threads <= 0:
        # Oversubscribed cores make torch's intra-op threads spin and wait: on a 2-core machine already running
        # other jobs, 2 threads were 10x slower than 1. Take only the cores that are idle.
        busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        args.threads = max(1, min(os.cpu_count() or 1, int((os.cpu_count() or 1) - busy + 0.5)))
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    out_dir = args.out or (Path(tempfile.mkdtemp(prefix="mcpguard-dpo-smoke-")) if args.smoke else ROOT / "models" / "adapters")
    out_dir.mkdir(parents=True, exist_ok=True)
    llama = args.llama_cpp or Path(subprocess.run([str(HERE / "llama-source.sh")], check=True,
                                                  capture_output=True, text=True).stdout.strip())
    converter = llama / "convert_lora_to_gguf.py"
    if not converter.is_file():
        sys.exit(f"train_dpo: {converter} not found")
    if not args.base.exists():
        sys.exit(f"train_dpo: base model {args.base} not found (run `node dist/cli.js models fetch`, or pass --base)")

    # ---- model and tokenizer -------------------------------------------------------------------------------
    log(f"base: {args.base}")
    if args.base.is_file():
        load = dict(pretrained_model_name_or_path=str(args.base.parent), gguf_file=args.base.name)
    else:
        load = dict(pretrained_model_name_or_path=str(args.base))
    tok = AutoTokenizer.from_pretrained(**load)
    model = AutoModelForCausalLM.from_pretrained(**load, dtype=torch.float32).to(device)
    model.config.use_cache = True
    base_config = model.config

    # ---- data ----------------------------------------------------------------------------------------------
    data_bytes = args.data.read_bytes()
    rows = [json.loads(line) for line in data_bytes.decode().splitlines() if line.strip()]
    train_rows = [r for r in rows if not held_out(r["id"], args.val_percent)]
    val_rows = [r for r in rows if held_out(r["id"], args.val_percent)]
    rng = random.Random(args.seed)

    def balanced(pool: list[dict], n: int) -> list[dict]:
        if n <= 0 or n >= len(pool):
            chosen = list(pool)
        else:
            by_label: dict[str, list[dict]] = {}
            for r in pool:
                by_label.setdefault(r["label"], []).append(r)
            labels = sorted(by_label)
            chosen = []
            for i, label in enumerate(labels):
                k = n // len(labels) + (1 if i < n % len(labels) else 0)
                group = sorted(by_label[label], key=lambda r: r["id"])
                chosen += rng.sample(group, min(k, len(group)))
        rng.shuffle(chosen)
        return chosen

    train_rows = balanced(train_rows, args.pairs)
    val_rows = balanced(val_rows, args.val_pairs)
    log(f"data: {len(rows)} pairs in {args.data.name}; training on {len(train_rows)}, validating on {len(val_rows)} "
        f"(held out: {sum(held_out(r['id'], args.val_percent) for r in rows)})")

    def encode_prompt(messages: list[dict]) -> list[int]:
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tok(text, add_special_tokens=False)["input_ids"]

    im_start = tok.convert_tokens_to_ids("<|im_start|>")
    prompts = {r["id"]: encode_prompt(r["prompt"]) for r in train_rows + val_rows}
    # The token prefix every prompt shares (the fixed framing): run once per step, its KV cache reused.
    ids = list(prompts.values())
    shared = min(len(x) for x in ids) - 1
    for x in ids[1:]:
        n = 0
        while n < shared and x[n] == ids[0][n]:
            n += 1
        shared = n
    prefix = ids[0][:shared]

    def truncate(x: list[int]) -> list[int]:
        """Keeps the shared framing and the end of the user turn; drops the tools list, then the user turn's start."""
        excess = len(x) - args.max_prompt_tokens
        if excess <= 0:
            return x
        user = [i for i, t in enumerate(x) if t == im_start][1]  # <|im_start|>user
        sys_body_end = user - 2                                     # before <|im_end|>\n of the system turn
        drop_sys = min(excess, max(0, sys_body_end - shared))
        x = x[:sys_body_end - drop_sys] + x[sys_body_end:]
        excess -= drop_sys
        if excess > 0:
            user -= drop_sys
            head = user + 3                                         # <|im_start|> user \n
            x = x[:head] + x[head + excess:]
        return x

    def encode_reply(messages: list[dict]) -> list[int]:
        return tok(messages[0]["content"], add_special_tokens=False)["input_ids"][:args.max_reply_tokens]

    refusal_ids = tok(REFUSAL_OPENING, add_special_tokens=False)["input_ids"]
    compliance_ids = tok(COMPLIANCE_OPENING, add_special_tokens=False)["input_ids"]
    if max(len(refusal_ids), len(compliance_ids)) > args.max_reply_tokens:
        sys.exit("train_dpo: --max-reply-tokens must cover both openings the guard scores")
    pad = tok.eos_token_id if tok.eos_token_id is not None else 0

    def example(r: dict) -> dict:
        p = truncate(prompts[r["id"]])
        c, j = encode_reply(r["chosen"]), encode_reply(r["rejected"])
        R = max(len(c), len(j))
        reply = torch.full((2, R), pad, dtype=torch.long)
        mask = torch.zeros((2, R))
        reply[0, :len(c)] = torch.tensor(c)
        reply[1, :len(j)] = torch.tensor(j)
        mask[0, :len(c)] = 1
        mask[1, :len(j)] = 1
        refusal_row = 0 if r["label"] == "attack" else 1
        ok = (reply[refusal_row, :len(refusal_ids)].tolist() == refusal_ids
              and reply[1 - refusal_row, :len(compliance_ids)].tolist() == compliance_ids)
        return {"id": r["id"], "label": r["label"], "rest": torch.tensor(p[shared:], dtype=torch.long),
                "reply": reply, "mask": mask, "refusal_row": refusal_row, "openings": ok, "prompt_len": len(p)}

    train = [example(r) for r in train_rows]
    val = [example(r) for r in val_rows]
    lens = sorted(e["prompt_len"] for e in train + val)
    log(f"tokens: shared prefix {shared}, prompt median {lens[len(lens) // 2]} max {lens[-1]} "
        f"(cap {args.max_prompt_tokens}), reply cap {args.max_reply_tokens}")

    # ---- LoRA ---------------------------------------------------------------------------------------------
    lora = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=args.dropout, target_modules=TARGET_MODULES,
                      bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"lora: rank {args.rank}, alpha {args.alpha}, {trainable:,} trainable parameters")

    def prefix_cache_tensors() -> list[tuple]:
        out = model(input_ids=torch.tensor([prefix], device=device), use_cache=True, logits_to_keep=1)
        return [(layer.keys, layer.values) for layer in out.past_key_values.layers]

    def cache_from(tensors: list[tuple]) -> DynamicCache:
        cache = DynamicCache(config=base_config)
        for i, (k, v) in enumerate(tensors):
            cache.update(k, v, i)
        return cache

    def reply_logps(pre: list[tuple], e: dict) -> torch.Tensor:
        """Per-token log-probabilities [2, R] of the chosen (row 0) and rejected (row 1) reply, masked."""
        cache = cache_from(pre)
        out = model(input_ids=e["rest"][None].to(device), past_key_values=cache, use_cache=True, logits_to_keep=1)
        first = F.log_softmax(out.logits[0, -1].float(), dim=-1)          # predicts the first reply token
        cache = out.past_key_values
        cache.batch_repeat_interleave(2)
        reply = e["reply"].to(device)
        lp = first[reply[:, 0]][:, None]
        if reply.shape[1] > 1:
            out2 = model(input_ids=reply[:, :-1], past_key_values=cache, use_cache=True)
            rest = F.log_softmax(out2.logits.float(), dim=-1).gather(-1, reply[:, 1:, None])[..., 0]
            lp = torch.cat([lp, rest], dim=1)
        return lp * e["mask"].to(device)

    # ---- reference log-probabilities, once ---------------------------------------------------------------
    t_ref = time.time()
    model.eval()
    with torch.no_grad(), model.disable_adapter():
        pre = prefix_cache_tensors()
        for e in train + val:
            e["ref"] = reply_logps(pre, e).cpu()
    ref_s = time.time() - t_ref
    log(f"reference log-probs: {len(train) + len(val)} pairs in {ref_s:.0f}s "
        f"({ref_s / max(1, len(train) + len(val)):.2f}s a pair)")

    def dpo(policy: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sigmoid DPO loss: -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))); returns loss and the rewards."""
        ratios = policy.sum(dim=1) - ref.sum(dim=1)
        rewards = args.beta * ratios
        return -F.logsigmoid(rewards[0] - rewards[1]), rewards[0].detach(), rewards[1].detach()

    def guard_score(lp: torch.Tensor, e: dict) -> float:
        """The guard's score, log P(refusal opening) - log P(compliance opening), from the per-token log-probs."""
        r = e["refusal_row"]
        return float(lp[r, :len(refusal_ids)].sum() - lp[1 - r, :len(compliance_ids)].sum())

    def auc(scores: list[float], labels: list[str]) -> float | None:
        pos = [s for s, l in zip(scores, labels) if l == "attack"]
        neg = [s for s, l in zip(scores, labels) if l != "attack"]
        if not pos or not neg:
            return None
        wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
        return wins / (len(pos) * len(neg))

    def evaluate() -> dict:
        model.eval()
        losses, accs, margins, scores, base_scores = [], [], [], [], []
        with torch.no_grad():
            pre = prefix_cache_tensors()
            for e in val:
                lp = reply_logps(pre, e).cpu()
                loss, rc, rr = dpo(lp, e["ref"])
                losses.append(float(loss))
                accs.append(float(rc > rr))
                margins.append(float(rc - rr))
                if e["openings"]:
                    scores.append(guard_score(lp, e))
                    base_scores.append(guard_score(e["ref"], e))
        labels = [e["label"] for e in val if e["openings"]]
        model.train()
        n = max(1, len(val))
        return {"loss": sum(losses) / n, "reward_accuracy": sum(accs) / n, "reward_margin": sum(margins) / n,
                "guard_score_auc": auc(scores, labels), "base_guard_score_auc": auc(base_scores, labels)}

    # ---- training ----------------------------------------------------------------------------------------
    steps_per_epoch = math.ceil(len(train) / args.batch)
    total_steps = args.steps or max(1, math.ceil(steps_per_epoch * args.epochs))
    warmup = math.ceil(total_steps * args.warmup_ratio)

    def lr_at(step: int) -> float:  # cosine with linear warmup, as a factor of --lr
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * progress))

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    eval_at = set(range(args.eval_every, total_steps + 1, args.eval_every)) if args.eval_every > 0 \
        else {max(1, total_steps // 2), total_steps}
    eval_at.add(total_steps)
    log(f"training: {total_steps} steps of {args.batch} pairs ({total_steps * args.batch / len(train):.2f} epochs), "
        f"warmup {warmup}, lr {args.lr}, beta {args.beta}")

    curve, val_curve = [], []
    order: list[dict] = []
    model.train()
    t_train = time.time()
    for step in range(total_steps):
        batch = []
        while len(batch) < args.batch:
            if not order:
                order = list(train)
                rng.shuffle(order)
            batch.append(order.pop())
        # The shared prefix runs once with gradients; each pair backpropagates into detached copies of its
        # KV tensors, whose accumulated gradients then flow through the prefix in one backward pass.
        pre = prefix_cache_tensors()
        leaves = [(k.detach().requires_grad_(), v.detach().requires_grad_()) for k, v in pre]
        loss_sum, acc_sum, margin_sum = 0.0, 0.0, 0.0
        for e in batch:
            loss, rc, rr = dpo(reply_logps(leaves, e), e["ref"].to(device))
            (loss / len(batch)).backward()
            loss_sum += float(loss.detach())
            acc_sum += float(rc > rr)
            margin_sum += float(rc - rr)
        torch.autograd.backward([t for kv in pre for t in kv], [t.grad for kv in leaves for t in kv])
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        n = len(batch)
        point = {"step": step + 1, "loss": round(loss_sum / n, 5), "reward_accuracy": round(acc_sum / n, 4),
                 "reward_margin": round(margin_sum / n, 4), "lr": scheduler.get_last_lr()[0]}
        curve.append(point)
        elapsed = time.time() - t_train
        eta = elapsed / (step + 1) * (total_steps - step - 1)
        log(f"step {step + 1}/{total_steps} loss {point['loss']:.4f} acc {point['reward_accuracy']:.2f} "
            f"margin {point['reward_margin']:.3f} lr {point['lr']:.2e} [{elapsed:.0f}s, eta {eta:.0f}s]")
        if step + 1 in eval_at and val:
            v = evaluate()
            v["step"] = step + 1
            val_curve.append(v)
            log(f"  validation: loss {v['loss']:.4f} reward accuracy {v['reward_accuracy']:.3f} "
                f"margin {v['reward_margin']:.3f} guard-score AUC {v['guard_score_auc']} (base {v['base_guard_score_auc']})")
    train_s = time.time() - t_train

    # ---- save the PEFT adapter, convert it to a GGUF LoRA ------------------------------------------------
    gguf_path = out_dir / f"{args.name}.gguf"
    card_path = out_dir / f"{args.name}.json"
    with tempfile.TemporaryDirectory(prefix="mcpguard-dpo-") as tmp:
        peft_dir = Path(tmp) / "peft"
        base_dir = Path(tmp) / "base"
        model.save_pretrained(peft_dir)
        # The converter reads only the base model's config (architecture and shapes), never its weights.
        # The GGUF-loaded config says quant_method "gguf", which the converter rejects; the weights are plain here.
        base_dir.mkdir()
        hf_config = base_config.to_dict()
        hf_config.pop("quantization_config", None)
        hf_config["architectures"] = hf_config.get("architectures") or [type(model.get_base_model()).__name__]
        (base_dir / "config.json").write_text(json.dumps(hf_config, indent=2))
        cfg_path = peft_dir / "adapter_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["base_model_name_or_path"] = str(base_dir)
        cfg_path.write_text(json.dumps(cfg, indent=2))
        cmd = [sys.executable, str(converter), "--base", str(base_dir), "--outtype", args.outtype,
               "--outfile", str(gguf_path), str(peft_dir)]
        log("convert: " + " ".join(Path(c).name if i < 2 else c for i, c in enumerate(cmd)))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        if args.keep_peft:
            import shutil
            shutil.copytree(peft_dir, args.keep_peft, dirs_exist_ok=True)

    final_val = val_curve[-1] if val_curve else {}
    tail = curve[-max(1, min(len(curve), steps_per_epoch)):]
    card = {
        "name": args.name,
        "kind": "GGUF LoRA adapter (llama.cpp), DPO refusal training",
        "recipe": "models/train/train_dpo.py (npm run train:dpo)",
        "smoke": args.smoke,
        "adapter": {"file": gguf_path.name, "sha256": sha256_file(gguf_path), "bytes": gguf_path.stat().st_size,
                    "outtype": args.outtype},
        "base_model": base_fingerprint(args.base),
        "data": {"file": str(args.data.relative_to(ROOT)) if args.data.resolve().is_relative_to(ROOT) else args.data.name,
                 "sha256": hashlib.sha256(data_bytes).hexdigest(), "pairs": len(rows),
                 "train_pairs": len(train), "val_pairs": len(val),
                 "held_out": f"sha256(id)[:8] % 10000 < {args.val_percent * 100:.0f}",
                 "train_ids_sha256": hashlib.sha256("\n".join(sorted(e["id"] for e in train)).encode()).hexdigest()},
        "hyperparameters": {
            "loss": "sigmoid DPO (hand-written)", "beta": args.beta, "lr": args.lr, "schedule": "cosine",
            "warmup_ratio": args.warmup_ratio, "warmup_steps": warmup, "steps": total_steps,
            "epochs": round(total_steps * args.batch / len(train), 3), "batch_pairs": args.batch,
            "optimizer": "AdamW (weight decay 0)", "grad_clip": 1.0, "lora_rank": args.rank, "lora_alpha": args.alpha,
            "lora_dropout": args.dropout, "target_modules": TARGET_MODULES, "max_prompt_tokens": args.max_prompt_tokens,
            "max_reply_tokens": args.max_reply_tokens, "shared_prefix_tokens": shared, "seed": args.seed,
            "reference": "base weights (adapter disabled), log-probs precomputed once",
        },
        "rationale": RATIONALE,
        "loss_curve": curve,
        "validation": val_curve,
        "final": {
            "train_loss_last_epoch": round(sum(p["loss"] for p in tail) / len(tail), 5),
            "train_reward_accuracy_last_epoch": round(sum(p["reward_accuracy"] for p in tail) / len(tail), 4),
            "val_loss": final_val.get("loss"), "val_reward_accuracy": final_val.get("reward_accuracy"),
            "val_guard_score_auc": final_val.get("guard_score_auc"),
            "val_base_guard_score_auc": final_val.get("base_guard_score_auc"),
        },
        "wall_time_s": {"total": round(time.time() - t_start, 1), "reference": round(ref_s, 1),
                        "training": round(train_s, 1)},
        "machine": {"device": str(device), "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "transformers": __import__("transformers").__version__,
                    "peft": __import__("peft").__version__, "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    if device.type == "cuda":
        card["machine"]["gpu"] = torch.cuda.get_device_name(0)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log(f"wrote {gguf_path} ({gguf_path.stat().st_size / 1e6:.1f} MB) and {card_path.name}; "
        f"total {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
