import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const cli = new URL("../../dist/cli.js", import.meta.url).pathname;
const home = mkdtempSync(path.join(os.tmpdir(), "mcpguard-cli-"));

function run(args: string[], input?: string) {
    const result = spawnSync(process.execPath, [cli, ...args], { input, encoding: "utf8", env: { ...process.env, MCPGUARD_HOME: home } });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("mcpguard CLI without a model", () => {
    it("exits 2 with a message on stdin that is not JSON", () => {
        const r = run(["check", "-"], "{not json");
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/not valid JSON/);
    });

    it("exits 2 naming the field of an invalid request", () => {
        const r = run(["check", "-"], JSON.stringify({ prompt: "" }));
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/Invalid request: prompt/);
    });

    it("exits 2 for a missing file", () => {
        const r = run(["check", path.join(home, "nope.json")]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/cannot read/);
    });

    it("exits 2 for a bad eval file, naming the line", () => {
        const file = path.join(home, "bad.jsonl");
        writeFileSync(file, JSON.stringify({ id: "1", label: "maybe", category: "BENIGN", form: "prompt", request: { prompt: "x" } }) + "\n");
        const r = run(["eval", file, "--json"]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/bad\.jsonl:1: label/);
    });

    it("exits 2 for unknown commands and bad flags", () => {
        expect(run(["frobnicate"]).code).toBe(2);
        expect(run(["check", "-", "--k", "lots"], JSON.stringify({ prompt: "x" })).code).toBe(2);
    });

    it("prints help with exit 0", () => {
        const r = run(["--help"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/check \[options\] \[file\]/);
    });
});
