// Retrieve-and-assemble: the guard's native CPU path (tokenize the request's part, then exact top-k and token
// assembly in one native call) against the reference path (hnswlib-node search, the prompt as a string through
// the chat template, tokenized whole), same run, stores of 2k, 100k and 1M examples, with the default decision
// model's real tokenizer. Run: npm run bench:native. Synthetic clustered 384-d embeddings; example texts and
// their token segments cycle through the train split. Prints ratios and hnswlib's recall@2 against the exact
// native result.
import hnswlib from "hnswlib-node";
import { Bench } from "tinybench";
import { defaultTrainFile, loadExamples, type Example, type Label } from "../lib/dataset.js";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { PromptAssembler } from "../lib/assembly.js";
import { modelChatWrapper } from "../lib/guard.js";
import { readManifest, resolveModelPath } from "../lib/models.js";
import { getBackendInfo, NativeStore, toTokenList, type TokenList } from "../lib/native.js";
import { requestCaps } from "../lib/prompt.js";

const dims = 384, k = 2, nQueries = 64;
// BENCH_SIZES=2000 for a quick run.
const sizes = (process.env.BENCH_SIZES ?? "2000,100000,1000000").split(",").map(Number);
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

/** Token segments of `count` examples, cycling through the real examples' segments. */
function segments(count: number, real: number[][]): TokenList {
    return toTokenList(Array.from({ length: count }, (_, i) => real[i % real.length]!));
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

/** The reference path (retrieval: "hnswlib"): hnswlib search per label, the prompt as one string, tokenized whole. */
function referenceRetrieve(indexes: Hnsw[], query: Float32Array, byLabel: Example[][], request: Example, assembler: PromptAssembler): number[] {
    const [attacks, benign] = indexes.map(({ index }, label) => {
        const { neighbors, distances } = index.searchKnn(Array.from(query), k);
        const examples = byLabel[label]!;
        return neighbors.map((id, i) => ({ id, distance: distances[i]! })).sort((a, b) => a.distance - b.distance || a.id - b.id)
            .map(({ id }) => examples[id % examples.length]!.request);
    });
    return assembler.fullPromptTokens(request.request, attacks!, benign!, requestCaps);
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

async function nativeStore(data: Float32Array[], perLabel: number, real: number[][][]): Promise<NativeStore> {
    const store = new NativeStore({ dimensions: dims, backend: "cpu" });
    for (const [label, name] of labels.entries())
        await store.add(name, data[label]!.subarray(0, perLabel * dims), segments(perLabel, real[label]!));
    return store;
}

function describe(name: string, hz: number, meanMs: number, p99Ms: number): string {
    return `${name.padEnd(10)} ${hz.toFixed(1).padStart(10)} ops/s  mean ${meanMs.toFixed(3).padStart(9)} ms  p99 ${p99Ms.toFixed(3).padStart(9)} ms`;
}

async function main(): Promise<void> {
    const info = getBackendInfo();
    console.log(`native addon: ${info.variant} (${info.file}), CPU kernels ${info.simd}, CUDA: ${info.cudaAvailable ? "available" : info.cudaUnavailableReason}`);
    const examples = await loadExamples(defaultTrainFile);
    const byLabel = labels.map((label) => examples.filter((e) => e.label === label));
    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: await resolveModelPath(readManifest().defaults.decision), vocabOnly: true });
    const assembler = new PromptAssembler(model, modelChatWrapper(model));
    const real = byLabel.map((list) => list.map((e) => assembler.segmentTokens(e.request)));
    const pieces = assembler.pieces(k);
    const largest = Math.max(...sizes) / 2;
    const data = labels.map((_, label) => clustered(largest, 10 + label * 7));
    const queries = clustered(nQueries, 10);  // same centres as the attack store
    let hnswForLarge: { indexes: Hnsw[], perLabel: number } | undefined;
    const summary: string[] = [];

    for (const size of sizes) {
        const perLabel = size / 2;
        const store = await nativeStore(data, perLabel, real);
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
        const prefix = indexedPerLabel === perLabel ? store : await nativeStore(data, indexedPerLabel, real);
        const recall = await recallAt2(store, indexes, queries, prefix);
        if (prefix !== store)
            prefix.dispose();

        let q = 0;
        const bench = new Bench({ time: 3000, iterations: 10, warmupIterations: 3 });
        bench.add("native", async () => {
            const i = q++ % nQueries;
            const request = assembler.requestTokens(examples[i % examples.length]!.request, requestCaps);
            await store.retrieveAndAssemble(queries.subarray(i * dims, (i + 1) * dims), k, pieces, toTokenList([request]));
        });
        bench.add("reference", () => {
            const i = q++ % nQueries;
            referenceRetrieve(indexes, queries.subarray(i * dims, (i + 1) * dims), byLabel, examples[i % examples.length]!, assembler);
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
    console.log(`\nSummary (exact native CPU top-${k} per label + token assembly vs hnswlib + string templating + tokenizing):\n${summary.join("\n")}`);
    await model.dispose();
    await llama.dispose();
}

await main();
