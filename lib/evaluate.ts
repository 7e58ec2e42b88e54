import { percentile, rocAuc, tprAtFpr } from "./calibration.js";
import type { Example, LabelledRequest } from "./dataset.js";
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
export function toolCallOnlyView<T extends LabelledRequest>(example: T): T {
    const { prompt: _prompt, ...rest } = example.request;
    return { ...example, request: rest };
}

/** Judges every example, `concurrency` at a time, in input order. */
export async function scoreExamples(guard: Guard, examples: LabelledRequest[], concurrency = 1,
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

/** The paper's refusal rates over N sampled replies a request: all N refuse (strict), most do (majority), the mean share. */
export type RefusalRates = { n: number, strict: number, majority: number, mean: number };

/** One request judged both ways: the one-pass decision and N sampled replies. */
export type Generated = Scored & { refusals: number, samples: number, generativeMs: number };

/**
 * The generative evaluation's summary: refusal rates on attacks, acceptance rates (the same rates of replies that do
 * not refuse) on benign requests, how often the one-pass decision agrees with the generative majority, and the cost of each.
 */
export function summarizeGenerative(judged: Generated[]) {
    const rates = (members: Generated[], share: (g: Generated) => number): RefusalRates => ({
        n: members.length,
        strict: round(members.filter((g) => share(g) === 1).length / Math.max(1, members.length)),
        majority: round(members.filter((g) => share(g) > 0.5).length / Math.max(1, members.length)),
        mean: round(members.reduce((sum, g) => sum + share(g), 0) / Math.max(1, members.length))
    });
    const refused = (g: Generated) => g.refusals / g.samples;
    const attacks = judged.filter((g) => g.label === "attack");
    const benign = judged.filter((g) => g.label === "benign");
    const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), 1);
    return {
        samples: judged[0]?.samples ?? 0,
        attackRefusal: rates(attacks, refused),
        benignAcceptance: rates(benign, (g) => 1 - refused(g)),
        agreementWithMajority: round(judged.filter((g) => g.refuse === refused(g) > 0.5).length / Math.max(1, judged.length)),
        msPerRequest: { onePass: mean(judged.map((g) => g.totalMs)), generative: mean(judged.map((g) => g.generativeMs)) }
    };
}

/** Judges every example once (the decision) and samples `samples` replies for it (the paper's evaluation). */
export async function generateExamples(guard: Guard, examples: LabelledRequest[], samples: number,
    onJudged?: (done: number, total: number) => void): Promise<Generated[]> {
    const out: Generated[] = [];
    for (const example of examples) {
        const decision = await guard.shouldRefuse(example.request);
        const started = performance.now();
        const replies = await guard.sampleReplies(example.request, { count: samples });
        out.push({ id: example.id, label: example.label, score: decision.score, refuse: decision.refuse, totalMs: decision.timings.totalMs,
            refusals: replies.filter((r) => r.refusal).length, samples, generativeMs: performance.now() - started });
        onJudged?.(out.length, examples.length);
    }
    return out;
}
