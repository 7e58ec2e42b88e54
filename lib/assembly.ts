import { LlamaText, type ChatWrapper, type LlamaModel, type LlamaTextValue, type Token } from "node-llama-cpp";
import { toTokenList, type TokenList } from "./native.js";
import { assemblePrompt, framing, renderExample, renderRequest, sections, type PromptParts, type RenderCaps } from "./prompt.js";
import type { GuardRequest } from "./request.js";

const systemMark = "\u0001mcpguard-system\u0001";
const userMark = "\u0001mcpguard-user\u0001";

/** Splits a LlamaText at the one place `mark` occurs in its text, dropping the mark. */
function splitAt(text: LlamaText, mark: string): [LlamaText, LlamaText] {
    const before: LlamaTextValue[] = [];
    const after: LlamaTextValue[] = [];
    let found = false;
    for (const value of text.values) {
        const at = !found && typeof value === "string" ? value.indexOf(mark) : -1;
        if (at >= 0) {
            const text = value as string;
            before.push(text.slice(0, at));
            after.push(text.slice(at + mark.length));
            found = true;
        } else
            (found ? after : before).push(value);
    }
    if (!found)
        throw new Error("the model's chat template does not keep the system and user messages verbatim; use retrieval: \"hnswlib\"");
    return [LlamaText(before), LlamaText(after)];
}

/**
 * Token-level prompt assembly for the native store. The model's chat template is rendered once around two
 * marks and split there; with the text pieces of lib/prompt.ts this gives the prompt as pre-tokenized pieces:
 *
 *   prefix     template start, framing, "# Attack examples" heading      (fixed)
 *   headers    "## Attack r" / "## Benign r" and the benign heading      (fixed)
 *   segments   each stored example, rendered and tokenized once          (per example, in the store)
 *   request    the request's tools, the template between the turns, the request   (per request)
 *   suffix     template end, up to where the assistant's reply begins    (fixed)
 *
 * Concatenated they equal `fullPromptTokens`, the whole prompt tokenized at once (tested on the real stores).
 */
export class PromptAssembler {
    readonly #model: LlamaModel;
    readonly #start: LlamaText;
    readonly #between: LlamaText;
    readonly #end: LlamaText;
    readonly #chatWrapper: ChatWrapper;
    readonly #pieces = new Map<number, TokenList>();
    readonly #bare: { prefix: Token[], suffix: Token[] };

    constructor(model: LlamaModel, chatWrapper: ChatWrapper) {
        this.#model = model;
        this.#chatWrapper = chatWrapper;
        const [start, rest] = splitAt(this.#chatText({ system: systemMark, user: userMark }), systemMark);
        const [between, end] = splitAt(rest, userMark);
        this.#start = start;
        this.#between = between;
        this.#end = end;
        this.#bare = { prefix: this.#tokens(start, framing), suffix: this.#tokens(end) };
    }

    /** The fixed pieces for k examples per label, in the order mg_store_assemble takes them (2k + 4). */
    pieces(k: number): TokenList {
        let pieces = this.#pieces.get(k);
        if (pieces == null) {
            const headers = (label: "Attack" | "Benign") => Array.from({ length: k }, (_, r) => this.#tokens(sections.exampleHeader(label, r)));
            pieces = toTokenList([
                this.#tokens(this.#start, framing, sections.attackHeading),
                ...headers("Attack"),
                this.#tokens(sections.benignHeading),
                ...headers("Benign"),
                [],
                this.#bare.suffix
            ]);
            this.#pieces.set(k, pieces);
        }
        return pieces;
    }

    /** One stored example as it appears in the prompt; tokenized once, when the store is built. */
    segmentTokens(example: GuardRequest): Token[] {
        return this.#tokens(renderExample(example));
    }

    /** The request's part of the prompt: its tools at the end of the system turn, then its user turn. */
    requestTokens(request: GuardRequest, caps: RenderCaps): Token[] {
        return this.#tokens(sections.tools(request, caps), this.#between, renderRequest(request, caps));
    }

    /** The prompt without retrieved examples: prefix, the request, suffix. */
    bareTokens(request: GuardRequest, caps: RenderCaps): Token[] {
        return this.bare(this.requestTokens(request, caps));
    }

    /** The prompt without retrieved examples around the request's tokens. */
    bare(requestTokens: Token[]): Token[] {
        return [...this.#bare.prefix, ...requestTokens, ...this.#bare.suffix];
    }

    /** Tokens of the prompt without retrieved examples that are not the request's. */
    get bareOverhead(): number {
        return this.#bare.prefix.length + this.#bare.suffix.length;
    }

    /** The reference: the whole prompt rendered through the chat template and tokenized at once. */
    fullPromptTokens(request: GuardRequest, attacks: GuardRequest[], benign: GuardRequest[], caps: RenderCaps): Token[] {
        return this.#chatText(assemblePrompt(request, attacks, benign, caps)).tokenize(this.#model.tokenizer);
    }

    #chatText(parts: PromptParts): LlamaText {
        return this.#chatWrapper.generateContextState({
            chatHistory: [{ type: "system", text: parts.system }, { type: "user", text: parts.user }, { type: "model", response: [] }]
        }).contextText;
    }

    #tokens(...values: (LlamaText | string)[]): Token[] {
        return LlamaText(values).tokenize(this.#model.tokenizer);
    }
}
