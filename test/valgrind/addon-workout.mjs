// Every path of the native addon once, for valgrind's memcheck (test/valgrind/run.sh): stores in both storages,
// add, search, fused retrieve-and-assemble, k clamping, each argument error, dispose and use after dispose.
// Plain JavaScript over dist/ so that memcheck runs node and nothing else.
import assert from "node:assert/strict";
import { NativeStore, noId, toTokenList } from "../../dist/native.js";

function vectors(count, dims, seed) {
    let state = seed >>> 0;
    const next = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const out = new Float32Array(count * dims);
    for (let r = 0; r < count; r++) {
        let norm = 0;
        for (let i = 0; i < dims; i++) norm += (out[r * dims + i] = next()) ** 2;
        for (let i = 0; i < dims; i++) out[r * dims + i] /= Math.sqrt(norm);
    }
    return out;
}
const segments = (count, base) => toTokenList(Array.from({ length: count }, (_, i) => new Array(1 + (i % 4)).fill(base + i)));
const pieces = (k) => toTokenList(Array.from({ length: 2 * k + 4 }, (_, p) => new Array(p % 3).fill(800000 + p)));

const dims = 64;
for (const storage of ["f32", "f16"]) {
    for (const round of [0, 1]) {
        const store = new NativeStore({ dimensions: dims, storage, backend: "cpu", kPolicy: round === 0 ? "error" : "clamp", parallelThreshold: 64 });
        await store.add("attack", vectors(300, dims, 1), segments(300, 100000));
        await store.add("benign", vectors(100, dims, 2), segments(100, 200000));
        const queries = vectors(7, dims, 3);
        const found = await store.search(queries, 3);
        assert.equal(found.ids.length, 7 * 2 * 3);
        const assembled = await store.retrieveAndAssemble(queries, 2, pieces(2), segments(7, 300000));
        assert.equal(assembled.offsets.length, 8);
        if (round === 1) {
            const clamped = await store.search(queries.subarray(0, dims), 120);
            assert.ok(clamped.ids.includes(noId));
        } else {
            await assert.rejects(store.search(queries.subarray(0, dims), 120));
        }
        await assert.rejects(store.search(new Float32Array(dims + 1), 2));
        await assert.rejects(store.add("attack", new Float32Array(dims * 2), segments(3, 1)));
        await assert.rejects(store.retrieveAndAssemble(queries, 2, pieces(1), segments(7, 1)));
        store.dispose();
        assert.throws(() => store.count("attack"));
        await assert.rejects(store.search(queries, 1));
    }
}
// A store dropped without dispose: its finalizer frees it when the collector runs.
new NativeStore({ dimensions: dims, backend: "cpu" });
globalThis.gc?.();
console.log("addon workout: done");
