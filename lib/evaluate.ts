import { percentile, rocAuc, tprAtFpr } from "./calibration.js";
import type { Example } from "./dataset.js";
import type { Decision, Guard } from "./guard.js";

/** One judged example of an evaluation. */
export type Scored = { id: string, label: Example["label"], score: number, refuse: boolean, totalMs: number };

/** The contract's `eval --json` summary. */
export type EvalSummary = {
    n: number,
    attack: { n: number, refused: number, rate: number },
    benign: { n: number, refused: number, rate: number },
    auc: number,
    tprAt1Fpr: number,
    latencyMs: { p50: number, p95: number }
};

/** The same example as an MCP proxy sees it: the tool calls and context, not the user's words. */
export function toolCallOnlyView(example: Example): Example {
    const { prompt: _prompt, ...rest } = example.request;
    return { ...example, request: rest };
}

/** Judges every example, `concurrency` at a time, in input order. */
export async function scoreExamples(guard: Guard, examples: Example[], concurrency = 1,
    onScored?: (done: number, total: number) => void): Promise<Scored[]> {
    const results: Scored[] = new Array(examples.length);
    let next = 0, done = 0;
    const worker = async () => {
        for (let i = next++; i < examples.length; i = next++) {
            const example = examples[i]!;
            const decision: Decision = await guard.shouldRefuse(example.request);
            results[i] = { id: example.id, label: example.label, score: decision.score, refuse: decision.refuse, totalMs: decision.timings.totalMs };
            onScored?.(++done, examples.length);
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    return results;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function summarize(scored: Scored[]): EvalSummary {
    const group = (label: Example["label"]) => {
        const members = scored.filter((s) => s.label === label);
        const refused = members.filter((s) => s.refuse).length;
        return { n: members.length, refused, rate: members.length === 0 ? 0 : round(refused / members.length) };
    };
    const scores = scored.map((s) => s.score);
    const positive = scored.map((s) => s.label === "attack");
    const latencies = scored.map((s) => s.totalMs);
    return {
        n: scored.length,
        attack: group("attack"),
        benign: group("benign"),
        auc: round(rocAuc(scores, positive)),
        tprAt1Fpr: round(tprAtFpr(scores, positive, 0.01)),
        latencyMs: { p50: round(percentile(latencies, 50), 1), p95: round(percentile(latencies, 95), 1) }
    };
}
