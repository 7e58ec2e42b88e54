import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import hnswlib from "hnswlib-node";
import type { Example, Label } from "./dataset.js";
import type { Embedder } from "./embedder.js";
import { mcpguardHome, type GpuChoice } from "./home.js";
import { NativeStore, noId, toTokenList, type Retrieval, type TokenList } from "./native.js";
import { queryText } from "./prompt.js";

/** A retrieved example and its cosine distance (1 - cosine similarity) to the query. */
export type Neighbour = { example: Example, distance: number };

/** The examples of one label, their embeddings in one flat array, and an HNSW index over them. */
export class LabelStore {
    readonly examples: Example[];
    readonly vectors: Float32Array;
    readonly dimensions: number;
    readonly #index: hnswlib.HierarchicalNSW;

    constructor(examples: Example[], vectors: Float32Array, dimensions: number) {
        if (examples.length === 0)
            throw new Error("a preference store needs at least one example");
        this.examples = examples;
        this.vectors = vectors;
        this.dimensions = dimensions;
        this.#index = new hnswlib.HierarchicalNSW("cosine", dimensions);
        this.#index.initIndex({ maxElements: examples.length, m: 16, efConstruction: 200, randomSeed: 42 });
        for (let i = 0; i < examples.length; i++)
            this.#index.addPoint(Array.from(vectors.subarray(i * dimensions, (i + 1) * dimensions)), i);
        this.#index.setEf(Math.min(examples.length, 64));
    }

    /** The `k` nearest examples, nearest first; ties broken by position in the store. */
    nearest(query: Float32Array, k: number): Neighbour[] {
        const count = Math.min(k, this.examples.length);
        if (count === 0)
            return [];
        const { neighbors, distances } = this.#index.searchKnn(Array.from(query), count);
        return neighbors
            .map((index, i) => ({ index, distance: distances[i]! }))
            .sort((a, b) => a.distance - b.distance || a.index - b.index)
            .map(({ index, distance }) => ({ example: this.examples[index]!, distance }));
    }
}

/** What a retrieval found: the nearest attack examples and the nearest benign examples, nearest first. */
export type Retrieved = { attacks: Neighbour[], benign: Neighbour[] };

/** How the stores search: `native` (exact top-k in the C++/CUDA core, default) or `hnswlib` (approximate, CPU). */
export type RetrievalEngine = "native" | "hnswlib";

/** RAG-Pref's two stores: attack examples (dispreferred) and benign examples (preferred). */
export interface PreferenceStores {
    readonly engine: RetrievalEngine;
    retrieve(query: Float32Array, k: number): Promise<Retrieved>;
    dispose(): void;
}

/** The two stores as hnswlib-node indexes: approximate search for very large stores on CPU, and the reference in tests. */
export class HnswPreferenceStores implements PreferenceStores {
    readonly engine = "hnswlib";
    readonly #labels: Record<Label, LabelStore>;

    constructor(labels: Record<Label, LabelStore>) {
        this.#labels = labels;
    }

    async retrieve(query: Float32Array, k: number): Promise<Retrieved> {
        return { attacks: this.#labels.attack.nearest(query, k), benign: this.#labels.benign.nearest(query, k) };
    }

    dispose(): void {}
}

/**
 * The two stores in the native core: exact top-k per label and, when examples go into the prompt, the prompt's
 * tokens assembled in the same call from each example's segment, tokenized once when the store is built.
 */
export class NativePreferenceStores implements PreferenceStores {
    readonly engine = "native";
    readonly #store: NativeStore;
    readonly #examples: Record<Label, Example[]>;

    private constructor(store: NativeStore, examples: Record<Label, Example[]>) {
        this.#store = store;
        this.#examples = examples;
    }

    /** `segments` gives each example's prompt tokens; without it the store holds none (retrieval only). */
    static async create(labels: Record<Label, { examples: Example[], vectors: Float32Array }>, dimensions: number,
        options: { backend?: GpuChoice, segments?: (example: Example) => ArrayLike<number> } = {}): Promise<NativePreferenceStores> {
        // clamp: k above a label's size returns what there is, as hnswlib does.
        const store = new NativeStore({ dimensions, backend: options.backend, kPolicy: "clamp" });
        try {
            for (const label of ["attack", "benign"] as const) {
                const { examples, vectors } = labels[label];
                await store.add(label, vectors, toTokenList(examples.map((e) => options.segments?.(e) ?? [])));
            }
        } catch (error) {
            store.dispose();
            throw error;
        }
        return new NativePreferenceStores(store, { attack: labels.attack.examples, benign: labels.benign.examples });
    }

