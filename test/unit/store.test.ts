import { describe, expect, it } from "vitest";
import type { Example } from "../../lib/dataset.js";
import { normalize } from "../../lib/embedder.js";
import { LabelStore } from "../../lib/store.js";

const example = (id: string): Example => ({ id, label: "attack", category: "RAC", form: "prompt", request: { prompt: id } });

function store(vectors: number[][]): LabelStore {
    const flat = new Float32Array(vectors.flatMap((v) => Array.from(normalize(Float32Array.from(v)))));
    return new LabelStore(vectors.map((_, i) => example(`e${i}`)), flat, vectors[0]!.length);
}

describe("LabelStore retrieval", () => {
    const s = store([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0], [0, 0, 1]]);

    it("returns the nearest examples first, with cosine distances", () => {
        const hits = s.nearest(normalize(Float32Array.from([1, 0.05, 0])), 2);
        expect(hits.map((h) => h.example.id)).toEqual(["e0", "e2"]);
        expect(hits[0]!.distance).toBeLessThan(hits[1]!.distance);
        expect(hits[0]!.distance).toBeGreaterThanOrEqual(0);
    });

    it("breaks ties by position in the store", () => {
        const tied = store([[0, 1], [1, 0], [1, 0]]);
        expect(tied.nearest(Float32Array.from([1, 0]), 2).map((h) => h.example.id)).toEqual(["e1", "e2"]);
    });

    it("returns the whole store when k exceeds it", () => {
        expect(s.nearest(Float32Array.from([0, 0, 1]), 10)).toHaveLength(4);
    });

    it("refuses to build an empty store", () => {
        expect(() => new LabelStore([], new Float32Array(0), 3)).toThrow(/at least one example/);
    });
});
