import type { RenderCaps } from "./prompt.js";
import type { GuardRequest } from "./request.js";

/** Caps never shrink below this many characters a part. */
const floorChars = 16;

/**
 * Fits a request into a token budget by rendering less of it, keeping what matters most for a decision: the
 * pending tool calls, then the user's words, then the newest context. `tokens` renders and tokenizes a request
 * with the given caps. In order, until the rendering fits:
 *  1. the oldest context items are dropped, one at a time;
 *  2. tools that no pending call uses are dropped from the advertised list;
 *  3. every cap is halved, down to a floor of 16 characters (tool calls' arguments last);
 *  4. all but the newest pending call and context item are dropped.
 * If even that is too long (only names of hundreds of characters get there), the tokens are cut to the budget,
 * keeping their head and tail. The result always fits, so every valid request can be judged.
 */
export function fitTokens<T>(request: GuardRequest, caps: RenderCaps, budget: number,
    tokens: (request: GuardRequest, caps: RenderCaps) => T[]): T[] {
    for (const candidate of reductions(request, caps)) {
        const rendered = tokens(candidate.request, candidate.caps);
        if (rendered.length <= budget)
            return rendered;
    }
    const last = reductions(request, caps).at(-1)!;
    return keepEnds(tokens(last.request, last.caps), budget);
}

type Candidate = { request: GuardRequest, caps: RenderCaps };

function reductions(request: GuardRequest, caps: RenderCaps): Candidate[] {
    const out: Candidate[] = [{ request, caps }];
    const context = request.context ?? [];
    for (let drop = 1; drop <= context.length; drop++)
        out.push({ request: { ...request, context: context.slice(drop) }, caps });
    let current = out.at(-1)!.request;
    const used = new Set((request.toolCalls ?? []).map((call) => call.name));
    if ((current.tools ?? []).length > 0) {
        current = { ...current, tools: current.tools!.filter((tool) => used.has(tool.name)) };
        out.push({ request: current, caps });
    }
    let c = caps;
    while (c.prompt > floorChars || c.context > floorChars || c.tool > floorChars) {
        c = { prompt: shrink(c.prompt), context: shrink(c.context), tool: shrink(c.tool), toolCall: c.toolCall };
        out.push({ request: current, caps: c });
    }
    while (c.toolCall > floorChars) {
        c = { ...c, toolCall: shrink(c.toolCall) };
        out.push({ request: current, caps: c });
    }
    const newest = { ...current, toolCalls: request.toolCalls?.slice(-1), context: request.context?.slice(-1), tools: [] };
    out.push({ request: newest, caps: c });
    return out;
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
