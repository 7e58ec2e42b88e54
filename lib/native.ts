import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Label } from "./dataset.js";

// ---- What mcpguard_native.node exports (hand-written; keep in sync with bindings/) ----------------

/** Options of the addon's store constructor. */
export type AddonStoreOptions = {
    dimensions?: number,
    storage?: "f32" | "f16",
    backend?: "auto" | "cpu" | "cuda",
    kPolicy?: "error" | "clamp",
    threads?: number,
    parallelThreshold?: number,
    cudaDevice?: number,
    cudaLibrary?: string
};

/** Neighbours laid out [query][label][rank]: k slots per label, attack (0) then benign (1). */
export type AddonRetrieval = { ids: Uint32Array, distances: Float32Array };

/** Neighbours plus the assembled tokens: query q is tokens[tokenOffsets[q] .. tokenOffsets[q + 1]). */
export type AddonAssembly = AddonRetrieval & { tokens: Uint32Array, tokenOffsets: Uint32Array };

export type AddonStoreInfo = {
    backend: "cpu" | "cuda",
    simd: string,
    deviceName: string,
    threads: number,
    hostBytes: number,
    deviceBytes: number
};

export type AddonStore = {
    add(label: number, vectors: Float32Array, tokens: Uint32Array, offsets: Uint32Array): Promise<void>,
    search(queries: Float32Array, k: number): Promise<AddonRetrieval>,
    retrieveAndAssemble(queries: Float32Array, k: number, pieceTokens: Uint32Array, pieceOffsets: Uint32Array,
        requestTokens: Uint32Array, requestOffsets: Uint32Array): Promise<AddonAssembly>,
    count(label: number): number,
    backendInfo(): AddonStoreInfo,
    dispose(): void,
    readonly disposed: boolean
};

export type AddonBackendInfo = {
    version: string,
    simd: string,
    cudaLibrary: string,
    cudaAvailable: boolean,
    cudaUnavailableReason: string
};

export type NativeAddon = {
    NativeStore: new (options?: AddonStoreOptions) => AddonStore,
    getBackendInfo(): AddonBackendInfo
};

// ---- Loader --------------------------------------------------------------------------------------

const packageRoot = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const binaryName = "mcpguard_native.node";

/** Where the addon was found. */
export type NativeVariant = "override" | "local-build" | "prebuilt-cuda" | "prebuilt-cpu";

type Candidate = { variant: NativeVariant, file: string, skip?: string, fix: string };

/** What `npm run prebuild` writes beside each prebuilt binary. */
export type PrebuildMetadata = { variant: string, toolkit: string | null, architectures: string[], commit: string | null, builtAt: string };

type Loaded = { addon: NativeAddon, variant: NativeVariant, file: string };
let loaded: Loaded | undefined;

function cudaDriverPresent(): boolean {
    return existsSync("/proc/driver/nvidia/version") || existsSync("/dev/nvidiactl");
}

function candidates(): Candidate[] {
    const platform = `${process.platform}-${process.arch}`;
    const override = process.env.MCPGUARD_NATIVE;
    const list: Candidate[] = [];
    if (override != null && override !== "")
        list.push({ variant: "override", file: path.resolve(override), fix: "point MCPGUARD_NATIVE at a built mcpguard_native.node, or unset it" });
    list.push({ variant: "local-build", file: path.join(packageRoot, "build", "Release", binaryName),
        fix: "build from source: npx mcpguard build (add --cuda for the CUDA library)" });
    list.push({ variant: "prebuilt-cuda", file: path.join(packageRoot, "prebuilds", `${platform}-cuda`, binaryName),
        skip: cudaDriverPresent() ? undefined : "skipped: no NVIDIA driver found", fix: "install the NVIDIA driver to use the CUDA prebuild" });
    list.push({ variant: "prebuilt-cpu", file: path.join(packageRoot, "prebuilds", platform, binaryName),
        fix: `no prebuilt binary for ${platform}: install a C++17 compiler and CMake, then run npx mcpguard build` });
    return list;
}

function tryLoad(candidate: Candidate): { addon?: NativeAddon, problem: string } {
    if (candidate.skip != null)
        return { problem: candidate.skip };
    if (!existsSync(candidate.file))
        return { problem: "not found" };
    try {
        return { addon: require(candidate.file) as NativeAddon, problem: "" };
    } catch (error) {
        return { problem: `failed to load: ${(error as Error).message.split("\n")[0]}` };
    }
}

