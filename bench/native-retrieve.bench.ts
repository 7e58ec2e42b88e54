// Retrieve-and-assemble: the native CPU path against the reference path (hnswlib-node search, JS string
// templating and joining), same run, stores of 2k, 100k and 1M examples. Run: npx tsx bench/native-retrieve.bench.ts
// Synthetic clustered 384-d embeddings; example texts cycle through the train split. Prints ratios and
// hnswlib's recall@2 against the exact native result.
import hnswlib from "hnswlib-node";
import { Bench } from "tinybench";
import { defaultTrainFile, loadExamples, type Example, type Label } from "../lib/dataset.js";
import { getBackendInfo, NativeStore, toTokenList, type TokenList } from "../lib/native.js";
import { assemblePrompt } from "../lib/prompt.js";

const dims = 384, k = 2, segmentTokens = 100, requestTokens = 300, nQueries = 64;
const sizes = [2_000, 100_000, 1_000_000];
const hnswBudgetMs = 180_000;  // build the hnswlib index only when it fits ~3 minutes
const labels: Label[] = ["attack", "benign"];

function seeded(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6D2B79F5) >>> 0;
        let t = Math.imul(state ^ (state >>> 15), state | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
    };
}

/** Normalised vectors around 200 centres (sentence embeddings cluster by topic); a prefix of a larger call is identical. */
function clustered(count: number, seed: number): Float32Array {
    const centre = seeded(seed), noise = seeded(seed + 1), pick = seeded(seed + 2);
    const centres = Float32Array.from({ length: 200 * dims }, centre);
    const out = new Float32Array(count * dims);
    for (let r = 0; r < count; r++) {
        const c = Math.floor((pick() + 0.5) * 200);
        let norm = 0;
        for (let i = 0; i < dims; i++) {
            const v = centres[c * dims + i]! + 0.8 * noise();
            out[r * dims + i] = v;
            norm += v * v;
        }
        const scale = 1 / Math.sqrt(norm);
        for (let i = 0; i < dims; i++)
            out[r * dims + i]! *= scale;
    }
    return out;
}

function segments(count: number, base: number): TokenList {
    const tokens = new Uint32Array(count * segmentTokens).map((_, i) => base + (i % 30000));
    const offsets = Uint32Array.from({ length: count + 1 }, (_, i) => i * segmentTokens);
    return { tokens, offsets };
}

type Hnsw = { index: hnswlib.HierarchicalNSW, count: number, buildMs: number };

function buildHnsw(vectors: Float32Array, count: number): Hnsw {
    const started = performance.now();
    const index = new hnswlib.HierarchicalNSW("cosine", dims);
    index.initIndex({ maxElements: count, m: 16, efConstruction: 200, randomSeed: 42 });
    for (let i = 0; i < count; i++)
        index.addPoint(Array.from(vectors.subarray(i * dims, (i + 1) * dims)), i);
    index.setEf(64);
    return { index, count, buildMs: performance.now() - started };
}

/** The reference path of lib/store.ts and lib/prompt.ts: hnswlib search per label, then the prompt as a string. */
function referenceRetrieve(indexes: Hnsw[], query: Float32Array, examples: Example[], request: Example): string {
    const [attacks, benign] = indexes.map(({ index }) => {
        const { neighbors, distances } = index.searchKnn(Array.from(query), k);
        return neighbors.map((id, i) => ({ id, distance: distances[i]! })).sort((a, b) => a.distance - b.distance || a.id - b.id)
            .map(({ id }) => examples[id % examples.length]!.request);
    });
    const parts = assemblePrompt(request.request, attacks!, benign!);
    return `${parts.system}\n${parts.user}`;
}

async function recallAt2(store: NativeStore, indexes: Hnsw[], queries: Float32Array, exactOnPrefix: NativeStore): Promise<number> {
    const exact = await exactOnPrefix.search(queries, k);
    let found = 0;
    for (let q = 0; q < nQueries; q++)
        for (const [label, { index }] of indexes.entries()) {
            const approx = new Set(index.searchKnn(Array.from(queries.subarray(q * dims, (q + 1) * dims)), k).neighbors);
            for (let r = 0; r < k; r++)
                found += approx.has(exact.ids[(q * 2 + label) * k + r]!) ? 1 : 0;
        }
    void store;
    return found / (nQueries * 2 * k);
}

async function nativeStore(data: Float32Array[], perLabel: number): Promise<NativeStore> {
    const store = new NativeStore({ dimensions: dims, backend: "cpu" });
    for (const [label, name] of labels.entries())
        await store.add(name, data[label]!.subarray(0, perLabel * dims), segments(perLabel, 1000 + label * 50000));
    return store;
}

