// One decision end to end (render, embed, retrieve, assemble, model, calibrate), the previous default against the
// current one, in the same run on the same requests: the first 24 of the test split, judged in turn.
//   previous: SmolLM2-135M-Instruct + the rank-16 DPO LoRA adapter, both reply openings teacher-forced
//   current:  the fully trained decision model (models/decision), the first reply token read at one position
// Run: npm run bench:decision (BENCH_SECONDS=20 per configuration and concurrency by default). Prints p50, p99
// and decisions/s at concurrency 1 and 4, and the current/previous ratios. Quality of each configuration comes from
// `mcpguard eval` (README, Results), not from here.
import { Bench } from "tinybench";
import { loadExamples } from "../lib/dataset.js";
import { createGuard, type Guard, type GuardOptions } from "../lib/guard.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const requests = (await loadExamples(new URL("../models/data/mcp-fba/test.jsonl", import.meta.url).pathname)).slice(0, 24).map((e) => e.request);

const configurations: Record<string, GuardOptions> = {
    previous: { model: "smollm2-135m-instruct", adapter: "smollm2-135m-mcpguard-dpo", readout: "openings" },
    current: {}
};

/** p50 and p99 are of one round: `concurrency` decisions started together. */
type Row = { name: string, concurrency: number, p50: number, p99: number, perSecond: number };
const rows: Row[] = [];

for (const [name, options] of Object.entries(configurations)) {
    const guard: Guard = await createGuard({ ...options, concurrency: 4 });
    for (const request of requests.slice(0, 4))
        await guard.shouldRefuse(request);  // warm-up: the framing's KV cache, first-use allocations
    for (const concurrency of [1, 4]) {
        let next = 0;
        const bench = new Bench({ time: seconds * 1000, iterations: 4, warmup: false });
        bench.add(`${name} c${concurrency}`, async () => {
            await Promise.all(Array.from({ length: concurrency }, () => guard.shouldRefuse(requests[next++ % requests.length])));
        });
        await bench.run();
        const latency = (bench.tasks[0]!.result as unknown as { latency: { p50: number, p99: number, mean: number } }).latency;
        rows.push({ name, concurrency, p50: latency.p50, p99: latency.p99, perSecond: concurrency * 1000 / latency.mean });
    }
    await guard.dispose();
}

console.table(rows.map((r) => ({ configuration: r.name, concurrency: r.concurrency, "round p50 ms": r.p50.toFixed(0), "round p99 ms": r.p99.toFixed(0),
    "decisions/s": r.perSecond.toFixed(2) })));
for (const concurrency of [1, 4]) {
    const [previous, current] = ["previous", "current"].map((n) => rows.find((r) => r.name === n && r.concurrency === concurrency)!);
    console.log(`concurrency ${concurrency}: p50 previous/current = ${(previous!.p50 / current!.p50).toFixed(2)}x, ` +
        `decisions/s current/previous = ${(current!.perSecond / previous!.perSecond).toFixed(2)}x`);
}
