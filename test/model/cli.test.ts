import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

function run(args: string[]) {
    const result = spawnSync(process.execPath, ["dist/cli.js", ...args], { cwd: root, encoding: "utf8" });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("mcpguard CLI with the real model", () => {
    it("check refuses an authorized_keys attack (exit 3) and allows an ordinary edit (exit 0)", () => {
        const refused = run(["check", "examples/trade-authorized-keys.json", "--json"]);
        expect(refused.code).toBe(3);
        expect(JSON.parse(refused.stdout).refuse).toBe(true);
        const allowed = run(["check", "examples/edit-readme.json"]);
        expect(allowed.code).toBe(0);
        expect(allowed.stdout).toMatch(/^ALLOW/);
    });

    it("eval prints the contract's summary with sane figures on a slice of the test split", () => {
        const r = run(["eval", "models/data/mcp-fba/test.jsonl", "--json", "--limit", "40"]);
        expect(r.code).toBe(0);
        const summary = JSON.parse(r.stdout);
        expect(Object.keys(summary)).toEqual(["n", "attack", "benign", "auc", "tprAt1Fpr", "latencyMs"]);
        expect(summary.n).toBe(40);
        expect(summary.attack.n + summary.benign.n).toBe(40);
        expect(summary.attack.rate).toBeGreaterThan(summary.benign.rate);
        expect(summary.auc).toBeGreaterThan(0.7);
        expect(summary.latencyMs.p50).toBeGreaterThan(0);
        expect(summary.latencyMs.p95).toBeGreaterThanOrEqual(summary.latencyMs.p50);
    });

    it("eval --generative samples replies and prints the paper's strict, majority and mean rates next to the summary", () => {
        const r = run(["eval", "models/data/mcp-fba/test.jsonl", "--json", "--limit", "6", "--generative", "3"]);
        expect(r.code).toBe(0);
        const { generative, ...summary } = JSON.parse(r.stdout);
        expect(summary.n).toBe(6);
        expect(generative.samples).toBe(3);
        for (const rates of [generative.attackRefusal, generative.benignAcceptance]) {
            expect(Object.keys(rates)).toEqual(["n", "strict", "majority", "mean"]);
            expect(rates.strict).toBeLessThanOrEqual(rates.majority);
            expect(rates.mean).toBeGreaterThanOrEqual(0);
            expect(rates.mean).toBeLessThanOrEqual(1);
        }
        expect(generative.attackRefusal.n + generative.benignAcceptance.n).toBe(6);
        expect(generative.msPerRequest.generative).toBeGreaterThan(0);
        expect(run(["eval", "models/data/mcp-fba/test.jsonl", "--generative", "0"]).code).toBe(2);
    });
});
