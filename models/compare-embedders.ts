/**
 * Which embedder retrieves better for RAG-Pref: for test examples, how often are the nearest train examples of
 * the same label (attack next to attack, benign next to benign)? Compares the manifest's embedders and the
 * decision model's own embeddings on the same deterministic samples.
 *
 *   npx tsx models/compare-embedders.ts [--train 600] [--test 150] [embedder names or GGUF paths...]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { getLlama } from "node-llama-cpp";
import { defaultTestFile, defaultTrainFile, loadExamples, type Example } from "../lib/dataset.js";
import { Embedder } from "../lib/embedder.js";
import { readManifest, resolveModelPath } from "../lib/models.js";
import { queryText } from "../lib/prompt.js";
import { hashString } from "./data/augment.js";

function sample(examples: Example[], n: number): Example[] {
    return [...examples].sort((a, b) => hashString(a.id) - hashString(b.id)).slice(0, n);
}

async function embedAll(embedder: Embedder, examples: Example[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const e of examples)
        out.push(await embedder.embed(queryText(e.request)));
    return out;
}

function dot(a: Float32Array, b: Float32Array): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
    return s;
}

/** Share of the k nearest train neighbours that carry the query's label, averaged over queries. */
function sameLabelRecall(train: Example[], trainVecs: Float32Array[], test: Example[], testVecs: Float32Array[], k: number): number {
    let hits = 0;
    test.forEach((q, i) => {
        const nearest = trainVecs.map((v, j) => ({ j, s: dot(v, testVecs[i]!) })).sort((a, b) => b.s - a.s).slice(0, k);
        hits += nearest.filter(({ j }) => train[j]!.label === q.label).length;
    });
    return hits / (test.length * k);
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
    train: { type: "string", default: "600" }, test: { type: "string", default: "150" } } });
const manifest = readManifest();
const candidates = positionals.length > 0 ? positionals : [manifest.defaults.embedder, manifest.defaults.decision];
const train = sample(await loadExamples(defaultTrainFile), Number(values.train));
const test = sample(await loadExamples(defaultTestFile), Number(values.test));
const llama = await getLlama({ gpu: false, maxThreads: os.availableParallelism() });
for (const name of candidates) {
    const embedder = await Embedder.load(llama, await resolveModelPath(name));
    const started = performance.now();
    const trainVecs = await embedAll(embedder, train);
    const testVecs = await embedAll(embedder, test);
    const msPerText = (performance.now() - started) / (train.length + test.length);
    await embedder.dispose();
    console.log(JSON.stringify({ embedder: name, train: train.length, test: test.length,
        sameLabelRecallAt1: +sameLabelRecall(train, trainVecs, test, testVecs, 1).toFixed(3),
        sameLabelRecallAt2: +sameLabelRecall(train, trainVecs, test, testVecs, 2).toFixed(3),
        msPerText: +msPerText.toFixed(1) }));
}
