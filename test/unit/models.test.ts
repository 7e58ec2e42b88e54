import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hubUrl } from "../../lib/model-sources.js";
import { ensureModel, ModelFetchError, readManifest, resolveModelPath } from "../../lib/models.js";

describe("model manifest and resolution", () => {
    it("lists every model with a sha256, a size and its sources: the hub first, then a registry package or the package's own copy", () => {
        const manifest = readManifest();
        expect(manifest.models[manifest.defaults.decision]?.role).toBe("decision");
        expect(manifest.models[manifest.defaults.embedder]?.role).toBe("embedder");
        for (const [name, entry] of Object.entries(manifest.models)) {
            expect(entry.sha256, name).toMatch(/^[0-9a-f]{64}$/);
            expect(entry.size, name).toBeGreaterThan(1_000_000);
            expect(entry.sources[0]?.type, name).toBe("hub");
            expect(entry.sources.slice(1).every((s) => s.type.startsWith("pypi") || s.type === "package"), name).toBe(true);
        }
    });

    it("maps hub URIs to download URLs", () => {
        expect(hubUrl("hf:owner/repo/dir/model.gguf")).toBe("https://huggingface.co/owner/repo/resolve/main/dir/model.gguf");
        expect(hubUrl("https://example.com/m.gguf")).toBe("https://example.com/m.gguf");
        expect(() => hubUrl("hf:owner")).toThrow(/hf:owner\/repo\/file\.gguf/);
    });

    it("says what it accepts when a model spec is neither a name nor a file", async () => {
        await expect(resolveModelPath("/no/such/model.gguf")).rejects.toThrow(/neither a known model name .* nor an existing file/);
        await expect(ensureModel("no-such-model")).rejects.toThrow(/Unknown model "no-such-model"; known: smollm2-135m-mcpguard, smollm2-135m-instruct/);
    });

    it("names every source tried when a fetch fails", () => {
        const err = new ModelFetchError("m", ["hf:a/b/c.gguf: fetch failed", "pypi pkg==1: pip exited with 1"]);
        expect(err.message).toContain("hf:a/b/c.gguf: fetch failed");
        expect(err.message).toContain("pypi pkg==1: pip exited with 1");
    });
});

describe("the shipped DPO adapter", () => {
    it("is the output of the committed recipe on the committed data: its card's sha256s match the files and the manifest", () => {
        const root = new URL("../../", import.meta.url);
        const sha = (file: string) => createHash("sha256").update(readFileSync(new URL(file, root))).digest("hex");
        const entry = readManifest().adapters!["smollm2-135m-mcpguard-dpo"]!;
        const card = JSON.parse(readFileSync(new URL(entry.card, root), "utf8"));
        expect(sha(entry.file)).toBe(entry.sha256);
        expect(card.adapter.sha256).toBe(entry.sha256);
        expect(card.data.sha256).toBe(sha("models/data/mcp-fba/dpo.jsonl"));
        expect(card.base_model.sha256).toBe(readManifest().models[entry.base]!.sha256);
        expect(card.smoke).toBe(false);
        expect(card.final.val_reward_accuracy).toBeGreaterThan(0.8);
    });
});

describe("the shipped decision model", () => {
    it("is the output of the committed recipe on the committed data: its card's sha256s match the files and the manifest", () => {
        const root = new URL("../../", import.meta.url);
        const sha = (file: string) => createHash("sha256").update(readFileSync(new URL(file, root))).digest("hex");
        const manifest = readManifest();
        const entry = manifest.models[manifest.defaults.decision]!;
        const shipped = entry.sources.find((s) => s.type === "package");
        expect(shipped?.type).toBe("package");
        if (shipped?.type !== "package" || entry.card == null) throw new Error("the default decision model ships no file or card");
        const card = JSON.parse(readFileSync(new URL(entry.card, root), "utf8"));
        expect(sha(shipped.path)).toBe(entry.sha256);
        expect(readFileSync(new URL(shipped.path, root)).length).toBe(entry.size);
        expect(card.model.sha256).toBe(entry.sha256);
        expect(card.data.sha256).toBe(sha("models/data/mcp-fba/dpo.jsonl"));
        expect(card.data.validation_sha256).toBe(sha("models/data/mcp-fba/dpo-validation.jsonl"));
        expect(card.base_model.sha256).toBe(manifest.models["smollm2-135m-instruct"]!.sha256);
        expect(card.smoke).toBe(false);
        expect(card.stages.dpo.kept.auc).toBeGreaterThan(0.9);
    });
});
