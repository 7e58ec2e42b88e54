import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { parseRequest, RequestValidationError } from "../../lib/request.js";
import { anyRequestInput, checkParseRequest, deepNesting, hostLine, jsonLine, nested, oversizedRequests, requestWithOneBadField } from "../fuzz/cases.js";
import { cliPath, inProcessProxy, killStartedChildren, requestLine } from "../mcp-helpers.js";

afterEach(killStartedChildren);

describe("fuzzing the request boundary (reduced; `npx tsx test/fuzz/run.ts` runs 100,000 cases)", () => {
    it("parseRequest returns a clean request or names the bad field, for any input", () => {
        const outcomes = { valid: 0, rejected: 0 };
        fc.assert(fc.property(anyRequestInput, (input) => { outcomes[checkParseRequest(input)]++; }), { numRuns: 3_000, seed: 11 });
        expect(outcomes.valid).toBeGreaterThan(100);
        expect(outcomes.rejected).toBeGreaterThan(1_000);
    });

    it("rejects a request with a field of the wrong type or size, naming that field", () => {
        fc.assert(fc.property(requestWithOneBadField, (input) => { checkParseRequest(input); }), { numRuns: 1_000, seed: 12 });
        for (const { input, field } of oversizedRequests())
            expect(() => parseRequest(input), field).toThrow(expect.objectContaining({ field }));
    });

    it("survives nesting thousands of levels deep", () => {
        // fc.sample, not fc.assert: reporting a counterexample this deep would overflow fast-check's own printer.
        for (const value of [...fc.sample(deepNesting, { numRuns: 30, seed: 13 }), nested(200_000)]) {
            expect(checkParseRequest(value)).toBe("rejected");
            expect(["valid", "rejected"]).toContain(checkParseRequest({ prompt: "p", toolCalls: [{ name: "w", arguments: { deep: value } }] }));
        }
        expect(checkParseRequest({ prompt: "p", toolCalls: [{ name: "w", arguments: { deep: nested(1_000) } }] })).toBe("valid");
        expect(() => parseRequest({ prompt: "p", toolCalls: [{ name: "w", arguments: { deep: nested(200_000) } }] }))
            .toThrow(expect.objectContaining({ field: "toolCalls.0.arguments" }));
    });

    it("keeps prototype-polluting keys as plain data", () => {
        const request = parseRequest(JSON.parse('{"prompt":"p","__proto__":{"polluted":1},"toolCalls":[{"name":"w","arguments":{"__proto__":{"polluted":2}}}]}'));
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.keys(request.toolCalls![0]!.arguments!)).toEqual(["__proto__"]);
        expect(() => parseRequest({ prompt: NaN })).toThrow(RequestValidationError);
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        for (const bad of [{ n: 1n }, cyclic])
            expect(() => parseRequest({ prompt: "p", toolCalls: [{ name: "w", arguments: bad }] })).toThrow(/toolCalls\.0\.arguments: arguments must be JSON/);
    });
});

describe("fuzzing the proxy's line handling (reduced)", () => {
    it("answers or relays every line and stays responsive, whatever the host writes", async () => {
        const { host, send } = await inProcessProxy({ maxLineBytes: 64 * 1024 });
        const lines = fc.sample(hostLine, { numRuns: 300, seed: 14 });
        lines.forEach((line, i) => {
            send(line);
            if (i % 50 === 49)
                send(requestLine(`probe-${i}`, "ping"));
        });
        send(requestLine("probe-last", "ping"));
        for (let i = 49; i < lines.length; i += 50)
            expect(JSON.parse(await host.response(`probe-${i}`)).result).toEqual({});
        expect(JSON.parse(await host.response("probe-last")).result).toEqual({});
        for (const message of host.messages)
            expect(message).not.toHaveProperty("unparsed");
    });
});

describe("fuzzing the CLI (reduced)", () => {
    it("exits 2 with one line naming the problem for any invalid request, never a stack trace", () => {
        const inputs = fc.sample(fc.oneof(requestWithOneBadField.map(jsonLine),
            fc.string({ unit: "binary", maxLength: 40 })), { numRuns: 12, seed: 15 });
        for (const stdin of inputs) {
            let valid = false;
            try { parseRequest(JSON.parse(stdin)); valid = true; } catch { /* invalid, as wanted */ }
            if (valid)
                continue;
            const run = spawnSync(process.execPath, [cliPath, "check", "-"], { input: stdin, encoding: "utf8", timeout: 30_000 });
            expect(run.status, stdin.slice(0, 200)).toBe(2);
            expect(run.stderr).toMatch(/Invalid request: [\w.]+:|request is not valid JSON/);
            expect(run.stderr).not.toMatch(/\n\s+at /);
        }
    });
});