function describe(name: string, hz: number, meanMs: number, p99Ms: number): string {
    return `${name.padEnd(10)} ${hz.toFixed(1).padStart(10)} ops/s  mean ${meanMs.toFixed(3).padStart(9)} ms  p99 ${p99Ms.toFixed(3).padStart(9)} ms`;
}

async function main(): Promise<void> {
    const info = getBackendInfo();
    console.log(`native addon: ${info.variant} (${info.file}), CPU kernels ${info.simd}, CUDA: ${info.cudaAvailable ? "available" : info.cudaUnavailableReason}`);
    const examples = await loadExamples(defaultTrainFile);
    const largest = Math.max(...sizes) / 2;
    const data = labels.map((_, label) => clustered(largest, 10 + label * 7));
    const queries = clustered(nQueries, 10);  // same centres as the attack store
    const pieces = toTokenList(Array.from({ length: 2 * k + 4 }, (_, p) => new Array(p === 0 ? 250 : 8).fill(p)));
    const request = toTokenList([new Array(requestTokens).fill(7)]);
    let hnswForLarge: { indexes: Hnsw[], perLabel: number } | undefined;
    const summary: string[] = [];

    for (const size of sizes) {
        const perLabel = size / 2;
        const store = await nativeStore(data, perLabel);
        let indexes: Hnsw[], indexedPerLabel: number, note = "";
        const estimateMs = hnswForLarge != null ? hnswForLarge.indexes[0]!.buildMs * 2 * (perLabel / hnswForLarge.perLabel) * 1.2 : 0;
        if (hnswForLarge != null && estimateMs > hnswBudgetMs) {
            ({ indexes, perLabel: indexedPerLabel } = hnswForLarge);
            note = `hnswlib index over the first ${indexedPerLabel * 2} of ${size} examples: a full index would take ~${Math.round(estimateMs / 60_000)} min to build here`;
        } else {
            indexes = data.map((vectors) => buildHnsw(vectors, perLabel));
            indexedPerLabel = perLabel;
            note = `hnswlib index built in ${((indexes[0]!.buildMs + indexes[1]!.buildMs) / 1000).toFixed(1)} s`;
            hnswForLarge = { indexes, perLabel };
        }
        const prefix = indexedPerLabel === perLabel ? store : await nativeStore(data, indexedPerLabel);
        const recall = await recallAt2(store, indexes, queries, prefix);
        if (prefix !== store)
            prefix.dispose();

        let q = 0;
        const bench = new Bench({ time: 3000, iterations: 10, warmupIterations: 3 });
        bench.add("native", async () => {
            const i = q++ % nQueries;
            await store.retrieveAndAssemble(queries.subarray(i * dims, (i + 1) * dims), k, pieces, request);
        });
        bench.add("reference", () => {
            const i = q++ % nQueries;
            referenceRetrieve(indexes, queries.subarray(i * dims, (i + 1) * dims), examples, examples[i % examples.length]!);
        });
        await bench.run();
        const [native, reference] = bench.tasks.map((task) => task.result as unknown as { throughput: { mean: number }, latency: { mean: number, p99: number } });
        const memory = store.backend.hostBytes;
        console.log(`\n== ${size} examples (${perLabel} per label) ==  ${note}`);
        console.log(describe("native", native!.throughput.mean, native!.latency.mean, native!.latency.p99));
        console.log(describe("reference", reference!.throughput.mean, reference!.latency.mean, reference!.latency.p99));
        const ratio = native!.throughput.mean / reference!.throughput.mean;
        const shown = ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2);
        console.log(`native/reference throughput: ${shown}x   hnswlib recall@2 vs exact: ${(recall * 100).toFixed(1)}%   native memory: ${(memory / 2 ** 20).toFixed(1)} MiB (${(memory / 2 ** 20 * 1e6 / size).toFixed(0)} MiB per million examples)`);
        summary.push(`${String(size).padStart(8)}: native/reference ${shown}x, native ${native!.latency.mean.toFixed(3)} ms vs reference ${reference!.latency.mean.toFixed(3)} ms, recall@2 ${(recall * 100).toFixed(1)}%${indexedPerLabel === perLabel ? "" : " (partial index)"}`);
        store.dispose();
    }
    console.log(`\nSummary (exact native CPU top-${k} per label + token assembly vs hnswlib + string templating):\n${summary.join("\n")}`);
}

await main();
