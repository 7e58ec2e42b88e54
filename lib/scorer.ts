import type { ControlledEvaluateInputItem, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { complianceOpening, refusalOpening } from "./prompt.js";

export type ScorerOptions = {
    /** Concurrent requests evaluated together in one batch. */
    sequences: number,
    /** Tokens each sequence can hold: the longest assembled prompt plus the two openings. */
    sequenceTokens: number,
    /** A GGUF LoRA adapter (the DPO adapter) applied on top of the model. */
    adapterPath?: string,
    /** What is read after the prompt (see Readout). */
    readout: Readout
};

/**
 * `first-token`: one position, logit of the refusal opening's first token minus the compliance opening's (one
 * evaluation; what the shipped decision model is trained for). `openings`: both openings teacher-forced, their summed
 * log-probabilities compared (three evaluations; what the earlier LoRA adapter was trained for).
 */
export type Readout = "first-token" | "openings";

/** Thrown when an operation was aborted through its AbortSignal. */
export class AbortError extends Error {
    constructor() {
        super("The operation was aborted");
        this.name = "AbortError";
    }
}

function logProb(next: { logits?: Map<Token, number>, totalLogitWeight?: number } | undefined, token: Token): number {
    const logits = next?.logits;
    const max = logits?.values().next().value;
    const logit = logits?.get(token);
    if (max === undefined || logit === undefined || next?.totalLogitWeight === undefined)
        throw new Error("the model returned no logits for a scored position");
    return logit - max - Math.log(next.totalLogitWeight);
}

function scoredItem(token: Token, targets: Token[]): ControlledEvaluateInputItem {
    return [token, { generateNext: { logits: { filter: { tokens: targets, includeTop: 1 } }, totalLogitWeight: true } }];
}

/**
 * Scores an assembled prompt in one pass: teacher-forces the refusal opening and the compliance opening
 * after the prompt and returns log P(refusal) - log P(compliance). Requests share a pool of context
 * sequences; each sequence keeps its tokens, so the common prefix (the fixed framing) is evaluated once.
 */
export class RefusalScorer {
    readonly #context: LlamaContext;
    readonly #free: LlamaContextSequence[] = [];
    readonly #waiting: ((sequence: LlamaContextSequence) => void)[] = [];
    readonly #refusal: Token[];
    readonly #compliance: Token[];
    readonly #readout: Readout;
    readonly maxPromptTokens: number;

    private constructor(model: LlamaModel, context: LlamaContext, sequenceTokens: number, readout: Readout) {
        this.#context = context;
        this.#readout = readout;
        this.#refusal = model.tokenize(refusalOpening);
        this.#compliance = model.tokenize(complianceOpening);
        for (let i = 0; i < context.totalSequences; i++)
            this.#free.push(context.getSequence());
        this.maxPromptTokens = sequenceTokens - this.#refusal.length - this.#compliance.length - 2;
    }

    static async create(model: LlamaModel, options: ScorerOptions): Promise<RefusalScorer> {
        const context = await model.createContext({
            sequences: options.sequences,
            contextSize: options.sequences * options.sequenceTokens,
            batchSize: 256,
            flashAttention: true,
            lora: options.adapterPath != null ? { adapters: [{ filePath: options.adapterPath }] } : undefined
        });
        return new RefusalScorer(model, context, options.sequenceTokens, options.readout);
    }

    async score(prompt: Token[], signal?: AbortSignal): Promise<number> {
        if (prompt.length > this.maxPromptTokens)
            throw new Error(`assembled prompt has ${prompt.length} tokens; at most ${this.maxPromptTokens} fit`);
        const sequence = await this.#acquire(signal);
        try {
            return await this.#scoreOn(sequence, prompt, signal);
        } finally {
            this.#release(sequence);
        }
    }

    async #scoreOn(sequence: LlamaContextSequence, prompt: Token[], signal?: AbortSignal): Promise<number> {
        const start = await this.#reusePrefix(sequence, prompt);
        const [r0, c0] = [this.#refusal[0]!, this.#compliance[0]!];
        if (this.#readout === "first-token") {
            const output = await sequence.controlledEvaluate([...prompt.slice(start, -1), scoredItem(prompt.at(-1)!, [r0, c0])]);
            const logits = output.at(-1)?.next?.logits;
            const [refusal, compliance] = [logits?.get(r0), logits?.get(c0)];
            if (refusal === undefined || compliance === undefined)
                throw new Error("the model returned no logits for the scored position");
            return refusal - compliance;
        }
        const refusal = await this.#evaluateContinuation(sequence, [...prompt.slice(start, -1), scoredItem(prompt.at(-1)!, [r0, c0])], this.#refusal);
        const refusalLogProb = refusal.sum;
        if (signal?.aborted)
            throw new AbortError();
        await sequence.eraseContextTokenRanges([{ start: prompt.length, end: sequence.nextTokenIndex }]);
        const compliance = await this.#evaluateContinuation(sequence, [], this.#compliance, refusal.first);
        await sequence.eraseContextTokenRanges([{ start: prompt.length, end: sequence.nextTokenIndex }]);
        return refusalLogProb - compliance.sum;
    }

    /**
     * Evaluates `head` then the continuation, summing log-probabilities of the continuation's tokens.
     * `firstNext` supplies the distribution before the first token when it was computed earlier.
     */
    async #evaluateContinuation(sequence: LlamaContextSequence, head: ControlledEvaluateInputItem[], continuation: Token[],
        firstNext?: Parameters<typeof logProb>[0]) {
        const input: ControlledEvaluateInputItem[] = [...head];
        for (let i = 0; i < continuation.length - 1; i++)
            input.push(scoredItem(continuation[i]!, [continuation[i + 1]!]));
        input.push(continuation.at(-1)!);
        const output = await sequence.controlledEvaluate(input);
        const first = firstNext ?? output[head.length - 1]?.next;
        let sum = logProb(first, continuation[0]!);
        for (let i = 0; i < continuation.length - 1; i++)
            sum += logProb(output[head.length + i]?.next, continuation[i + 1]!);
        return { sum, first };
    }

    /**
     * Samples `count` replies of at most `maxTokens` tokens after the prompt at `temperature` (the paper's generative
     * evaluation). Each reply starts from the same prompt; the prompt's KV cache is kept between them.
     */
    async sample(prompt: Token[], options: { count: number, maxTokens: number, temperature: number, seed: number, signal?: AbortSignal }): Promise<Token[][]> {
        if (prompt.length > this.maxPromptTokens)
            throw new Error(`assembled prompt has ${prompt.length} tokens; at most ${this.maxPromptTokens} fit`);
        const sequence = await this.#acquire(options.signal);
        try {
            const replies: Token[][] = [];
            for (let i = 0; i < options.count; i++) {
                const start = await this.#reusePrefix(sequence, prompt);
                const reply: Token[] = [];
                for await (const token of sequence.evaluate(prompt.slice(start), { temperature: options.temperature, seed: options.seed + i })) {
                    if (options.signal?.aborted)
                        throw new AbortError();
                    reply.push(token);
                    if (reply.length >= options.maxTokens)
                        break;
                }
                replies.push(reply);
            }
            return replies;
        } finally {
            this.#release(sequence);
        }
    }

    /** Keeps the tokens this sequence already holds that match the prompt; returns where evaluation resumes. */
    async #reusePrefix(sequence: LlamaContextSequence, prompt: Token[]): Promise<number> {
        const held = sequence.contextTokens;
        let common = 0;
        while (common < held.length && common < prompt.length - 1 && held[common] === prompt[common])
            common++;
        if (common < sequence.nextTokenIndex)
            await sequence.eraseContextTokenRanges([{ start: common, end: sequence.nextTokenIndex }]);
        return common;
    }

    #acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
        if (signal?.aborted)
            return Promise.reject(new AbortError());
        const sequence = this.#free.pop();
        if (sequence != null)
            return Promise.resolve(sequence);
        return new Promise((resolve, reject) => {
            const onAbort = () => {
                this.#waiting.splice(this.#waiting.indexOf(grant), 1);
                reject(new AbortError());
            };
            const grant = (s: LlamaContextSequence) => {
                signal?.removeEventListener("abort", onAbort);
                resolve(s);
            };
            signal?.addEventListener("abort", onAbort, { once: true });
            this.#waiting.push(grant);
        });
    }

    #release(sequence: LlamaContextSequence): void {
        const next = this.#waiting.shift();
        if (next != null)
            next(sequence);
        else
            this.#free.push(sequence);
    }

    async dispose(): Promise<void> {
        await this.#context.dispose();
    }
}
