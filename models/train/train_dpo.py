#!/usr/bin/env python3
"""Trains mcpguard's decision model: all weights of the base model, a first-token SFT stage, then DPO; writes a GGUF.

The guard reads one position (lib/scorer.ts): after the prompt, the logit of the refusal opening's first token
("I") minus that of the compliance opening's first token ("Sure"). Every pair in dpo.jsonl puts one of those two
openings first in its chosen reply and the other first in its rejected reply, so both stages work on that position:

- stage 1 (SFT, two-way first-token objective): -log sigmoid(z), z = logit(chosen's first token) - logit(rejected's);
- stage 2 (DPO, the paper's sigmoid loss over the replies): -log sigmoid(beta * ((log pi(chosen) - log ref(chosen)) -
  (log pi(rejected) - log ref(rejected)))), log-probabilities over the whole vocabulary, summed over the first
  --dpo-reply-tokens tokens of each reply (the opening, where the two replies differ); the reference is the stage-1
  model, computed once before the stage. Stage 1 ranks the two openings; stage 2 makes the model actually open its
  reply that way when it generates (the paper's generative evaluation, `mcpguard eval --generative`).

Each stage is checked on the calibration split (dpo-validation.jsonl, families never trained on) every
--eval-every steps, and the best checkpoint by validation AUC of the guard's score is kept. Batches are padded on
the right; the token prefix every prompt shares (the fixed framing) runs once per batch and its KV cache is shared.

Run through models/train/run.sh (`npm run train:dpo`), which sets up models/train/.venv first.
"""
from __future__ import annotations

