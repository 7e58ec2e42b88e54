/**
 * Drives one guard at saturation and watches it: `npx tsx test/soak/soak.ts [--minutes 20] [--concurrency 8]`.
 *
 * `concurrency` callers each send the next request as soon as their last one is decided, for `minutes`; requests
 * are the test split's, mixed with long agent sessions (16 earlier tool results) and requests at the documented
 * limits. Every interval prints decisions/s, p50/p99 latency and RSS; the end prints the RSS slope (least squares
 * over the intervals after the first, which holds the warm-up), then disposes the guard and prints RSS again.
 * Exit 1 when a decision is lost (its promise never settles) or fails. CI runs one minute.
 */
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { loadLabelledRequests } from "../../lib/dataset.js";
import { createGuard } from "../../lib/guard.js";
import { percentile } from "../../lib/calibration.js";
import { requestLimits, type GuardRequest } from "../../lib/request.js";

const { values } = parseArgs({ options: {
    minutes: { type: "string", default: "1" },
    concurrency: { type: "string", default: "8" },
    interval: { type: "string", default: "" }
} });
const minutes = Number(values.minutes);
const concurrency = Number(values.concurrency);
const intervalS = values.interval !== "" ? Number(values.interval) : minutes <= 2 ? 10 : 60;
if (!(minutes > 0) || !(concurrency >= 1) || !(intervalS > 0))
    throw new Error("--minutes, --concurrency and --interval must be positive numbers");

const mb = (bytes: number) => bytes / (1 << 20);

/** The test split, plus long sessions and requests at the limits, interleaved so sizes mix. */
async function workload(): Promise<GuardRequest[]> {
    const test = (await loadLabelledRequests(path.join(import.meta.dirname, "..", "..", "models", "data", "mcp-fba", "test.jsonl")))
        .map((e) => e.request);
    const page = "Setup notes for the team wiki. ".repeat(47);
    const longSession: GuardRequest = {
        prompt: "tidy up the build folder",
        toolCalls: [{ server: "filesystem", name: "list_directory", arguments: { path: "/home/dev/app/build" } }],
        context: Array.from({ length: 16 }, (_, i) => ({ source: `tool:read_text_file#${i}`, content: page }))
    };
    const atLimits: GuardRequest = {
        prompt: "p".repeat(requestLimits.promptChars),
        toolCalls: Array.from({ length: requestLimits.toolCalls }, (_, i) => ({ name: `tool_${i}`, arguments: { body: "a".repeat(1_900) } })),
        context: Array.from({ length: requestLimits.contextItems }, () => ({ content: "c".repeat(requestLimits.contextItemChars) })),
        tools: Array.from({ length: requestLimits.tools }, (_, i) => ({ name: `tool_${i}`, description: "d".repeat(requestLimits.toolDescriptionChars) }))
    };
    return test.flatMap((request, i) => i % 10 === 0 ? [request, longSession] : i % 50 === 1 ? [request, atLimits] : [request]);
}

function slope(points: { x: number, y: number }[]): number {
    const n = points.length;
    if (n < 2) return NaN;
    const mx = points.reduce((s, p) => s + p.x, 0) / n, my = points.reduce((s, p) => s + p.y, 0) / n;
    const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
    return points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

async function main(): Promise<number> {
    const rssStart = process.memoryUsage().rss;
    const requests = await workload();
    const guard = await createGuard({ concurrency: 4 });
    const rssLoaded = process.memoryUsage().rss;
    console.log(`soak: ${minutes} min, ${concurrency} callers, ${requests.length} distinct requests; RSS ${mb(rssStart).toFixed(0)} MB ` +
        `before the guard, ${mb(rssLoaded).toFixed(0)} MB loaded`);

    const issued = new Map<number, "pending" | "decided">();  // every request sent, and whether its promise settled
    const problems: string[] = [];
    let next = 0, window: number[] = [];
    const all: number[] = [];
    const samples: { x: number, y: number }[] = [];
    const started = performance.now();
    const deadline = started + minutes * 60_000;

    const caller = async () => {
        while (performance.now() < deadline) {
            const seq = next++;
            issued.set(seq, "pending");
            const t0 = performance.now();
            try {
                const decision = await guard.shouldRefuse(requests[seq % requests.length]);
                if (!Number.isFinite(decision.score)) problems.push(`request ${seq}: score ${decision.score}`);
            } catch (err) {
                problems.push(`request ${seq}: ${(err as Error).message}`);
            }
            issued.set(seq, "decided");
            const ms = performance.now() - t0;
            window.push(ms);
            all.push(ms);
        }
    };
    const ticker = setInterval(() => {
        const t = (performance.now() - started) / 60_000;
        const rss = mb(process.memoryUsage().rss);
        samples.push({ x: t, y: rss });
        console.log(`  ${t.toFixed(2)} min  ${(window.length / intervalS).toFixed(2)} decisions/s  p50 ${percentile(window, 50).toFixed(0)} ms  ` +
            `p99 ${percentile(window, 99).toFixed(0)} ms  RSS ${rss.toFixed(0)} MB`);
        window = [];
    }, intervalS * 1000);
    const settled = await Promise.race([
        Promise.all(Array.from({ length: concurrency }, caller)).then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), minutes * 60_000 + 120_000))
    ]);
    clearInterval(ticker);
    if (!settled) problems.push("callers still waiting two minutes after the deadline");
    const lost = [...issued.values()].filter((s) => s === "pending").length;
    if (lost > 0) problems.push(`${lost} decisions never settled`);

    const rssSlope = slope(samples.slice(1));
    const rssBeforeDispose = process.memoryUsage().rss;
    await guard.dispose();
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const rssEnd = process.memoryUsage().rss;
    console.log(`soak: ${all.length} decisions in ${((performance.now() - started) / 1000).toFixed(0)} s ` +
        `(${(all.length / minutes / 60).toFixed(2)}/s), p50 ${percentile(all, 50).toFixed(0)} ms, p99 ${percentile(all, 99).toFixed(0)} ms; ` +
        `RSS slope ${Number.isFinite(rssSlope) ? rssSlope.toFixed(2) : "n/a"} MB/min; RSS ${mb(rssBeforeDispose).toFixed(0)} MB before dispose, ` +
        `${mb(rssEnd).toFixed(0)} MB after (${mb(rssBeforeDispose - rssEnd).toFixed(0)} MB released); lost ${lost} of ${issued.size}` +
        (problems.length > 0 ? `; PROBLEMS ${problems.length}` : "; problems 0"));
    problems.slice(0, 20).forEach((p) => console.log(`  problem: ${p}`));
    return problems.length > 0 ? 1 : 0;
}

process.exitCode = await main();