/** Loads the addon once: MCPGUARD_NATIVE, the local cmake-js build, the CUDA prebuild (with a driver), the CPU prebuild. */
export function loadNativeAddon(): NativeAddon {
    if (loaded != null)
        return loaded.addon;
    const attempts: string[] = [];
    for (const candidate of candidates()) {
        const { addon, problem } = tryLoad(candidate);
        if (addon != null) {
            loaded = { addon, variant: candidate.variant, file: candidate.file };
            return addon;
        }
        attempts.push(`- ${candidate.variant}: ${candidate.file}: ${problem}\n  fix: ${candidate.fix}`);
    }
    throw new Error(`Could not load the mcpguard native addon (${binaryName}). Tried:\n${attempts.join("\n")}`);
}

function readMetadata(file: string): PrebuildMetadata | undefined {
    const metadata = path.join(path.dirname(file), "metadata.json");
    return existsSync(metadata) ? JSON.parse(readFileSync(metadata, "utf8")) as PrebuildMetadata : undefined;
}

/** What was loaded and where it can run. */
export type BackendInfo = AddonBackendInfo & { variant: NativeVariant, file: string, metadata?: PrebuildMetadata };

/** Loads the addon if needed and reports which binary was loaded, its CPU kernels and whether CUDA can run. */
export function getBackendInfo(): BackendInfo {
    const addon = loadNativeAddon();
    const { variant, file } = loaded!;
    return { ...addon.getBackendInfo(), variant, file, metadata: readMetadata(file) };
}

// ---- The public store ----------------------------------------------------------------------------

export type NativeStoreOptions = {
    /** Embedding dimension. Default 384 (all-MiniLM-L6-v2). */
    dimensions?: number,
    /** `f32` (default) or `f16`, which halves memory; distances then use the f16-rounded vectors. */
    storage?: "f32" | "f16",
    /** `auto` (default: CUDA when a driver and device are found, else CPU), `cpu` or `cuda` (fails without CUDA). */
    backend?: "auto" | "cpu" | "cuda",
    /** When k exceeds a label's examples: `error` (default) rejects, `clamp` returns what there is (empty slots get id 0xFFFFFFFF and distance Infinity). */
    kPolicy?: "error" | "clamp",
    /** CPU threads for large scans. Default: all cores. */
    threads?: number,
    /** CPU: queries x examples from which the scan is split across threads. Default 32768. */
    parallelThreshold?: number,
    /** CUDA device ordinal. Default 0. */
    cudaDevice?: number
};

/** Token sequences as one flat array: item i is tokens[offsets[i] .. offsets[i + 1]). */
export type TokenList = { tokens: Uint32Array, offsets: Uint32Array };

/** Exact neighbours, [query][label][rank] with k slots per label; distance = 1 - cosine similarity. */
export type Retrieval = { k: number, ids: Uint32Array, distances: Float32Array };

/** Neighbours and, per query, the assembled prompt tokens. */
export type Assembly = Retrieval & TokenList;

/** Id of an empty slot (k clamped to a smaller store). */
export const noId = 0xFFFFFFFF;

const labelIndex: Record<Label, number> = { attack: 0, benign: 1 };

/** Flattens token sequences into a TokenList. */
export function toTokenList(sequences: ArrayLike<number>[]): TokenList {
    const offsets = new Uint32Array(sequences.length + 1);
    sequences.forEach((sequence, i) => { offsets[i + 1] = offsets[i]! + sequence.length; });
    const tokens = new Uint32Array(offsets[sequences.length]!);
    sequences.forEach((sequence, i) => tokens.set(sequence, offsets[i]!));
    return { tokens, offsets };
}

function checkInteger(value: number, name: string, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max)
        throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
}

function checkOptions(options: NativeStoreOptions): void {
    if (options.dimensions !== undefined)
        checkInteger(options.dimensions, "options.dimensions", 1, 8192);
    if (options.storage !== undefined && options.storage !== "f32" && options.storage !== "f16")
        throw new RangeError(`options.storage must be "f32" or "f16", got ${String(options.storage)}`);
    if (options.backend !== undefined && !["auto", "cpu", "cuda"].includes(options.backend))
        throw new RangeError(`options.backend must be "auto", "cpu" or "cuda", got ${String(options.backend)}`);
    if (options.kPolicy !== undefined && options.kPolicy !== "error" && options.kPolicy !== "clamp")
        throw new RangeError(`options.kPolicy must be "error" or "clamp", got ${String(options.kPolicy)}`);
    if (options.threads !== undefined)
        checkInteger(options.threads, "options.threads", 0, 1024);
    if (options.parallelThreshold !== undefined)
        checkInteger(options.parallelThreshold, "options.parallelThreshold", 0, 0xFFFFFFFF);
    if (options.cudaDevice !== undefined)
        checkInteger(options.cudaDevice, "options.cudaDevice", 0, 1024);
}

