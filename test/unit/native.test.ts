import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { defaultTrainFile, loadExamples, type Example, type Label } from "../../lib/dataset.js";
import { getBackendInfo, loadNativeAddon, NativeStore, noId, toTokenList, type Retrieval } from "../../lib/native.js";
import { assemblePrompt, framing, renderExample, renderRequest, requestCaps, sections } from "../../lib/prompt.js";
import { LabelStore } from "../../lib/store.js";
import { bruteForce, clusteredVectors, piecesFor, sameNeighbours, segmentsFor, unitVectors, type Neighbour } from "./native-fixtures.js";

const labels: Label[] = ["attack", "benign"];

function neighbours(result: Retrieval, query: number, label: number): Neighbour[] {
    const start = (query * 2 + label) * result.k;
    return Array.from(result.ids.subarray(start, start + result.k), (id, r) => ({ id, distance: result.distances[start + r]! }));
}

async function filledStore(perLabel: number, dims: number, options: ConstructorParameters<typeof NativeStore>[0] = {}) {
    const store = new NativeStore({ dimensions: dims, ...options });
    const rows = labels.map((_, label) => unitVectors(perLabel, dims, 100 + label));
    for (const [label, name] of labels.entries())
        await store.add(name, rows[label]!, segmentsFor(perLabel, 100000 * (label + 1)));
    return { store, rows };
}

const dummy = (i: number): Example => ({ id: `e${i}`, label: "attack", category: "RAC", form: "prompt", request: { prompt: `e${i}` } });

describe("native addon", () => {
    it("loads the local cmake-js build and reports the CPU backend in use", async () => {
        const info = getBackendInfo();
        expect(info.variant).toBe("local-build");
        expect(["avx2+fma+f16c", "scalar"]).toContain(info.simd);
        await using store = new NativeStore({ dimensions: 8, backend: "cpu" });
        expect(store.backend.backend).toBe("cpu");
    });
});

describe("exact top-k parity", () => {
    it("matches a brute-force JS reference on random 16-d data", async () => {
        const dims = 16, k = 3;
        const { store, rows } = await filledStore(500, dims);
        const queries = unitVectors(20, dims, 7);
        const result = await store.search(queries, k);
        for (let q = 0; q < 20; q++)
            for (const label of [0, 1])
                expect(sameNeighbours(neighbours(result, q, label), bruteForce(rows[label]!, queries.subarray(q * dims, (q + 1) * dims), dims, k))).toBe(true);
        store.dispose();
    });

    it("matches brute force and hnswlib-node on clustered 384-d stores the size of the train split", async () => {
        const dims = 384, k = 2, nQueries = 50;
        const perLabel = Math.ceil((await loadExamples(defaultTrainFile)).length / 2);
        const rows = labels.map((_, label) => clusteredVectors(perLabel, dims, 40, 200 + 10 * label));
        const store = new NativeStore({ dimensions: dims });
        for (const [label, name] of labels.entries())
            await store.add(name, rows[label]!, segmentsFor(perLabel, 0));
        const queries = clusteredVectors(nQueries, dims, 40, 200);
        const result = await store.search(queries, k);
        const hnsw = rows.map((flat) => new LabelStore(Array.from({ length: perLabel }, (_, i) => dummy(i)), flat, dims));
        let agreeing = 0, total = 0;
        for (let q = 0; q < nQueries; q++) {
            const query = queries.subarray(q * dims, (q + 1) * dims);
            for (const label of [0, 1]) {
                const got = neighbours(result, q, label);
                expect(sameNeighbours(got, bruteForce(rows[label]!, query, dims, k))).toBe(true);
                for (const hit of hnsw[label]!.nearest(query, k)) {
                    const same = got.find((n) => n.id === Number(hit.example.id.slice(1)));
                    total++;
                    if (same != null) {
                        agreeing++;
                        expect(hit.distance).toBeCloseTo(same.distance, 5);
                    }
                }
            }
        }
        expect(agreeing / total).toBeGreaterThanOrEqual(0.95);  // hnswlib's recall@2: approximate, the native search is exact
        store.dispose();
    });

    it("finds the same neighbours with f16 storage, up to f16 rounding", async () => {
        const dims = 384, k = 2;
        const { store, rows } = await filledStore(1000, dims, { storage: "f16" });
        const queries = unitVectors(10, dims, 3);
        const result = await store.search(queries, k);
        for (let q = 0; q < 10; q++)
            expect(sameNeighbours(neighbours(result, q, 0), bruteForce(rows[0]!, queries.subarray(q * dims, (q + 1) * dims), dims, k), 1e-3)).toBe(true);
        store.dispose();
    });

    it("breaks ties by position, like LabelStore", async () => {
        await using store = new NativeStore({ dimensions: 2 });
        const rows = Float32Array.from([0, 1, 1, 0, 1, 0]);
        for (const label of labels)
            await store.add(label, rows, segmentsFor(3, 0));
        const result = await store.search(Float32Array.from([1, 0]), 2);
        expect(Array.from(result.ids.subarray(0, 2))).toEqual([1, 2]);
        const reference = new LabelStore([dummy(0), dummy(1), dummy(2)], rows, 2).nearest(Float32Array.from([1, 0]), 2);
        expect(reference.map((n) => n.example.id)).toEqual(["e1", "e2"]);
    });
});