import argparse
import copy
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
DATA = ROOT / "models" / "data" / "mcp-fba"
MODEL_NAME = "smollm2-135m-mcpguard"
DEFAULT_BASE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Why these defaults (also written into the card).
RATIONALE = {
    "weights": "all of them: a measurement for issue 10 (same base, same objective, one epoch) reached test AUC 0.956 "
               "where the rank-16 LoRA adapter trained on 800 pairs reached 0.816 with retrieval.",
    "objective": "the guard reads a single position, so stage 1 trains that position (two-way cross-entropy over the "
                 "two first tokens). Stage 2 is the paper's DPO over the replies' openings with the whole vocabulary: "
                 "a first-token-only DPO (session 3) cut validation AUC from 0.963 to 0.935 and left the model's own "
                 "generations compliant (0 of 60 attacks refused by sampled majority).",
    "sft_lr": "2e-5 with AdamW (weight decay 0.01), 6% warm-up then linear decay, gradient clip 1.0: the "
              "measured setting; 8e-6 was worse at every epoch.",
    "sft_epochs": "1: further epochs drove the training loss to 0 and cut TPR at 1% FPR (scores tie at the extremes).",
    "sft_schedule_epochs": "4: the learning rate decays as if over 4 epochs but one is run (the issue's measured "
                           "setting); session 3's decay to 0 within one epoch was still improving on validation at its "
                           "last step.",
    "views": "dpo.jsonl adds the tool calls alone for a fifth of the rows that have both (the proxy's view) and a note "
             "addressed to the guard for a tenth (both labels), models/data/build.ts.",
    "dpo": "beta 0.1, lr 5e-6, the first 16 reply tokens, over 15% of the pairs: DPO's loss starts at log 2 for every "
           "pair whatever the reference already gets right, so a long or fast stage only makes the scores more "
           "extreme; the stage's start is a checkpoint, so validation decides whether it is kept.",
    "max_prompt_tokens": "384: the guard's decision prompt keeps the framing and the end of the user turn within "
                         "this budget; the median training prompt is ~310 tokens.",
    "selection": "every --eval-every steps the validation AUC of the guard's score; the best checkpoint of each "
                 "stage is kept (the stage's start counts as a checkpoint). In stage 2 a checkpoint within 0.003 AUC "
                 "of the best wins when its replies open the right way more often (whole-vocabulary probability of "
                 "the chosen first token), the generative behaviour DPO is there for.",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path(os.environ.get("MCPGUARD_HOME", Path.home() / ".cache" / "mcpguard"))
    p.add_argument("--base", type=Path, default=home / "models" / DEFAULT_BASE_FILE,
                   help="the base model, a GGUF file (transformers dequantises it; its metadata is reused on export)")
    p.add_argument("--data", type=Path, nargs="+", default=[DATA / "dpo.jsonl", DATA / "dpo-views.jsonl"],
                   help="training pairs, read in order (default: one pair per train example, then the extra views)")
    p.add_argument("--val-data", type=Path, default=DATA / "dpo-validation.jsonl")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: models/decision, or a temp dir with --smoke)")
    p.add_argument("--name", default=MODEL_NAME, help="file stem of the model and its card")
    p.add_argument("--smoke", action="store_true", help="a few steps on a tiny slice; still writes the GGUF")
    p.add_argument("--sft-epochs", type=float, default=1.0, help="stage 1 epochs (0 skips it)")
    p.add_argument("--sft-lr", type=float, default=2e-5)
    p.add_argument("--dpo-share", type=float, default=0.15, help="stage 2 trains on this share of the pairs (0 skips it)")
    p.add_argument("--sft-schedule-epochs", type=float, default=4.0,
                   help="stage 1's linear decay reaches 0 after this many epochs (>= --sft-epochs)")
    p.add_argument("--dpo-lr", type=float, default=5e-6)
    p.add_argument("--dpo-auc-tolerance", type=float, default=0.003,
                   help="stage 2 keeps a checkpoint whose validation AUC is this close to the best when its replies open "
                        "the right way more often")
    p.add_argument("--dpo-reply-tokens", type=int, default=16, help="stage 2 compares the replies over this many first tokens")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--micro-batch", type=int, default=8,
                   help="pairs per forward pass within a batch (gradients accumulate); DPO runs two sequences a pair")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.06)
    p.add_argument("--max-prompt-tokens", type=int, default=384)
    p.add_argument("--eval-every", type=int, default=40, help="validate every N steps, and at each stage's end")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: one per core)")
    p.add_argument("--outtype", default="q8_0", choices=["f32", "f16", "q8_0", "q4_1", "q4_k"])
    p.add_argument("--also-write", default="", help="comma-separated extra GGUF types to write beside (e.g. f16,q4_k)")
    p.add_argument("--sft-out", type=Path, default=None, help="also write the stage-1 model here as a GGUF (ablation)")
    args = p.parse_args()
    if args.smoke:
        args.limit, args.val_limit = 8, 8
        args.batch = 4
        args.eval_every = 1
        args.max_prompt_tokens = 192
        args.dpo_share = 0.5
    else:
        args.limit, args.val_limit = 0, 0
    return args


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg: str) -> None:
    print(msg, flush=True)


def read_pairs(paths: list[Path], limit: int, rng: random.Random) -> list[dict]:
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]
    if limit:
        rows = rng.sample(rows, limit)
    return rows


def auc(scores: list[float], positive: list[bool]) -> float:
    pos = sorted(s for s, p in zip(scores, positive) if p)
    neg = sorted(s for s, p in zip(scores, positive) if not p)
    if not pos or not neg:
        return float("nan")
    wins = sum(sum(1.0 if n < s else 0.5 if n == s else 0.0 for n in neg) for s in pos)
    return wins / (len(pos) * len(neg))


def tpr_at_fpr(scores: list[float], positive: list[bool], fpr: float) -> float:
    neg = sorted((s for s, p in zip(scores, positive) if not p), reverse=True)
    pos = [s for s, p in zip(scores, positive) if p]
    allowed = int(math.floor(fpr * len(neg)))
    threshold = neg[allowed] if allowed < len(neg) else -math.inf  # refuse strictly above this benign score
    return sum(s > threshold for s in pos) / max(1, len(pos))


