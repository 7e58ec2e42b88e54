import { writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, describe, expect, it } from "vitest";
import { createGuard, levels, readCalibration, type Level } from "../../lib/guard.js";
import { guardClient } from "../../lib/mcp/guard-client.js";
import type { CallJudge } from "../../lib/mcp/judge.js";
import { parsePolicy } from "../../lib/mcp/policy.js";
import { callLine, fakeDecision, inProcessProxy, killStartedChildren, tempDir } from "../mcp-helpers.js";

afterEach(killStartedChildren);

/** A stand-in judge that records the level each call was judged at. */
function levelRecorder() {
    const seen: (Level | undefined)[] = [];
    const judge: CallJudge = { shouldRefuse: async (_request, options) => { seen.push(options?.level); return fakeDecision(false); } };
    return { judge, seen };
}

describe("levels: calibrated operating points", () => {
    it("are ordered from strict (more refusals) to permissive", () => {
        expect(levels.strict).toBeGreaterThan(levels.balanced);
        expect(levels.balanced).toBeGreaterThan(levels.permissive);
    });

    it("reject an unknown level, a level beside a threshold, and a level the configuration was not calibrated for, before loading models", async () => {
        await expect(createGuard({ level: "lenient" as Level })).rejects.toThrow(/options\.level must be one of strict, balanced, permissive/);
        await expect(createGuard({ level: "strict", threshold: 0.5 })).rejects.toThrow(/threshold or options\.level, not both/);
        await expect(createGuard({ model: "smollm2-135m-instruct", adapter: false, k: 0, level: "strict" }))
            .rejects.toThrow(/profile "smollm2-135m-instruct\|norag\|base" has no "strict" level; fit it with `npm run calibrate`/);
    });

    it("are checked in the calibration file", () => {
        const file = path.join(tempDir("levels"), "calibration.json");
        const profile = "m|retrieval|base";
        const entry = (levels: unknown) => ({ [profile]: { model: { weights: [1, 0], bias: 0 }, threshold: 0.8, levels } });
        writeFileSync(file, JSON.stringify(entry({ strict: { threshold: 0.6 }, permissive: { threshold: 0.95 } })));
        expect(readCalibration(profile, file)?.levels?.permissive?.threshold).toBe(0.95);
        for (const broken of [{ strict: { threshold: "x" } }, { lenient: { threshold: 0.5 } }]) {
            writeFileSync(file, JSON.stringify(entry(broken)));
            expect(() => readCalibration(profile, file)).toThrow(/has a level .* without a finite threshold/);
        }
    });

    it("go from the policy file and guardClient's options to every judgement, never beside a threshold", async () => {
        expect(parsePolicy({ level: "strict", failMode: "open" })).toEqual({ level: "strict", failMode: "open" });
        expect(() => parsePolicy({ level: "extreme" })).toThrow(/policy\.level/);
        expect(() => parsePolicy({ level: "strict", threshold: 0.5 })).toThrow(/policy\.level: give threshold or level, not both/);
        expect(() => guardClient(new Client({ name: "t", version: "1" }), levelRecorder().judge, { level: "balanced", threshold: 0.5 })).toThrow(/level: give threshold or level, not both/);

        const { judge, seen } = levelRecorder();
        const { host, send } = await inProcessProxy({ judge: async () => judge, policy: { level: "permissive" } });
        send(callLine(1, "echo", { text: "hi" }));
        await host.response(1);
        expect(seen).toEqual(["permissive"]);
    });
});