describe("assembly", () => {
    it("equals the concatenation computed in JS", async () => {
        const dims = 16, k = 2;
        const { store } = await filledStore(50, dims);
        const queries = unitVectors(3, dims, 5);
        const pieces = piecesFor(k);
        const requests = toTokenList([[1, 2, 3], [], [4]]);
        const result = await store.retrieveAndAssemble(queries, k, pieces, requests);
        const piece = (p: number) => Array.from(pieces.tokens.subarray(pieces.offsets[p]!, pieces.offsets[p + 1]!));
        const segment = (label: number, id: number) => new Array(1 + (id % 4)).fill(100000 * (label + 1) + id);
        for (let q = 0; q < 3; q++) {
            const ids = (label: number) => neighbours(result, q, label).map((n) => n.id);
            const wanted = [
                ...piece(0), ...ids(0).flatMap((id, r) => [...piece(1 + r), ...segment(0, id)]), ...piece(k + 1),
                ...ids(1).flatMap((id, r) => [...piece(k + 2 + r), ...segment(1, id)]), ...piece(2 * k + 2),
                ...Array.from(requests.tokens.subarray(requests.offsets[q]!, requests.offsets[q + 1]!)), ...piece(2 * k + 3)
            ];
            expect(Array.from(result.tokens.subarray(result.offsets[q]!, result.offsets[q + 1]!))).toEqual(wanted);
        }
        store.dispose();
    });

    it("reproduces assemblePrompt's text exactly when the split points follow its layout (character tokenizer)", async () => {
        const dims = 32, k = 2;
        const examples = await loadExamples(defaultTrainFile);
        const byLabel = labels.map((label) => examples.filter((e) => e.label === label).slice(0, 200));
        const chars = (text: string) => Array.from(text, (c) => c.codePointAt(0)!);
        await using store = new NativeStore({ dimensions: dims });
        for (const [label, name] of labels.entries())
            await store.add(name, unitVectors(byLabel[label]!.length, dims, label), toTokenList(byLabel[label]!.map((e) => chars(renderExample(e.request)))));
        const request = byLabel[0]![7]!.request;
        const pieces = toTokenList([
            framing + sections.attackHeading,
            ...Array.from({ length: k }, (_, r) => sections.exampleHeader("Attack", r)),
            sections.benignHeading,
            ...Array.from({ length: k }, (_, r) => sections.exampleHeader("Benign", r)),
            "", ""
        ].map(chars));
        const requestText = sections.tools(request, requestCaps) + "\n=====\n" + renderRequest(request);
        const result = await store.retrieveAndAssemble(unitVectors(1, dims, 9), k, pieces, toTokenList([chars(requestText)]));
        const chosen = (label: number) => neighbours(result, 0, label).map((n) => byLabel[label]![n.id]!.request);
        const parts = assemblePrompt(request, chosen(0), chosen(1));
        expect(String.fromCodePoint(...result.tokens)).toBe(`${parts.system}\n=====\n${parts.user}`);
    });

    it("leaves out empty slots when k is clamped", async () => {
        await using store = new NativeStore({ dimensions: 2, kPolicy: "clamp" });
        await store.add("attack", Float32Array.from([1, 0]), toTokenList([[7]]));
        await store.add("benign", Float32Array.from([0, 1, 1, 0]), toTokenList([[8], [9]]));
        const result = await store.retrieveAndAssemble(Float32Array.from([1, 0]), 3, toTokenList(new Array(10).fill([])), toTokenList([[1]]));
        expect(Array.from(result.ids)).toEqual([0, noId, noId, 1, 0, noId]);
        expect(Array.from(result.tokens)).toEqual([7, 9, 8, 1]);
    });
});