class Encoder:
    """Prompts as token ids through the model's chat template, cut to a budget, and the two first reply tokens."""

    def __init__(self, tok, max_prompt_tokens: int):
        self.tok = tok
        self.max = max_prompt_tokens
        self.im_start = tok.convert_tokens_to_ids("<|im_start|>")

    def prompt(self, messages: list[dict]) -> list[int]:
        text = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def reply(self, reply: list[dict], limit: int) -> list[int]:
        return self.tok(reply[0]["content"], add_special_tokens=False)["input_ids"][:limit]

    def cut(self, ids: list[int], keep_head: int) -> list[int]:
        """Over budget: drop the system turn's tail (tools list) after `keep_head`, then the user turn's start."""
        excess = len(ids) - self.max
        if excess <= 0:
            return ids
        user = [i for i, t in enumerate(ids) if t == self.im_start][1]
        sys_end = user - 2
        drop = min(excess, max(0, sys_end - keep_head))
        ids = ids[:sys_end - drop] + ids[sys_end:]
        excess -= drop
        if excess > 0:
            head = user - drop + 3
            ids = ids[:head] + ids[head + excess:]
        return ids


def shared_prefix(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs) - 1
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == seqs[0][i]:
            i += 1
        n = i
    return n


def main() -> None:
    args = parse_args()
    t_start = time.time()
    rng = random.Random(args.seed)

    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out_dir = args.out or (Path(tempfile.mkdtemp(prefix="mcpguard-train-smoke-")) if args.smoke else ROOT / "models" / "decision")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.base.is_file():
        sys.exit(f"train_dpo: base model {args.base} not found (run `node dist/cli.js models fetch`, or pass --base)")
    # gguf-py from llama.cpp's source (node-llama-cpp's bundle), or MCPGUARD_GGUF_PY where there is no Node (gpu.sh).
    gguf_py = os.environ.get("MCPGUARD_GGUF_PY") or str(Path(subprocess.run(
        [str(HERE / "llama-source.sh")], check=True, capture_output=True, text=True).stdout.strip()) / "gguf-py")
    sys.path.insert(0, gguf_py)
    from gguf_export import write_gguf

    log(f"base: {args.base}")
    load = dict(pretrained_model_name_or_path=str(args.base.parent), gguf_file=args.base.name)
    tok = AutoTokenizer.from_pretrained(**load)
    model = AutoModelForCausalLM.from_pretrained(**load, dtype=torch.float32).to(device)
    body, head = model.model, model.lm_head

    # ---- data ----------------------------------------------------------------------------------------------
    enc = Encoder(tok, args.max_prompt_tokens)
    train_rows = read_pairs(args.data, args.limit, rng)
    val_rows = read_pairs([args.val_data], args.val_limit, rng)
    raw = {id(r): enc.prompt(r["prompt"]) for r in train_rows + val_rows}
    prefix_len = shared_prefix(list(raw.values()))

    def example(r: dict) -> dict:
        ids = enc.cut(raw[id(r)], prefix_len)
        chosen, rejected = enc.reply(r["chosen"], args.dpo_reply_tokens), enc.reply(r["rejected"], args.dpo_reply_tokens)
        if chosen[0] == rejected[0]:
            sys.exit(f"train_dpo: pair {r['id']} starts both replies with the same token")
        return {"id": r["id"], "attack": r["label"] == "attack", "rest": ids[prefix_len:], "chosen": chosen[0],
                "rejected": rejected[0], "chosen_reply": chosen, "rejected_reply": rejected, "len": len(ids)}

    train = [example(r) for r in train_rows]
    val = [example(r) for r in val_rows]
    prefix = torch.tensor([raw[id(train_rows[0])][:prefix_len]], device=device)
    lens = sorted(e["len"] for e in train)
    log(f"data: {len(train)} training pairs ({', '.join(d.name for d in args.data)}), {len(val)} validation pairs ({args.val_data.name}); "
        f"shared prefix {prefix_len} tokens, prompt median {lens[len(lens) // 2]} max {lens[-1]} (cap {args.max_prompt_tokens})")

    # ---- the scored position -------------------------------------------------------------------------------
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    def hidden_states(seqs: list[list[int]]) -> torch.Tensor:
        """The last layer's states for each sequence after the shared prefix, right-padded (the prefix runs once)."""
        b = len(seqs)
        # Widths rounded up to a multiple of 64: a handful of shapes, so the CPU kernels are prepared once per shape.
        width = -(-max(len(s) for s in seqs) // 64) * 64
        ids = torch.full((b, width), pad, dtype=torch.long)
        mask = torch.zeros((b, prefix_len + width), dtype=torch.long)
        mask[:, :prefix_len] = 1
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, prefix_len:prefix_len + len(s)] = 1
        cache = body(input_ids=prefix, use_cache=True).past_key_values
        cache.batch_repeat_interleave(b)
        return body(input_ids=ids.to(device), attention_mask=mask.to(device), past_key_values=cache,
                    use_cache=True).last_hidden_state

    def first_position(batch: list[dict]) -> torch.Tensor:
        hidden = hidden_states([e["rest"] for e in batch])
        return hidden[torch.arange(len(batch)), torch.tensor([len(e["rest"]) - 1 for e in batch])]

    def margins(batch: list[dict]) -> torch.Tensor:
        """z = logit(chosen first token) - logit(rejected first token) at the reply's first position, per pair."""
        return margins_at(batch, first_position(batch))

    def margins_at(batch: list[dict], last: torch.Tensor) -> torch.Tensor:
        chosen = head.weight[torch.tensor([e["chosen"] for e in batch], device=device)]
        rejected = head.weight[torch.tensor([e["rejected"] for e in batch], device=device)]
        return (last * (chosen - rejected)).sum(-1).float()

    def reply_logps(batch: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(reply | prompt) over the whole vocabulary, summed over each reply's kept tokens: (chosen, rejected)."""
        seqs = [e["rest"] + e["chosen_reply"] for e in batch] + [e["rest"] + e["rejected_reply"] for e in batch]
        replies = [e["chosen_reply"] for e in batch] + [e["rejected_reply"] for e in batch]
        hidden = hidden_states(seqs)
        rows, cols, targets, owner = [], [], [], []
        for i, (s, r) in enumerate(zip(seqs, replies)):
            start = len(s) - len(r) - 1  # the position that predicts the reply's first token
            rows += [i] * len(r)
            cols += range(start, start + len(r))
            targets += r
            owner += [i] * len(r)
        logp = F.log_softmax(head(hidden[torch.tensor(rows), torch.tensor(cols)]).float(), dim=-1)
        picked = logp.gather(1, torch.tensor(targets, device=device)[:, None])[:, 0]
        sums = torch.zeros(len(seqs), device=device).index_add(0, torch.tensor(owner, device=device), picked)
        return sums[:len(batch)], sums[len(batch):]
    def batches(pool: list[dict], shuffle: bool) -> list[list[dict]]:
        """Full batches of similar length (less padding): shuffled, sorted within windows of 8 batches, batch order
        shuffled. A short last batch is filled with repeats of its own pairs (every batch has one shape)."""
        order = list(pool)
        if shuffle:
            rng.shuffle(order)
        window = args.batch * 8
        out = []
        for w in range(0, len(order), window):
            chunk = sorted(order[w:w + window], key=lambda e: len(e["rest"]))
            out += [chunk[i:i + args.batch] for i in range(0, len(chunk), args.batch)]
        out = [b + [b[i % len(b)] for i in range(args.batch - len(b))] for b in out]
        if shuffle:
            rng.shuffle(out)
        return out

    def guard_scores(pool: list[dict]) -> tuple[list[float], list[float]]:
        """Per pair: the guard's refusal log-odds, logit("I") - logit("Sure") (z for an attack pair, -z for a benign
        one), and the whole-vocabulary probability that the reply opens with the chosen reply's first token."""
        model.eval()
        out = []
        with torch.no_grad():
            for batch in batches(pool, shuffle=False):
                last = first_position(batch)
                z = margins_at(batch, last).tolist()
                p = F.softmax(head(last).float(), dim=-1).gather(1, torch.tensor([[e["chosen"]] for e in batch], device=device))
                out += [(e["id"], (s if e["attack"] else -s, float(q))) for e, s, q in zip(batch, z, p[:, 0])]
        model.train()
        by_id = dict(out)
        return [by_id[e["id"]][0] for e in pool], [by_id[e["id"]][1] for e in pool]

    def validate() -> dict:
        s, p = guard_scores(val)
        y = [e["attack"] for e in val]
        opens = lambda attack: [q for q, a in zip(p, y) if a == attack]
        return {"auc": round(auc(s, y), 4), "tpr_at_1fpr": round(tpr_at_fpr(s, y, 0.01), 4),
                "tpr_at_5fpr": round(tpr_at_fpr(s, y, 0.05), 4),
                "p_refusal_opening_attacks": round(sum(opens(True)) / max(1, len(opens(True))), 4),
                "p_compliance_opening_benign": round(sum(opens(False)) / max(1, len(opens(False))), 4)}

    # ---- one stage: AdamW, warm-up then linear decay, best checkpoint by validation AUC ---------------------
    def opens_right(v: dict) -> float:
        return v["p_refusal_opening_attacks"] + v["p_compliance_opening_benign"]

    def better(v: dict, best: dict, tolerance: float) -> bool:
        """Higher validation AUC; or, within `tolerance` of the best, replies that open the right way more often."""
        return v["auc"] > best["auc"] or (v["auc"] >= best["auc"] - tolerance and opens_right(v) > opens_right(best))

    def run_stage(name: str, pool: list[dict], epochs: float, lr: float, loss_of, schedule_epochs: float = 0,
                  tolerance: float = 0.0) -> dict:
        steps = max(1, math.ceil(len(pool) / args.batch * epochs))
        horizon = max(steps, math.ceil(len(pool) / args.batch * schedule_epochs))  # the step where the decay reaches 0
        warmup = math.ceil(steps * args.warmup_ratio)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=args.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (horizon - s) / max(1, horizon - warmup)))
        start = validate()
        best = {"step": 0, **start, "state": copy.deepcopy(model.state_dict())}
        curve, val_curve = [], [{"step": 0, **start}]
        log(f"{name}: {steps} steps of {args.batch} ({epochs:g} epochs of {len(pool)} pairs), lr {lr}, warm-up {warmup}; "
            f"validation at start {start}")
        queue: list[list[dict]] = []
        t0 = time.time()
        for step in range(1, steps + 1):
            if not queue:
                queue = batches(pool, shuffle=True)
            batch = queue.pop()
            # Gradients accumulate over micro-batches: the same step as one batch, at a fraction of the activations.
            loss = 0.0
            for i in range(0, len(batch), args.micro_batch):
                part = batch[i:i + args.micro_batch]
                part_loss = loss_of(part) * (len(part) / len(batch))
                part_loss.backward()
                loss += part_loss.item()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            curve.append({"step": step, "loss": round(loss, 5)})
            el = time.time() - t0
            log(f"{name} step {step}/{steps} loss {loss:.4f} [{el:.0f}s, eta {el / step * (steps - step):.0f}s]")
            if step % args.eval_every == 0 or step == steps:
                v = validate()
                val_curve.append({"step": step, **v})
                log(f"  validation {v}")
                if better(v, best, tolerance):
                    best = {"step": step, **v, "state": copy.deepcopy(model.state_dict())}
        model.load_state_dict(best.pop("state"))
        log(f"{name}: kept step {best['step']} {best}")
        return {"steps": steps, "decay_to_zero_at_step": horizon, "warmup": warmup, "lr": lr, "epochs": epochs, "pairs": len(pool), "loss_curve": curve,
                "validation": val_curve, "kept": best, "seconds": round(time.time() - t0, 1)}

    stages = {}
    model.train()
    if args.sft_epochs > 0:
        stages["sft"] = run_stage("sft", train, args.sft_epochs, args.sft_lr,
                                  lambda batch: -F.logsigmoid(margins(batch)).mean(), args.sft_schedule_epochs)
        if args.sft_out:
            write_gguf(args.base, model.state_dict(), args.sft_out, args.outtype, args.name + "-sft")
            log(f"wrote {args.sft_out}")
    if args.dpo_share > 0:
        subset = rng.sample(train, max(args.batch, int(len(train) * args.dpo_share) // args.batch * args.batch))
        model.eval()
        with torch.no_grad():
            for batch in batches(subset, shuffle=False):
                for e, c, r in zip(batch, *(t.tolist() for t in reply_logps(batch))):
                    e["ref"] = (c, r)
        model.train()

        def dpo_loss(batch: list[dict]) -> torch.Tensor:
            chosen, rejected = reply_logps(batch)
            ref = torch.tensor([e["ref"] for e in batch], device=device)
            return -F.logsigmoid(args.beta * ((chosen - ref[:, 0]) - (rejected - ref[:, 1]))).mean()

        stages["dpo"] = run_stage("dpo", subset, 1.0, args.dpo_lr, dpo_loss, tolerance=args.dpo_auc_tolerance)

    # ---- GGUF --------------------------------------------------------------------------------------------
    state = model.state_dict()
    written = {}
    for outtype in [args.outtype] + [t for t in args.also_write.split(",") if t and t != args.outtype]:
        path = out_dir / (f"{args.name}.gguf" if outtype == args.outtype else f"{args.name}.{outtype}.gguf")
        write_gguf(args.base, state, path, outtype, args.name)
        written[outtype] = {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}
        log(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")

    card = {
        "name": args.name,
        "kind": "GGUF decision model (llama.cpp): all weights, first-token SFT then DPO",
        "recipe": "models/train/train_dpo.py (npm run train:dpo)",
        "smoke": args.smoke,
        "model": {**written[args.outtype], "outtype": args.outtype},
        "also_written": {k: v for k, v in written.items() if k != args.outtype},
        "base_model": {"file": args.base.name, "sha256": sha256_file(args.base)},
        "data": {"file": "models/data/mcp-fba/" + args.data[0].name, "sha256": sha256_file(args.data[0]),
                 "more_files": [{"file": "models/data/mcp-fba/" + d.name, "sha256": sha256_file(d)} for d in args.data[1:]],
                 "train_pairs": len(train),
                 "validation_file": "models/data/mcp-fba/" + args.val_data.name, "validation_sha256": sha256_file(args.val_data),
                 "validation_pairs": len(val)},
        "readout": "logit('I') - logit('Sure') at the reply's first position (lib/scorer.ts)",
        "hyperparameters": {
            "batch": args.batch, "micro_batch": args.micro_batch, "optimizer": f"AdamW (weight decay {args.weight_decay})", "grad_clip": 1.0,
            "schedule": f"linear warm-up {args.warmup_ratio:.0%} then linear decay, per stage",
            "sft": {"loss": "-log sigmoid(z), two-way first-token cross-entropy", "lr": args.sft_lr, "epochs": args.sft_epochs,
                    "decay_reaches_zero_after_epochs": args.sft_schedule_epochs},
            "dpo": {"loss": "-log sigmoid(beta ((log pi - log ref)(chosen) - (log pi - log ref)(rejected))), sigmoid DPO over "
                            "the replies' first tokens, whole vocabulary, reference = stage 1",
                    "beta": args.beta, "lr": args.dpo_lr, "share_of_pairs": args.dpo_share, "reply_tokens": args.dpo_reply_tokens},
            "max_prompt_tokens": args.max_prompt_tokens, "shared_prefix_tokens": prefix_len, "seed": args.seed,
            "eval_every_steps": args.eval_every, "dtype": "float32",
        },
        "rationale": RATIONALE,
        "stages": stages,
        "wall_time_s": round(time.time() - t_start, 1),
        "machine": {"device": str(device), "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "transformers": __import__("transformers").__version__,
                    "python": platform.python_version(), "platform": platform.platform(),
                    **({"gpu": torch.cuda.get_device_name(0)} if device.type == "cuda" else {})},
    }
    (out_dir / f"{args.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    log(f"wrote {out_dir / (args.name + '.json')}; total {time.time() - t_start:.0f}s")
    if args.smoke and args.out is None:
        import gguf
        import shutil
        written_tensors = len(gguf.GGUFReader(str(out_dir / f"{args.name}.gguf")).tensors)
        base_tensors = len(gguf.GGUFReader(str(args.base)).tensors)
        shutil.rmtree(out_dir)
        if written_tensors != base_tensors:
            sys.exit(f"train_dpo: the GGUF holds {written_tensors} tensors, the base {base_tensors}")
        log(f"smoke: the GGUF reads back with all {written_tensors} tensors; removed {out_dir}")


if __name__ == "__main__":
    main()
