import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGuard, AbortError, RequestValidationError, type Guard } from "../../lib/index.js";
import { requestLimits, type GuardRequest } from "../../lib/request.js";

const example = (name: string) => JSON.parse(readFileSync(new URL(`../../examples/${name}`, import.meta.url), "utf8"));

describe("the guard with the real default model", () => {
    let guard: Guard;
    beforeAll(async () => { guard = await createGuard(); });
    afterAll(async () => { await guard?.dispose(); });

    it("refuses a hidden instruction that writes a stranger's key into authorized_keys", async () => {
        const decision = await guard.shouldRefuse(example("trade-authorized-keys.json"));
        expect(decision.refuse).toBe(true);
        expect(decision.score).toBeGreaterThanOrEqual(decision.threshold);
        expect(decision.evidence.filter((e) => e.label === "attack")).toHaveLength(2);
        expect(decision.evidence.filter((e) => e.label === "benign")).toHaveLength(2);
        expect(decision.timings.totalMs).toBeGreaterThan(0);
    });

    it("allows an ordinary file edit", async () => {
        const decision = await guard.shouldRefuse(example("edit-readme.json"));
        expect(decision.refuse).toBe(false);
        expect(decision.category).toBe("BENIGN");
    });

    it("judges at a calibrated level's threshold: strict refuses at a lower score than balanced, permissive at a higher", async () => {
        const [strict, balanced, permissive] = (["strict", "balanced", "permissive"] as const).map((level) => guard.thresholdFor(level));
        expect(balanced).toBe(guard.threshold);
        expect(strict).toBeLessThanOrEqual(balanced!);
        expect(permissive).toBeGreaterThanOrEqual(balanced!);
        const decision = await guard.shouldRefuse(example("edit-readme.json"), { level: "permissive" });
        expect(decision.threshold).toBe(permissive);
        expect(decision.refuse).toBe(decision.score >= permissive!);
    });

    it("judges concurrent requests on one model and gives the same decisions as one at a time", async () => {
        const requests = [example("trade-authorized-keys.json"), example("edit-readme.json"), { prompt: "list the files in ~/projects" }];
        const alone = [];
        for (const r of requests) alone.push(await guard.shouldRefuse(r));
        const together = await Promise.all(requests.map((r) => guard.shouldRefuse(r)));
        // llama.cpp's batched kernels are not bit-identical to single-sequence ones: scores move by a few hundredths.
        together.forEach((decision, i) => {
            expect(Math.abs(decision.score - alone[i]!.score)).toBeLessThan(0.05);
            expect(decision.refuse).toBe(alone[i]!.refuse);
        });
    });

    it("rejects bad input with the field named, and keeps working", async () => {
        await expect(guard.shouldRefuse({ prompt: 7 })).rejects.toBeInstanceOf(RequestValidationError);
        await expect(guard.shouldRefuse("nope")).rejects.toThrow(/request: must be a JSON object/);
        expect((await guard.shouldRefuse(example("edit-readme.json"))).refuse).toBe(false);
    });

    it("honours an AbortSignal", async () => {
        await expect(guard.shouldRefuse(example("edit-readme.json"), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    });

    it("decides a request with a long session history (16 earlier tool results of 1,450 characters)", async () => {
        const note = (i: number) => ({ source: `filesystem.read_file /srv/notes/${i}.md`, content: `Notes ${i}: the deploy went fine. `.repeat(60).slice(0, 1450) });
        const decision = await guard.shouldRefuse({ prompt: "list the notes folder", context: Array.from({ length: 16 }, (_, i) => note(i)),
            toolCalls: [{ server: "filesystem", name: "list_directory", arguments: { path: "/srv/notes" } }] });
        expect(decision.score).toBeGreaterThanOrEqual(0);
        expect(decision.evidence).toHaveLength(4);
    });

    it("decides every valid request up to the documented limits (property test)", async () => {
        const text = (max: number) => fc.string({ unit: "grapheme", maxLength: max });
        const long = (max: number) => fc.oneof(text(200), fc.integer({ min: 0, max: max - 1 }).map((n) => "word ".repeat(Math.floor(n / 5)) + "x"));
        const request: fc.Arbitrary<GuardRequest> = fc.record({
            prompt: long(requestLimits.promptChars).map((p) => p.trim() === "" ? "p" : p),
            toolCalls: fc.array(fc.record({ name: text(20).map((n) => n === "" ? "t" : n), arguments: fc.dictionary(text(10), long(2_000), { maxKeys: 3 }) }), { maxLength: requestLimits.toolCalls }),
            context: fc.array(fc.record({ content: long(requestLimits.contextItemChars) }), { maxLength: requestLimits.contextItems }),
            tools: fc.array(fc.record({ name: text(20).map((n) => n === "" ? "t" : n), description: long(requestLimits.toolDescriptionChars) }), { maxLength: 40 })
        });
        await fc.assert(fc.asyncProperty(request, async (r) => {
            const decision = await guard.shouldRefuse(r);
            expect(decision.score).toBeGreaterThanOrEqual(0);
            expect(decision.score).toBeLessThanOrEqual(1);
        }), { numRuns: 12, seed: 7 });
    });

    it("judges a tool-call-only request (what an MCP proxy sees)", async () => {
        const { prompt: _p, ...calls } = example("trade-authorized-keys.json");
        const decision = await guard.shouldRefuse(calls);
        expect(decision.score).toBeGreaterThan(0);
        expect(decision.score).toBeLessThanOrEqual(1);
    });
});

describe("guard lifecycle", () => {
    it("refuses use after dispose with a clear error", async () => {
        const guard = await createGuard({ k: 0, concurrency: 1 });
        await guard.dispose();
        await expect(guard.shouldRefuse({ prompt: "hi" })).rejects.toThrow(/disposed/);
    });

    it("validates options, naming the option", async () => {
        await expect(createGuard({ k: -1 })).rejects.toThrow(/options\.k/);
        await expect(createGuard({ threshold: 2 })).rejects.toThrow(/options\.threshold/);
        await expect(createGuard({ concurrency: 0 })).rejects.toThrow(/options\.concurrency/);
    });
});