    async retrieve(query: Float32Array, k: number): Promise<Retrieved> {
        return this.#neighbours(await this.#store.search(query, k));
    }

    /** Retrieves and assembles in one native call: `pieces` from PromptAssembler.pieces(k), `request` its request tokens. */
    async retrieveAndAssemble(query: Float32Array, k: number, pieces: TokenList, request: ArrayLike<number>): Promise<Retrieved & { tokens: Uint32Array }> {
        const result = await this.#store.retrieveAndAssemble(query, k, pieces, toTokenList([request]));
        return { ...this.#neighbours(result), tokens: result.tokens };
    }

    /** Where the store runs and the memory it holds. */
    get backend() {
        return this.#store.backend;
    }

    dispose(): void {
        this.#store.dispose();
    }

    #neighbours(result: Retrieval): Retrieved {
        const label = (index: number, examples: Example[]) => {
            const found: Neighbour[] = [];
            for (let slot = index * result.k; slot < (index + 1) * result.k; slot++)
                if (result.ids[slot] !== noId)
                    found.push({ example: examples[result.ids[slot]!]!, distance: result.distances[slot]! });
            return found;
        };
        return { attacks: label(0, this.#examples.attack), benign: label(1, this.#examples.benign) };
    }
}

/** Names the embeddings of exactly these examples (ids and embedded text) under this embedder. */
export function storeFileName(examples: Example[], embedderId: string): string {
    const hash = createHash("sha256").update(embedderId).update("\0query-v1\0");
    for (const example of examples)
        hash.update(example.id).update("\0").update(queryText(example.request)).update("\0");
    return hash.digest("hex").slice(0, 24) + ".f32";
}

/** Embeddings of the shipped train split, built with `npm run stores:build`, so first use needs no embedding pass. */
export const shippedStores = fileURLToPath(new URL("../models/stores/", import.meta.url));

/** Embeds every example (or reads the embeddings cached for exactly these examples and this embedder). */
export async function embedExamples(examples: Example[], embedder: Embedder, embedderId: string,
    onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
    const name = storeFileName(examples, embedderId);
    const file = path.join(mcpguardHome(), "stores", name);
    const dims = embedder.dimensions;
    for (const candidate of [path.join(shippedStores, name), file]) {
        if (!existsSync(candidate))
            continue;
        const bytes = await readFile(candidate);
        if (bytes.byteLength === examples.length * dims * 4)
            return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
    }
    const vectors = new Float32Array(examples.length * dims);
    for (let i = 0; i < examples.length; i++) {
        vectors.set(await embedder.embed(queryText(examples[i]!.request)), i * dims);
        onProgress?.(i + 1, examples.length);
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file + ".part", vectors);
    await rename(file + ".part", file);
    return vectors;
}

/** Builds both stores from labelled examples, leaving out those `exclude` picks (held-out validation). */
export async function buildStores(examples: Example[], embedder: Embedder, embedderId: string,
    options: { exclude?: (e: Example) => boolean, onProgress?: (done: number, total: number) => void, engine?: RetrievalEngine,
        backend?: GpuChoice, segments?: (example: Example) => ArrayLike<number> } = {}): Promise<PreferenceStores> {
    const vectors = await embedExamples(examples, embedder, embedderId, options.onProgress);
    const dims = embedder.dimensions;
    const byLabel = (label: Label) => {
        const picked = examples.map((e, i) => ({ e, i })).filter(({ e }) => e.label === label && options.exclude?.(e) !== true);
        const flat = new Float32Array(picked.length * dims);
        picked.forEach(({ i }, j) => flat.set(vectors.subarray(i * dims, (i + 1) * dims), j * dims));
        return { examples: picked.map(({ e }) => e), vectors: flat };
    };
    const labels = { attack: byLabel("attack"), benign: byLabel("benign") };
    if (options.engine === "hnswlib")
        return new HnswPreferenceStores({
            attack: new LabelStore(labels.attack.examples, labels.attack.vectors, dims),
            benign: new LabelStore(labels.benign.examples, labels.benign.vectors, dims)
        });
    return NativePreferenceStores.create(labels, dims, { backend: options.backend, segments: options.segments });
}
