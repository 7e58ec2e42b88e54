// Shared helpers of the native tests: random normalised vectors, a brute-force reference, token lists.
import { toTokenList, type TokenList } from "../../lib/native.js";
import { rng } from "../../models/data/augment.js";

/** A seeded PRNG, so failures reproduce: the data builder's mulberry32. */
export const random = rng;

/** `count` L2-normalised vectors of `dims` dimensions, flat. */
export function unitVectors(count: number, dims: number, seed: number): Float32Array {
    const next = random(seed);
    const out = new Float32Array(count * dims);
    for (let r = 0; r < count; r++) {
        let norm = 0;
        for (let i = 0; i < dims; i++) {
            const v = next() * 2 - 1;
            out[r * dims + i] = v;
            norm += v * v;
        }
        for (let i = 0; i < dims; i++)
            out[r * dims + i]! /= Math.sqrt(norm);
    }
    return out;
}

export type Neighbour = { id: number, distance: number };

/** Exact top-k by brute force in double precision: distance 1 - dot, ties to the lower id. */
export function bruteForce(rows: Float32Array, query: Float32Array, dims: number, k: number): Neighbour[] {
    const all: Neighbour[] = [];
    for (let r = 0; r < rows.length / dims; r++) {
        let dot = 0;
        for (let i = 0; i < dims; i++)
            dot += rows[r * dims + i]! * query[i]!;
        all.push({ id: r, distance: 1 - dot });
    }
    return all.sort((a, b) => a.distance - b.distance || a.id - b.id).slice(0, k);
}

/** Example i of a label gets tokens [base + i] repeated 1 + i % 4 times. */
export function segmentsFor(count: number, base: number): TokenList {
    return toTokenList(Array.from({ length: count }, (_, i) => new Array(1 + (i % 4)).fill(base + i)));
}

/** The 2k + 4 template pieces of the tests: piece p is [800000 + p] repeated p % 3 times. */
export function piecesFor(k: number): TokenList {
    return toTokenList(Array.from({ length: 2 * k + 4 }, (_, p) => new Array(p % 3).fill(800000 + p)));
}

/** Does `got` rank like `wanted`, allowing swaps among neighbours closer than `tolerance` in distance? */
export function sameNeighbours(got: Neighbour[], wanted: Neighbour[], tolerance = 1e-5): boolean {
    return got.every((hit, r) => hit.id === wanted[r]!.id || Math.abs(hit.distance - wanted[r]!.distance) < tolerance);
}

/** Normalised vectors around `clusters` random centres, like real sentence embeddings (which cluster by topic). */
export function clusteredVectors(count: number, dims: number, clusters: number, seed: number): Float32Array {
    const centres = unitVectors(clusters, dims, seed);
    const noise = unitVectors(count, dims, seed + 1);
    const next = random(seed + 2);
    const out = new Float32Array(count * dims);
    for (let r = 0; r < count; r++) {
        const c = Math.floor(next() * clusters);
        let norm = 0;
        for (let i = 0; i < dims; i++) {
            const v = centres[c * dims + i]! + 0.8 * noise[r * dims + i]!;
            out[r * dims + i] = v;
            norm += v * v;
        }
        for (let i = 0; i < dims; i++)
            out[r * dims + i]! /= Math.sqrt(norm);
    }
    return out;
}
