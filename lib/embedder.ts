import type { Llama, LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";

/**
 * One thread: all-MiniLM-L6-v2 embeds a request as fast on one thread as on two here, and a second thread pool
 * spinning beside the decision model's slowed the guard by a third on a 2-core machine (README, Results).
 */
const embeddingThreads = 1;

/** Sentence embeddings from a GGUF embedding model, L2-normalised, inputs cut to the model's window. */
export class Embedder {
    readonly #model: LlamaModel;
    readonly #context: LlamaEmbeddingContext;
    /** Tokens of text that fit one embedding: the window less the tokens the model adds around them, less one. */
    readonly maxTokens: number;

    private constructor(model: LlamaModel, context: LlamaEmbeddingContext, contextSize: number) {
        this.#model = model;
        this.#context = context;
        const probe = model.tokenize("a");
        const added = context.calculateInputLength(probe) - probe.length;
        this.maxTokens = contextSize - 1 - added;
    }

    static async load(llama: Llama, modelPath: string): Promise<Embedder> {
        const model = await llama.loadModel({ modelPath });
        const contextSize = Math.min(512, model.trainContextSize);
        const context = await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads: embeddingThreads });
        return new Embedder(model, context, contextSize);
    }

    get dimensions(): number {
        return this.#model.embeddingVectorSize;
    }

    tokenize(text: string): Token[] {
        return this.#model.tokenize(text);
    }

    /** Embeds text, keeping its first `maxTokens` tokens. */
    async embed(text: string): Promise<Float32Array> {
        return this.embedTokens(this.tokenize(text).slice(0, this.maxTokens));
    }

    async embedTokens(tokens: Token[]): Promise<Float32Array> {
        if (tokens.length > this.maxTokens)
            throw new RangeError(`${tokens.length} tokens to embed; at most ${this.maxTokens} fit`);
        const { vector } = await this.#context.getEmbeddingFor(tokens);
        return normalize(Float32Array.from(vector));
    }

    async dispose(): Promise<void> {
        await this.#context.dispose();
        await this.#model.dispose();
    }
}

export function normalize(vector: Float32Array): Float32Array {
    let norm = 0;
    for (const x of vector)
        norm += x * x;
    norm = Math.sqrt(norm) || 1;
    return vector.map((x) => x / norm);
}