function checkType(value: unknown, type: Function, name: string): void {
    if (!(value instanceof type))
        throw new TypeError(`${name} must be a ${type.name}`);
}

function checkTokenList(list: TokenList, name: string, count?: number): void {
    checkType(list?.tokens, Uint32Array, `${name}.tokens`);
    checkType(list.offsets, Uint32Array, `${name}.offsets`);
    if (list.offsets.length === 0)
        throw new RangeError(`${name}.offsets must hold at least one entry (0)`);
    if (count !== undefined && list.offsets.length !== count + 1)
        throw new RangeError(`${name}.offsets must hold ${count + 1} entries (one more than its ${count} sequences), got ${list.offsets.length}`);
}

/**
 * RAG-Pref's two preference stores in native memory (host or GPU): exact top-k per label and prompt
 * assembly in one call. Vectors must be L2-normalised. Call `dispose()` (or `await using`) to free
 * the memory: GPU memory is invisible to the garbage collector.
 */
export class NativeStore {
    readonly #native: AddonStore;
    /** The embedding dimension. */
    readonly dimensions: number;

    constructor(options: NativeStoreOptions = {}) {
        checkOptions(options);
        this.dimensions = options.dimensions ?? 384;
        this.#native = new (loadNativeAddon().NativeStore)(options);
    }

    /** Appends examples to a label: `vectors` holds one normalised vector per example, `segments` their prompt tokens. */
    async add(label: Label, vectors: Float32Array, segments: TokenList): Promise<void> {
        this.#assertUsable();
        checkType(vectors, Float32Array, "vectors");
        const count = vectors.length / this.dimensions;
        if (!Number.isInteger(count))
            throw new RangeError(`vectors must hold whole vectors of ${this.dimensions} dimensions, got ${vectors.length} values`);
        checkTokenList(segments, "segments", count);
        await this.#native.add(this.#label(label), vectors, segments.tokens, segments.offsets);
    }

    /** The k nearest examples of each label for every query (queries: n x dimensions, flat). */
    async search(queries: Float32Array, k: number): Promise<Retrieval> {
        this.#assertUsable();
        this.#checkQueries(queries, k);
        return { k, ...await this.#native.search(queries, k) };
    }

    /**
     * Retrieves and assembles in one native call. `pieces` holds 2k + 4 template pieces: prefix,
     * k attack headers, between, k benign headers, before-request, suffix. Each query's tokens are
     * prefix, (attack header r, attack segment r)..., between, (benign header r, benign segment r)...,
     * before-request, its request's tokens, suffix. `requests` holds one token sequence per query.
     */
    async retrieveAndAssemble(queries: Float32Array, k: number, pieces: TokenList, requests: TokenList): Promise<Assembly> {
        this.#assertUsable();
        this.#checkQueries(queries, k);
        checkTokenList(pieces, "pieces", 2 * k + 4);
        checkTokenList(requests, "requests", queries.length / this.dimensions);
        const result = await this.#native.retrieveAndAssemble(queries, k, pieces.tokens, pieces.offsets, requests.tokens, requests.offsets);
        return { k, ids: result.ids, distances: result.distances, tokens: result.tokens, offsets: result.tokenOffsets };
    }

    /** Examples held for a label. */
    count(label: Label): number {
        this.#assertUsable();
        return this.#native.count(this.#label(label));
    }

    /** Where this store runs (cpu or cuda) and the memory it holds. */
    get backend(): AddonStoreInfo {
        this.#assertUsable();
        return this.#native.backendInfo();
    }

    get disposed(): boolean {
        return this.#native.disposed;
    }

    /** Frees host and device memory (after jobs in flight finish); later calls throw. */
    dispose(): void {
        this.#native.dispose();
    }

    async [Symbol.asyncDispose](): Promise<void> {
        this.dispose();
    }

    #assertUsable(): void {
        if (this.#native.disposed)
            throw new Error("This NativeStore was disposed; create a new one");
    }

    #label(label: Label): number {
        const index = labelIndex[label];
        if (index === undefined)
            throw new RangeError(`label must be "attack" or "benign", got ${String(label)}`);
        return index;
    }

    #checkQueries(queries: Float32Array, k: number): void {
        checkType(queries, Float32Array, "queries");
        if (queries.length === 0 || queries.length % this.dimensions !== 0)
            throw new RangeError(`queries must hold whole vectors of ${this.dimensions} dimensions, got ${queries.length} values`);
        checkInteger(k, "k", 1, 128);
    }
}
