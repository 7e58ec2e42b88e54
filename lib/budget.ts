import type { RenderCaps } from "./prompt.js";
import type { GuardRequest } from "./request.js";

/** Caps never shrink below this many characters a part. */
const floorChars = 16;

/**
 * Fits a request into a token budget by rendering less of it, keeping what matters most for a decision: the
 * pending tool calls, then the user's words, then the newest context. `tokens` renders and tokenizes a request
 * with the given caps. In order, until the rendering fits:
 *  1. tools that no pending call uses are dropped from the advertised list;
 *  2. the oldest context items are dropped, one at a time, down to the newest one;
 *  3. caps are halved, down to a floor of 16 characters: context and tool descriptions first, then the user's
 *     words, then the tool calls' arguments (each part keeps its head and tail);
 *  4. all but the newest pending call and context item are dropped.
 * If even that is too long (only names of hundreds of characters get there), the tokens are cut to the budget,
 * keeping their head and tail. The result always fits, so every valid request can be judged.
 */
export function fitTokens<T>(request: GuardRequest, caps: RenderCaps, budget: number,
    tokens: (request: GuardRequest, caps: RenderCaps) => T[]): T[] {
    let last: Candidate = { request, caps };
    for (const candidate of reductions(request, caps)) {
        const rendered = tokens(candidate.request, candidate.caps);
        if (rendered.length <= budget)
            return rendered;
        last = candidate;
    }
    return keepEnds(tokens(last.request, last.caps), budget);
}

type Candidate = { request: GuardRequest, caps: RenderCaps };

function* reductions(request: GuardRequest, caps: RenderCaps): Generator<Candidate> {
    yield { request, caps };
    let current = request;
    const used = new Set((request.toolCalls ?? []).map((call) => call.name));
    if ((current.tools ?? []).some((tool) => !used.has(tool.name))) {
        current = { ...current, tools: current.tools!.filter((tool) => used.has(tool.name)) };
        yield { request: current, caps };
    }
    const context = current.context ?? [];
    for (let drop = 1; drop < context.length; drop++)
        yield { request: { ...current, context: context.slice(drop) }, caps };
    current = { ...current, context: context.slice(-1) };
    let c = caps;
    while (c.context > floorChars || c.tool > floorChars) {
        c = { ...c, context: shrink(c.context), tool: shrink(c.tool) };
        yield { request: current, caps: c };
    }
    while (c.prompt > floorChars) {
        c = { ...c, prompt: shrink(c.prompt) };
        yield { request: current, caps: c };
    }
    while (c.toolCall > floorChars) {
        c = { ...c, toolCall: shrink(c.toolCall) };
        yield { request: current, caps: c };
    }
    yield { request: { ...current, toolCalls: request.toolCalls?.slice(-1), tools: [] }, caps: c };
}

function shrink(chars: number): number {
    return Math.max(floorChars, chars >> 1);
}

/** The first quarter and the last three quarters of `budget` items: the end holds the pending calls. */
export function keepEnds<T>(items: T[], budget: number): T[] {
    if (items.length <= budget)
        return items;
    const head = Math.floor(budget / 4);
    return [...items.slice(0, head), ...items.slice(items.length - (budget - head))];
}
