/**
 * The long fuzz run: `npx tsx test/fuzz/run.ts [--cases 100000] [--guard-cases 300] [--proxy-lines 20000] [--seed 1]`.
 *
 * 1. `--cases` random and adversarial inputs through `parseRequest` (test/fuzz/cases.ts states its contract);
 * 2. `--guard-cases` of them through a real guard's `shouldRefuse` (valid ones must get a decision with a finite
 *    score, invalid ones a RequestValidationError; nothing else);
 * 3. `--proxy-lines` random host lines through the proxy in this process (with the fake server), which must keep
 *    answering a ping after every batch.
 * Prints crashes (contract breaches), unhandled rejections and non-contract errors; exit 1 if any is not 0.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { createGuard } from "../../lib/guard.js";
import { RequestValidationError } from "../../lib/request.js";
import { inProcessProxy, killStartedChildren, requestLine } from "../mcp-helpers.js";
import { anyRequestInput, checkParseRequest, hostLine } from "./cases.js";

const { values } = parseArgs({ options: {
    cases: { type: "string", default: "100000" },
    "guard-cases": { type: "string", default: "300" },
    "proxy-lines": { type: "string", default: "20000" },
    seed: { type: "string", default: "1" }
} });
const count = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got "${values[name]}"`);
    return n;
};
const seed = count("seed");

let unhandled = 0;
process.on("unhandledRejection", (reason) => { unhandled++; console.log(`  unhandled rejection: ${String(reason).slice(0, 200)}`); });

function parseRun(cases: number) {
    const tally = { valid: 0, rejected: 0, breaches: 0 };
    const samples = fc.sample(anyRequestInput, { numRuns: cases, seed });
    for (const input of samples) {
        try {
            tally[checkParseRequest(input)]++;
        } catch (err) {
            if (tally.breaches++ < 10) console.log(`  breach: ${(err as Error).message.slice(0, 300)}`);
        }
    }
    return tally;
}

async function guardRun(cases: number) {
    const tally = { decided: 0, rejected: 0, otherErrors: 0 };
    if (cases === 0) return tally;
    const guard = await createGuard();
    try {
        for (const input of fc.sample(anyRequestInput, { numRuns: cases, seed: seed + 1 })) {
            try {
                const decision = await guard.shouldRefuse(input);
                if (!Number.isFinite(decision.score)) throw new Error(`score ${decision.score}`);
                tally.decided++;
            } catch (err) {
                if (err instanceof RequestValidationError) tally.rejected++;
                else if (tally.otherErrors++ < 10) console.log(`  guard error: ${(err as Error).message.slice(0, 300)}`);
            }
        }
    } finally {
        await guard.dispose();
    }
    return tally;
}

async function proxyRun(lines: number) {
    const tally = { lines, unanswered: 0, unparsed: 0 };
    if (lines === 0) return tally;
    const { host, send } = await inProcessProxy({ maxLineBytes: 256 * 1024 });
    try {
        const batch = 500;
        for (let start = 0; start < lines; start += batch) {
            fc.sample(hostLine, { numRuns: Math.min(batch, lines - start), seed: seed + 2 + start }).forEach(send);
            send(requestLine(`probe-${start}`, "ping"));
            await host.response(`probe-${start}`).catch(() => { tally.unanswered++; });
        }
        tally.unparsed = host.messages.filter((m) => "unparsed" in m).length;
    } finally {
        killStartedChildren();
    }
    return tally;
}

const started = Date.now();
const parsed = parseRun(count("cases"));
console.log(`parseRequest: ${count("cases")} cases, ${parsed.valid} valid, ${parsed.rejected} rejected with a named field, ${parsed.breaches} contract breaches`);
const proxy = await proxyRun(count("proxy-lines"));
console.log(`proxy lines: ${proxy.lines} host lines, ${proxy.unanswered} probes unanswered, ${proxy.unparsed} replies that were not JSON`);
const judged = await guardRun(count("guard-cases"));
console.log(`shouldRefuse: ${count("guard-cases")} cases, ${judged.decided} decided, ${judged.rejected} rejected with a named field, ${judged.otherErrors} other errors`);
const failures = parsed.breaches + proxy.unanswered + proxy.unparsed + judged.otherErrors + unhandled;
console.log(`fuzz: ${failures} failures (${unhandled} unhandled rejections) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(failures > 0 ? 1 : 0);
