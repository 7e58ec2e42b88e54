/**
 * Embeds the shipped train split with the default embedder and writes models/stores/<key>.f32, so a
 * fresh install builds its RAG-Pref stores without an embedding pass. Run after `npm run data:build`.
 *
 *   npm run stores:build
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { getLlama } from "node-llama-cpp";
import os from "node:os";
import { defaultTrainFile, loadExamples } from "../lib/dataset.js";
import { Embedder } from "../lib/embedder.js";
import { mcpguardHome } from "../lib/home.js";
import { ensureModel, readManifest } from "../lib/models.js";
import { embedExamples, shippedStores, storeFileName } from "../lib/store.js";

const embedderName = readManifest().defaults.embedder;
const examples = await loadExamples(defaultTrainFile);
const llama = await getLlama({ gpu: false, maxThreads: os.availableParallelism() });
const embedder = await Embedder.load(llama, await ensureModel(embedderName));
await embedExamples(examples, embedder, embedderName, (done, total) => { if (done % 500 === 0) console.error(`${done}/${total}`); });
await embedder.dispose();

const name = storeFileName(examples, embedderName);
mkdirSync(shippedStores, { recursive: true });
for (const stale of readdirSync(shippedStores).filter((f) => f.endsWith(".f32") && f !== name))
    rmSync(path.join(shippedStores, stale));
copyFileSync(path.join(mcpguardHome(), "stores", name), path.join(shippedStores, name));
console.log(`wrote models/stores/${name}`);
