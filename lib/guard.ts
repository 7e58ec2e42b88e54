import { readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { getLlama, JinjaTemplateChatWrapper, LlamaLogLevel, resolveChatWrapper, type ChatWrapper, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { PromptAssembler } from "./assembly.js";
import { applyLogistic, type Logistic } from "./calibration.js";
import { defaultTrainFile, loadExamples, type Category, type Example, type Label } from "./dataset.js";
import { Embedder } from "./embedder.js";
import { gpuChoice, type GpuChoice } from "./home.js";
import { ArtifactError, loadArtifact, packageRoot, readManifest, resolveAdapterPath, resolveModelPath } from "./models.js";
import type { Progress } from "./model-sources.js";
import { fitTokens } from "./budget.js";
import { decisionPromptTokens, embeddingCaps, queryText, renderRequest, requestCaps, type RenderCaps } from "./prompt.js";
import { parseRequest, type GuardRequest } from "./request.js";
import { RefusalScorer, AbortError, type Readout } from "./scorer.js";
import { buildStores, NativePreferenceStores, type Neighbour, type PreferenceStores, type Retrieved, type RetrievalEngine } from "./store.js";

export type GuardOptions = {
    /** Decision model: a manifest name, a local GGUF path or a hub URI. Default: the manifest's default. */
    model?: string,
    /**
     * LoRA adapter (the DPO refusal adapter): a manifest name or a GGUF path; `false` for none. Default: the
     * shipped DPO adapter when `model` is its base model.
     */
    adapter?: string | false,
    /** Embedding model for retrieval, same forms as `model`. Default: the manifest's default. */
    embedder?: string,
    /** Preference data (JSONL of labelled examples) for the RAG-Pref stores. Default: the shipped train split. */
    trainFile?: string,
    /** Preference examples given directly; overrides `trainFile`. */
    examples?: Example[],
    /** Leaves these examples out of the stores (a held-out validation split). */
    exclude?: (example: Example) => boolean,
    /** Examples retrieved per label (attack and benign). 0 switches RAG-Pref off. Default 2. */
    k?: number,
    /**
     * Put the retrieved examples into the model's prompt (RAG-Pref as the paper defines it). When false the
     * examples are still retrieved, kept as evidence and weighed through the retrieval margin, and the prompt
     * holds the request alone (3x fewer tokens). Default false: measured better on the validation split (README).
     */
    examplesInPrompt?: boolean,
    /**
     * `native` (default): exact top-k in the C++ core (on the GPU when there is one) and, with examplesInPrompt,
     * the prompt's tokens assembled there from pre-tokenized pieces. `hnswlib`: approximate search on CPU and the
     * prompt tokenized as one string (the reference path).
     */
    retrieval?: RetrievalEngine,
    /**
     * What the scorer reads after the prompt: `first-token` (default; one position, what the shipped decision model is
     * trained for) or `openings` (both reply openings teacher-forced; what the earlier LoRA adapter was trained for).
     */
    readout?: Readout,
    /** Refuse when score >= threshold. Default: the calibrated threshold stored for this configuration. */
    threshold?: number,
    /** A calibrated operating point instead of a threshold (`levels`: strict, balanced, permissive). */
    level?: Level,
    /** `auto` (default, or MCPGUARD_GPU), `cuda` or `cpu`. */
    gpu?: GpuChoice,
    /** CPU threads for llama.cpp. Default: `MCPGUARD_THREADS`, else one per core (more threads than cores is ~10x slower). */
    threads?: number,
    /** Requests evaluated concurrently (context sequences). Default 4. */
    concurrency?: number,
    /** Progress of model downloads and of the first embedding of the preference data. */
    onProgress?: Progress
};

export type Evidence = { id: string, label: Label, category: Category, distance: number, excerpt: string };

export type Decision = {
    refuse: boolean,
    /** Calibrated probability that the aligned model refuses. */
    score: number,
    threshold: number,
    category: Category,
    evidence: Evidence[],
    timings: { totalMs: number, embedMs: number, retrieveMs: number, assembleMs: number, modelMs: number }
};

/** How raw judgements become a score: a logistic model over [log-odds, retrieval margin], and the threshold. */
/**
 * Operating points: the false-refusal rate on the validation split each level's threshold is chosen for. `balanced`
 * is the default threshold; `strict` refuses more, `permissive` less.
 */
export const levels = Object.freeze({ strict: 0.05, balanced: 0.02, permissive: 0.005 });
export type Level = keyof typeof levels;
export const isLevel = (value: unknown): value is Level => typeof value === "string" && Object.hasOwn(levels, value);

/** A level's calibrated threshold and the rates it gave on the validation split. */
export type LevelPoint = { threshold: number, falseRefusalRate: number, attackRefusalRate: number };

export type Calibration = { model: Logistic, threshold: number, targetFalseRefusalRate?: number, levels?: Partial<Record<Level, LevelPoint>>,
    validation?: unknown };

const calibrationFile = path.join(packageRoot, "models", "calibration.json");

/**
 * The calibration key of a configuration: which model; retrieval into the prompt, as evidence only, or none; whether
 * a LoRA adapter is applied; and the readout when it is not the default one.
 */
export function calibrationProfile(model: string, k: number, adapter: boolean, examplesInPrompt: boolean, readout: Readout = "first-token"): string {
    const retrieval = k === 0 ? "norag" : examplesInPrompt ? "rag" : "retrieval";
    return `${model}|${retrieval}|${adapter ? "adapter" : "base"}${readout === "first-token" ? "" : `|${readout}`}`;
}

/**
 * The stored calibration of a configuration, or undefined when it has none. A damaged file, or an entry whose numbers
 * are not usable (a NaN threshold would silently allow everything), is an error that names the file: the guard
 * fails closed rather than judge with a broken scale.
 */
export function readCalibration(profile: string, file = calibrationFile): Calibration | undefined {
    if (!existsSync(file))
        return undefined;
    const broken = (why: string) => new ArtifactError("calibration file", file, why,
        "Reinstall mcpguard, or restore the file from the package (git checkout models/calibration.json) or refit it with `npm run calibrate`.");
    let all: Record<string, Calibration>;
    try {
        all = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
        throw broken(`not valid JSON (${(err as Error).message})`);
    }
    const entry = typeof all === "object" && all !== null ? all[profile] : undefined;
    if (entry === undefined)
        return undefined;
    const finite = (x: unknown) => typeof x === "number" && Number.isFinite(x);
    const usable = finite(entry?.threshold) && finite(entry?.model?.bias) && Array.isArray(entry?.model?.weights) &&
        entry.model.weights.length === 2 && entry.model.weights.every(finite);
    if (!usable)
        throw broken(`the entry "${profile}" needs a finite threshold and a logistic model with two finite weights and a bias`);
    for (const [level, point] of Object.entries(entry.levels ?? {}))
        if (!isLevel(level) || !finite(point?.threshold))
            throw broken(`the entry "${profile}" has a level "${level}" without a finite threshold (levels: ${Object.keys(levels).join(", ")})`);
    return entry;
}

function levelThreshold(calibration: Calibration, profile: string, level: Level): number {
    if (!isLevel(level))
        throw new RangeError(`level must be one of ${Object.keys(levels).join(", ")}, got ${String(level)}`);
    const point = calibration.levels?.[level];
    if (point == null)
        throw new Error(`the calibration profile "${profile}" has no "${level}" level; fit it with \`npm run calibrate\` for this configuration`);
    return point.threshold;
}

const uncalibrated: Calibration = { model: { weights: [1, 0], bias: 0 }, threshold: 0.5 };

/** The guard: one loaded model, two preference stores, and `shouldRefuse`. */
export class Guard {
    readonly #llama: Llama;
    readonly #model: LlamaModel;
    readonly #assembler: PromptAssembler;
    readonly #embedder: Embedder | undefined;
    readonly #stores: PreferenceStores | undefined;
    readonly #scorer: RefusalScorer;
    readonly #k: number;
    readonly #examplesInPrompt: boolean;
    readonly #calibration: Calibration;
    readonly #profile: string;
    readonly threshold: number;
    #disposed = false;

    /** @internal use createGuard */
    constructor(parts: { llama: Llama, model: LlamaModel, assembler: PromptAssembler, embedder?: Embedder, stores?: PreferenceStores,
        scorer: RefusalScorer, k: number, examplesInPrompt: boolean, calibration: Calibration, profile: string, threshold: number }) {
        this.#llama = parts.llama;
        this.#model = parts.model;
        this.#assembler = parts.assembler;
        this.#embedder = parts.embedder;
        this.#stores = parts.stores;
        this.#scorer = parts.scorer;
        this.#k = parts.k;
        this.#examplesInPrompt = parts.examplesInPrompt;
        this.#calibration = parts.calibration;
        this.#profile = parts.profile;
        this.threshold = parts.threshold;
    }

    /**
     * Judges one request, at the guard's threshold or at a calibrated `level`'s. Rejects with RequestValidationError
     * for bad input, AbortError when aborted.
     */
    async shouldRefuse(input: unknown, options: { signal?: AbortSignal, level?: Level } = {}): Promise<Decision> {
        const threshold = options.level !== undefined ? this.thresholdFor(options.level) : this.threshold;
        const judged = await this.judge(input, options);
        const score = applyLogistic(this.#calibration.model, judgementFeatures(judged));
        const refuse = score >= threshold;
        return {
            refuse,
            score,
            threshold,
            category: refuse ? guessCategory(judged.attacks) : "BENIGN",
            evidence: [...judged.attacks, ...judged.benign].map(toEvidence),
            timings: judged.timings
        };
    }

    /**
     * The uncalibrated judgement: the model's refusal log-odds (lib/scorer.ts, by the configured readout), with what
     * was retrieved. `shouldRefuse` calibrates it; calibration fits on it.
     */
    async judge(input: unknown, options: { signal?: AbortSignal } = {}) {
        this.#assertUsable();
        const started = performance.now();
        const request = parseRequest(input);
        if (options.signal?.aborted)
            throw new AbortError();

        const query = this.#embedder != null ? await this.#embed(this.#embedder, request) : undefined;
        const embedded = performance.now();
        const { attacks, benign, tokens, retrieveMs } = await this.#retrieveAndAssemble(request, query);
        const assembled = performance.now();
        const logOdds = await this.#scorer.score(tokens, options.signal);
        const scored = performance.now();
        const timings = {
            totalMs: scored - started,
            embedMs: embedded - started,
            retrieveMs,
            assembleMs: assembled - embedded - retrieveMs,
            modelMs: scored - assembled
        };
        return { logOdds, retrievalMargin: retrievalMargin(attacks, benign), attacks, benign, promptTokens: tokens.length, timings };
    }

    /** The request's retrieval embedding, rendered as the stores' examples are and fitted to the embedder's window. */
    #embed(embedder: Embedder, request: GuardRequest): Promise<Float32Array> {
        const tokens = fitTokens(request, embeddingCaps, embedder.maxTokens, (r, caps) => embedder.tokenize(renderRequest(r, caps)));
        return embedder.embedTokens(tokens);
    }

    /**
     * Retrieval and the exact tokens the model evaluates. The native store does both in one call when the examples
     * go into the prompt; otherwise it retrieves and the prompt is the bare prefix, the request and the suffix.
     * The request is rendered within a token budget (lib/budget.ts): decisionPromptTokens for the bare prompt, and
     * whatever the scorer's context leaves beside the retrieved examples when they go into the prompt.
     */
    async #retrieveAndAssemble(request: GuardRequest, query: Float32Array | undefined): Promise<Retrieved & { tokens: Token[], retrieveMs: number }> {
        const stores = this.#stores;
        const limit = this.#scorer.maxPromptTokens;
        if (query == null || !this.#examplesInPrompt) {
            const started = performance.now();
            const retrieved = query != null ? await stores!.retrieve(query, this.#k) : { attacks: [], benign: [] };
            const retrieveMs = performance.now() - started;
            const budget = decisionPromptTokens - this.#assembler.bareOverhead;
            const tokens = this.#assembler.bare(fitTokens(request, requestCaps, budget, (r, caps) => this.#assembler.requestTokens(r, caps)));
            return { ...retrieved, tokens, retrieveMs };
        }
        if (stores instanceof NativePreferenceStores) {
            for (let budget = limit; ; budget >>= 1) {
                const requestTokens = fitTokens(request, requestCaps, budget, (r, caps) => this.#assembler.requestTokens(r, caps));
                const started = performance.now();
                const result = await stores.retrieveAndAssemble(query, this.#k, this.#assembler.pieces(this.#k), requestTokens);
                const retrieveMs = performance.now() - started;
                const tokens = Array.from(result.tokens) as Token[];
                if (tokens.length <= limit || budget === 0)
                    return { ...result, tokens: tokens.slice(-limit), retrieveMs };
            }
        }
        const started = performance.now();
        const retrieved = await stores!.retrieve(query, this.#k);
        const retrieveMs = performance.now() - started;
        const tokens = fitTokens(request, requestCaps, limit, (r, caps) => this.promptTokens(r, retrieved.attacks, retrieved.benign, caps));
        return { ...retrieved, tokens, retrieveMs };
    }

    /**
     * The paper's generative evaluation of one request: `count` replies sampled after the same prompt the decision
     * reads (temperature 0.7 by default), each classified as a refusal or not (`isRefusal`).
     */
    async sampleReplies(input: unknown, options: { count: number, maxTokens?: number, temperature?: number, seed?: number, signal?: AbortSignal }) {
        this.#assertUsable();
        const request = parseRequest(input);
        const query = this.#embedder != null ? await this.#embed(this.#embedder, request) : undefined;
        const { tokens } = await this.#retrieveAndAssemble(request, query);
        const replies = await this.#scorer.sample(tokens, { count: options.count, maxTokens: options.maxTokens ?? 12,
            temperature: options.temperature ?? 0.7, seed: options.seed ?? 1, signal: options.signal });
        return replies.map((reply) => {
            const text = this.#model.detokenize(reply);
            return { text, refusal: isRefusal(text) };
        });
    }

    /** The calibrated threshold of an operating point (`levels`); an error names the profile when it has none. */
    thresholdFor(level: Level): number {
        return levelThreshold(this.#calibration, this.#profile, level);
    }

    /** The exact tokens the model evaluates for a request and these retrieved examples, tokenized as one string (reference). */
    promptTokens(request: GuardRequest, attacks: Neighbour[], benign: Neighbour[], caps: RenderCaps = requestCaps): Token[] {
        return this.#assembler.fullPromptTokens(request, attacks.map((n) => n.example.request), benign.map((n) => n.example.request), caps);
    }

    /** Where the native code runs and what was loaded. */
    get backend(): { gpu: string | false, retrieval: string } {
        const stores = this.#stores;
        const retrieval = stores == null ? "none" : stores instanceof NativePreferenceStores ? `native-${stores.backend.backend}` : stores.engine;
        return { gpu: this.#llama.gpu, retrieval };
    }

    #assertUsable(): void {
        if (this.#disposed)
            throw new Error("This guard was disposed; create a new one with createGuard()");
    }

    async dispose(): Promise<void> {
        if (this.#disposed)
            return;
        this.#disposed = true;
        await this.#scorer.dispose();
        this.#stores?.dispose();
        await this.#embedder?.dispose();
        await this.#model.dispose();
    }

    async [Symbol.asyncDispose](): Promise<void> {
        await this.dispose();
    }
}

/**
 * How much closer the request sits to the attack examples than to the benign ones: the mean cosine distance
 * of the retrieved benign examples minus that of the retrieved attacks (0 without retrieval).
 */
export function retrievalMargin(attacks: Neighbour[], benign: Neighbour[]): number {
    const mean = (ns: Neighbour[]) => ns.reduce((sum, n) => sum + n.distance, 0) / ns.length;
    return attacks.length === 0 || benign.length === 0 ? 0 : mean(benign) - mean(attacks);
}

/** The features the calibration weighs: the aligned model's refusal log-odds, then the retrieval margin. */
export function judgementFeatures(judged: { logOdds: number, retrievalMargin: number }): number[] {
    return [judged.logOdds, judged.retrievalMargin];
}

/** The model's own chat template from its GGUF when it has one; otherwise node-llama-cpp's match for the model. */
export function modelChatWrapper(model: LlamaModel): ChatWrapper {
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    if (typeof template === "string" && template !== "")
        return new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer });
    return resolveChatWrapper(model);
}

function toEvidence(neighbour: Neighbour): Evidence {
    const { example, distance } = neighbour;
    return {
        id: example.id,
        label: example.label,
        category: example.category,
        distance: Math.round(distance * 1e4) / 1e4,
        excerpt: queryText(example.request).slice(0, 200)
    };
}

/** Whether a sampled reply refuses: it opens by declining (the refusal opening or the usual ways of saying no). */
export function isRefusal(reply: string): boolean {
    return /^\s*(I can['’]?t|I cannot|I can not|I won['’]?t|I will not|I'm sorry|I am sorry|Sorry|I'm unable|I am unable|I must decline)/i.test(reply);
}

/** The category of the nearest retrieved attack example (MCE when nothing was retrieved). */
function guessCategory(attacks: Neighbour[]): Category {
    return attacks[0]?.example.category ?? "MCE";
}

function threadCount(explicit?: number): number {
    const fromEnv = process.env.MCPGUARD_THREADS;
    const value = explicit ?? (fromEnv != null && fromEnv !== "" ? Number(fromEnv) : os.availableParallelism());
    if (!Number.isInteger(value) || value < 1)
        throw new RangeError(`threads (options.threads or MCPGUARD_THREADS) must be a positive integer, got ${explicit ?? fromEnv}`);
    return value;
}

function validateOptions(options: GuardOptions): void {
    if (options.k !== undefined && (!Number.isInteger(options.k) || options.k < 0 || options.k > 16))
        throw new RangeError(`options.k must be an integer from 0 to 16, got ${options.k}`);
    if (options.threshold !== undefined && !(options.threshold >= 0 && options.threshold <= 1))
        throw new RangeError(`options.threshold must be a number in [0, 1], got ${options.threshold}`);
    if (options.level !== undefined && !isLevel(options.level))
        throw new RangeError(`options.level must be one of ${Object.keys(levels).join(", ")}, got ${String(options.level)}`);
    if (options.level !== undefined && options.threshold !== undefined)
        throw new RangeError("give options.threshold or options.level, not both");
    if (options.retrieval !== undefined && options.retrieval !== "native" && options.retrieval !== "hnswlib")
        throw new RangeError(`options.retrieval must be "native" or "hnswlib", got ${String(options.retrieval)}`);
    if (options.readout !== undefined && options.readout !== "first-token" && options.readout !== "openings")
        throw new RangeError(`options.readout must be "first-token" or "openings", got ${String(options.readout)}`);
    if (options.concurrency !== undefined && (!Number.isInteger(options.concurrency) || options.concurrency < 1 || options.concurrency > 64))
        throw new RangeError(`options.concurrency must be an integer from 1 to 64, got ${options.concurrency}`);
}

/** Loads the decision model, the embedder and the preference stores (fetching models on first use). */
export async function createGuard(options: GuardOptions = {}): Promise<Guard> {
    validateOptions(options);
    const manifest = readManifest();
    const modelSpec = options.model ?? manifest.defaults.decision;
    const k = options.k ?? 2;
    const examplesInPrompt = options.examplesInPrompt ?? false;
    const adapterPath = resolveAdapterPath(options.adapter, modelSpec);
    const readout = options.readout ?? "first-token";
    // The calibration first: a damaged file or a level this configuration lacks fails before any model loads.
    const profile = calibrationProfile(modelSpec, k, adapterPath != null, examplesInPrompt, readout);
    const calibration = readCalibration(profile) ?? uncalibrated;
    const threshold = options.threshold ?? (options.level !== undefined ? levelThreshold(calibration, profile, options.level) : calibration.threshold);
    const gpu = gpuChoice(options.gpu);
    const llama = await getLlama({ gpu: gpu === "cpu" ? false : gpu === "cuda" ? "cuda" : "auto", logLevel: LlamaLogLevel.error,
        maxThreads: threadCount(options.threads) });
    const modelPath = await resolveModelPath(modelSpec, options.onProgress);
    const model = await loadArtifact("decision model", modelPath, () => llama.loadModel({ modelPath }));
    const assembler = new PromptAssembler(model, modelChatWrapper(model));

    let embedder: Embedder | undefined;
    let stores: PreferenceStores | undefined;
    if (k > 0) {
        const embedderSpec = options.embedder ?? manifest.defaults.embedder;
        const embedderPath = await resolveModelPath(embedderSpec, options.onProgress);
        embedder = await loadArtifact("embedding model", embedderPath, () => Embedder.load(llama, embedderPath));
        const examples = options.examples ?? await loadExamples(options.trainFile ?? defaultTrainFile);
        stores = await buildStores(examples, embedder, embedderSpec, {
            exclude: options.exclude,
            onProgress: (done, total) => options.onProgress?.({ label: "embedding preference data", done, total }),
            engine: options.retrieval ?? "native",
            backend: gpu,
            segments: examplesInPrompt ? (example) => assembler.segmentTokens(example.request) : undefined
        });
    }
    const createScorer = () => RefusalScorer.create(model, { sequences: options.concurrency ?? 4, sequenceTokens: 2048, adapterPath, readout });
    const scorer = adapterPath != null ? await loadArtifact("LoRA adapter", adapterPath, createScorer) : await createScorer();
    return new Guard({ llama, model, assembler, embedder, stores, scorer, k, examplesInPrompt, calibration, profile, threshold });
}