describe("bad inputs give clear errors", () => {
    const query = Float32Array.from([1, 0, 0, 0]);
    const pieces = piecesFor(1);
    const request = toTokenList([[1]]);

    it("rejects a wrong dimension, in the wrapper and in native code", async () => {
        const { store } = await filledStore(5, 4);
        await expect(store.search(new Float32Array(3), 1)).rejects.toThrow(/whole vectors of 4 dimensions/);
        await expect(store.add("attack", new Float32Array(6), segmentsFor(1, 0))).rejects.toThrow(/whole vectors of 4 dimensions/);
        const raw = new (loadNativeAddon().NativeStore)({ dimensions: 4 });
        await expect(raw.retrieveAndAssemble(new Float32Array(6), 1, pieces.tokens, pieces.offsets, request.tokens, request.offsets))
            .rejects.toMatchObject({ code: "MG_ERR_DIMENSION_MISMATCH", message: "queries have dimension 6 but the store has 4" });
        raw.dispose();
        store.dispose();
    });

    it("rejects a search of an empty store", async () => {
        await using store = new NativeStore({ dimensions: 4 });
        await expect(store.search(query, 1)).rejects.toMatchObject({ code: "MG_ERR_EMPTY_STORE", message: expect.stringMatching(/attack store is empty/) });
    });

    it("rejects NaN and infinity in a query or a vector", async () => {
        const { store } = await filledStore(5, 4);
        await expect(store.search(Float32Array.from([NaN, 0, 0, 0]), 1)).rejects.toThrow(/query 0 has a NaN or infinite value at dimension 0/);
        await expect(store.retrieveAndAssemble(Float32Array.from([1, 0, 0, 0, 0, Infinity, 0, 0]), 1, pieces, toTokenList([[1], [2]])))
            .rejects.toMatchObject({ code: "MG_ERR_NON_FINITE" });
        await expect(store.add("benign", Float32Array.from([NaN, 0, 0, 0]), segmentsFor(1, 0))).rejects.toThrow(/NaN/);
        store.dispose();
    });

    it("rejects k larger than the store (default policy) and k out of range", async () => {
        const { store } = await filledStore(5, 4);
        await expect(store.search(query, 6)).rejects.toThrow(/k = 6 is larger than the attack store \(5 examples\)/);
        await expect(store.search(query, 0)).rejects.toThrow(/k must be an integer from 1 to 128/);
        store.dispose();
    });

    it("rejects unnormalised vectors, unknown labels and malformed token lists", async () => {
        await using store = new NativeStore({ dimensions: 2 });
        await expect(store.add("attack", Float32Array.from([3, 4]), segmentsFor(1, 0))).rejects.toThrow(/not L2-normalised/);
        await expect(store.add("other" as Label, Float32Array.from([1, 0]), segmentsFor(1, 0))).rejects.toThrow(/label must be/);
        await expect(store.add("attack", Float32Array.from([1, 0]), { tokens: new Uint32Array(1), offsets: Uint32Array.from([0, 5]) }))
            .rejects.toThrow(/offsets point past the end/);
        await expect(store.add("attack", [1, 0] as unknown as Float32Array, segmentsFor(1, 0))).rejects.toThrow(/vectors must be a Float32Array/);
        expect(store.count("attack")).toBe(0);
    });

    it("rejects a wrong number of template pieces", async () => {
        const { store } = await filledStore(5, 4);
        await expect(store.retrieveAndAssemble(query, 2, pieces, request)).rejects.toThrow(/pieces.offsets must hold 9 entries/);
        store.dispose();
    });
});

describe("disposal", () => {
    it("finishes jobs in flight, then rejects every later call", async () => {
        const { store } = await filledStore(2000, 384);
        const pending = store.search(unitVectors(4, 384, 1), 2);
        store.dispose();
        await expect(pending).resolves.toMatchObject({ k: 2 });
        expect(store.disposed).toBe(true);
        await expect(store.search(unitVectors(1, 384, 1), 2)).rejects.toThrow(/disposed/);
        expect(() => store.count("attack")).toThrow(/disposed/);
        store.dispose();  // twice is fine
    });

    it("disposes through Symbol.asyncDispose", async () => {
        const store = new NativeStore({ dimensions: 4 });
        await store[Symbol.asyncDispose]();
        expect(store.disposed).toBe(true);
    });
});

describe("worker threads", () => {
    const workerCode = `
        const { parentPort, workerData } = require("node:worker_threads");
        const addon = require(workerData.file);
        (async () => {
            const store = new addon.NativeStore({ dimensions: 2 });
            await store.add(0, Float32Array.from([1, 0, 0, 1]), Uint32Array.from([5, 6]), Uint32Array.from([0, 1, 2]));
            await store.add(1, Float32Array.from([0, 1, 1, 0]), Uint32Array.from([7, 8]), Uint32Array.from([0, 1, 2]));
            const r = await store.retrieveAndAssemble(Float32Array.from([0, 1]), 1, Uint32Array.from([1, 2, 3, 4, 5, 6]),
                Uint32Array.from([0, 1, 2, 3, 4, 5, 6]), Uint32Array.from([9]), Uint32Array.from([0, 1]));
            store.dispose();
            parentPort.postMessage({ ids: Array.from(r.ids), tokens: Array.from(r.tokens) });
        })().catch((error) => parentPort.postMessage({ error: error.message }));`;

    function runWorker(): Promise<unknown> {
        return new Promise((resolve, reject) => {
            const worker = new Worker(workerCode, { eval: true, workerData: { file: getBackendInfo().file } });
            worker.once("message", (message) => { resolve(message); void worker.terminate(); });
            worker.once("error", reject);
        });
    }

    it("loads the addon in several workers at once, beside the main thread", async () => {
        const { store } = await filledStore(100, 8);
        const [a, b] = await Promise.all([runWorker(), runWorker(), store.search(unitVectors(1, 8, 2), 2)]);
        const wanted = { ids: [1, 0], tokens: [1, 2, 6, 3, 4, 7, 5, 9, 6] };
        expect(a).toEqual(wanted);
        expect(b).toEqual(wanted);
        store.dispose();
    });
});
