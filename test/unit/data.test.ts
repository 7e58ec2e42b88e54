import { writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultTestFile, defaultTrainFile, loadExamples, loadLabelledRequests, DatasetError, type Example } from "../../lib/dataset.js";
import { bannedWords, dataReport, maxLeakage, violations } from "../../models/data/stats.js";

describe("the shipped preference data", () => {
    let train: Example[], test: Example[];
    beforeAll(async () => {
        train = await loadExamples(defaultTrainFile);
        test = await loadExamples(defaultTestFile);
    });

    it("keeps every rule of the data card (sizes, forms, near-misses, banned words, ids, split, leakage)", () => {
        const report = dataReport(train, test);
        expect(violations(train, test, report)).toEqual([]);
        expect(report.leakage.max).toBeLessThanOrEqual(maxLeakage);
    });

    it("has no banned word in any attack prompt", () => {
        const offenders = [...train, ...test].filter((e) => e.label === "attack" && bannedWords.test(e.request.prompt ?? ""));
        expect(offenders.map((e) => e.id)).toEqual([]);
    });

    it("never puts a family on both sides of the split", () => {
        const trainFamilies = new Set(train.map((e) => e.family));
        expect(test.filter((e) => trainFamilies.has(e.family)).map((e) => e.id)).toEqual([]);
    });
});

describe("violations", () => {
    it("reports broken rules in words", () => {
        const attack: Example = { id: "a", family: "f1", label: "attack", category: "RAC", form: "prompt", request: { prompt: "help me hack the box" } };
        const report = dataReport([attack], [{ ...attack, id: "a" }]);
        const broken = violations([attack], [{ ...attack, id: "a" }], report).join("\n");
        expect(broken).toMatch(/train has 1 attack examples/);
        expect(broken).toMatch(/duplicate id a/);
        expect(broken).toMatch(/banned word: hack/);
        expect(broken).toMatch(/shares family f1/);
    });
});

describe("loadExamples", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mcpguard-data-"));
    const write = (name: string, lines: unknown[]) => {
        const file = path.join(dir, name);
        writeFileSync(file, lines.map((l) => typeof l === "string" ? l : JSON.stringify(l)).join("\n"));
        return file;
    };
    const good = { id: "x1", label: "benign", category: "BENIGN", form: "prompt", request: { prompt: "hi" } };

    it("reads a valid file", async () => {
        expect(await loadExamples(write("ok.jsonl", [good, "", { ...good, id: "x2" }]))).toHaveLength(2);
    });

    it("names the file, line and field of a bad line", async () => {
        await expect(loadExamples(write("bad-json.jsonl", [good, "{oops"]))).rejects.toThrow(/bad-json\.jsonl:2: not valid JSON/);
        await expect(loadExamples(write("bad-label.jsonl", [{ ...good, label: "evil" }]))).rejects.toThrow(/:1: label:/);
        await expect(loadExamples(write("bad-cat.jsonl", [{ ...good, category: "RAC" }]))).rejects.toThrow(/category must be BENIGN/);
        await expect(loadExamples(write("bad-req.jsonl", [{ ...good, request: { prompt: 3 } }]))).rejects.toThrow(/request\.prompt/);
        await expect(loadExamples(write("dup.jsonl", [good, good]))).rejects.toThrow(DatasetError);
    });
});

describe("evaluation sets in the contract's shape", () => {
    it("read any line { id, label, request } and ignore other fields", async () => {
        const file = path.join(mkdtempSync(path.join(os.tmpdir(), "mcpguard-eval-")), "third-party.jsonl");
        writeFileSync(file, [
            { id: 1, label: "attack", category: "Tool Poisoning", source: "x", request: { prompt: "add my key", extra: true } },
            { id: "b-2", label: "benign", request: { toolCalls: [{ name: "read_file", arguments: { path: "/tmp/a" } }] } }
        ].map((l) => JSON.stringify(l)).join("\n") + "\n");
        expect(await loadLabelledRequests(file)).toEqual([
            { id: "1", label: "attack", request: { prompt: "add my key" } },
            { id: "b-2", label: "benign", request: { toolCalls: [{ name: "read_file", arguments: { path: "/tmp/a" } }] } }
        ]);
    });

    it("name the line and the field of a bad line", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "mcpguard-eval-"));
        const write = (name: string, lines: unknown[]) => {
            writeFileSync(path.join(dir, name), lines.map((l) => JSON.stringify(l)).join("\n"));
            return path.join(dir, name);
        };
        await expect(loadLabelledRequests(write("a.jsonl", [{ id: "1", label: "unsafe", request: { prompt: "x" } }]))).rejects.toThrow(/a\.jsonl:1: label/);
        await expect(loadLabelledRequests(write("b.jsonl", [{ id: "1", label: "benign", request: { prompt: "x" } }, { id: "1", label: "benign", request: { prompt: "y" } }])))
            .rejects.toThrow(/b\.jsonl:2: duplicate id "1"/);
        await expect(loadLabelledRequests(write("c.jsonl", [{ id: "1", label: "benign", request: { prompt: "" } }]))).rejects.toThrow(/c\.jsonl:1: request\.prompt/);
    });
});
