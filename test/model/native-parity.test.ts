import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { PromptAssembler } from "../../lib/assembly.js";
import { defaultTestFile, defaultTrainFile, loadExamples, type Example } from "../../lib/dataset.js";
import { Embedder } from "../../lib/embedder.js";
import { createGuard, modelChatWrapper } from "../../lib/guard.js";
import { readManifest, resolveModelPath } from "../../lib/models.js";
import { getBackendInfo } from "../../lib/native.js";
import { parseRequest } from "../../lib/request.js";
import { queryText, requestCaps } from "../../lib/prompt.js";
import { buildStores, embedExamples, NativePreferenceStores, type PreferenceStores } from "../../lib/store.js";

// The native path against the reference path on the real stores (the shipped train split and its embeddings),
// with the default decision model's real tokenizer and chat template.
describe("native retrieval and token assembly match the reference path", () => {
    let llama: Llama, model: LlamaModel, embedder: Embedder, assembler: PromptAssembler;
    let train: Example[], test: Example[], trainVectors: Float32Array;
    let native: NativePreferenceStores, hnsw: PreferenceStores;
    const queries = new Map<string, Float32Array>();

    beforeAll(async () => {
        const { defaults } = readManifest();
        llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, maxThreads: 1 });
        model = await llama.loadModel({ modelPath: await resolveModelPath(defaults.decision), vocabOnly: true });
        embedder = await Embedder.load(llama, await resolveModelPath(defaults.embedder));
        assembler = new PromptAssembler(model, modelChatWrapper(model));
        [train, test] = await Promise.all([loadExamples(defaultTrainFile), loadExamples(defaultTestFile)]);
        trainVectors = await embedExamples(train, embedder, defaults.embedder);
        const segments = (e: Example) => assembler.segmentTokens(e.request);
        native = await buildStores(train, embedder, defaults.embedder, { engine: "native", backend: "cpu", segments }) as NativePreferenceStores;
        hnsw = await buildStores(train, embedder, defaults.embedder, { engine: "hnswlib" });
        for (const e of sample(test, 60))
            queries.set(e.id, await embedder.embed(queryText(e.request)));
    });
    afterAll(async () => {
        native?.dispose();
        await embedder?.dispose();
        await model?.dispose();
        await llama?.dispose();
    });

    it("runs on the native CPU backend", () => {
        expect(native.engine).toBe("native");
        expect(native.backend.backend).toBe("cpu");
    });

    it("finds exactly the nearest examples (brute force in JS) and mostly what hnswlib finds", async () => {
        let agreeWithHnsw = 0, slots = 0;
        for (const e of sample(test, 60)) {
            const query = queries.get(e.id)!;
            const got = await native.retrieve(query, 2);
            const exact = bruteForce(train, trainVectors, query, 2);
            expect(got.attacks.map((n) => n.example.id)).toEqual(exact.attack);
            expect(got.benign.map((n) => n.example.id)).toEqual(exact.benign);
            const approx = await hnsw.retrieve(query, 2);
            for (const [mine, theirs] of [[got.attacks, approx.attacks], [got.benign, approx.benign]] as const) {
                const ids = new Set(theirs.map((n) => n.example.id));
                agreeWithHnsw += mine.filter((n) => ids.has(n.example.id)).length;
                slots += mine.length;
            }
        }
        expect(agreeWithHnsw / slots).toBeGreaterThanOrEqual(0.97);
    });

    it("assembles exactly the tokens of the whole prompt tokenized at once, for k = 1, 2 and 3", async () => {
        for (const k of [1, 2, 3])
            for (const e of sample(test, 60)) {
                const requestTokens = assembler.requestTokens(e.request, requestCaps);
                const result = await native.retrieveAndAssemble(queries.get(e.id)!, k, assembler.pieces(k), requestTokens);
                expect(result.attacks).toHaveLength(k);
                const reference = assembler.fullPromptTokens(e.request, result.attacks.map((n) => n.example.request),
                    result.benign.map((n) => n.example.request), requestCaps);
                expect(Array.from(result.tokens)).toEqual(reference);
            }
    });

    it("splits every train and test example at token boundaries: bare prompts and stored segments", () => {
        const mismatches: string[] = [];
        const all = [...train, ...test];
        for (const [i, e] of all.entries()) {
            if (!equal(assembler.bareTokens(e.request, requestCaps), assembler.fullPromptTokens(e.request, [], [], requestCaps)))
                mismatches.push(`${e.id} (bare)`);
            // The example as the only retrieved attack, next to a neighbour: exercises its segment's both edges.
            const other = all[(i + 1) % all.length]!.request;
            const pieces = assembler.pieces(1);
            const piece = (p: number) => Array.from(pieces.tokens.subarray(pieces.offsets[p], pieces.offsets[p + 1]));
            const assembled = [...piece(0), ...piece(1), ...assembler.segmentTokens(e.request), ...piece(2), ...piece(3),
                ...assembler.segmentTokens(other), ...piece(4), ...assembler.requestTokens(other, requestCaps), ...piece(5)];
            if (!equal(assembled, assembler.fullPromptTokens(other, [e.request], [other], requestCaps)))
                mismatches.push(`${e.id} (segment)`);
        }
        expect(mismatches).toEqual([]);
    });
});

function sample(examples: Example[], n: number): Example[] {
    const step = Math.max(1, Math.floor(examples.length / n));
    return examples.filter((_, i) => i % step === 0).slice(0, n);
}

function equal(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
    if (a.length !== b.length)
        return false;
    for (let i = 0; i < a.length; i++)
        if (a[i] !== b[i])
            return false;
    return true;
}

/** Exact top-k per label by cosine distance in double precision; ties to the earlier example. */
function bruteForce(examples: Example[], vectors: Float32Array, query: Float32Array, k: number) {
    const dims = query.length;
    const ranked = (label: string) => examples
        .map((e, i) => ({ e, i }))
        .filter(({ e }) => e.label === label)
        .map(({ e, i }, order) => {
            let dot = 0;
            for (let d = 0; d < dims; d++)
                dot += vectors[i * dims + d]! * query[d]!;
            return { id: e.id, distance: 1 - dot, order };
        })
        .sort((a, b) => a.distance - b.distance || a.order - b.order)
        .slice(0, k)
        .map((n) => n.id);
    return { attack: ranked("attack"), benign: ranked("benign") };
}

describe("the guard on the native path and on the hnswlib reference path", () => {
    it("uses the native CPU backend by default, and gives the same judgement as the reference path", async () => {
        const request = JSON.parse(readFileSync(new URL("../../examples/trade-authorized-keys.json", import.meta.url), "utf8"));
        const judged = [];
        for (const retrieval of ["native", "hnswlib"] as const) {
            const guard = await createGuard({ retrieval, examplesInPrompt: true, concurrency: 1 });
            try {
                expect(guard.backend.retrieval).toBe(retrieval === "native" ? "native-cpu" : "hnswlib");
                const tokens = guard.promptTokens(parseRequest(request), [], []);
                expect(tokens.length).toBeGreaterThan(100);
                judged.push(await guard.judge(request));
            } finally {
                await guard.dispose();
            }
        }
        const [native, reference] = judged;
        expect(native!.attacks.map((n) => n.example.id)).toEqual(reference!.attacks.map((n) => n.example.id));
        expect(native!.promptTokens).toBe(reference!.promptTokens);
        expect(native!.logOdds).toBeCloseTo(reference!.logOdds, 4);
        expect(getBackendInfo().variant).toMatch(/^(local-build|prebuilt-cpu|override)$/);
    });
});
