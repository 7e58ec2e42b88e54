import { z } from "zod";

/** Documented size limits of a request. Anything larger is rejected with an error naming the field. */
export const requestLimits = Object.freeze({
    promptChars: 32_000,
    toolCalls: 32,
    toolCallArgumentChars: 64_000,
    contextItems: 32,
    contextItemChars: 100_000,
    tools: 128,
    toolDescriptionChars: 8_000,
    nameChars: 256
});

const name = z.string().min(1).max(requestLimits.nameChars);

/** The JSON text of a value, or undefined where it has none (BigInt, a cycle, nesting too deep for the stack). */
function jsonText(value: unknown): string | undefined {
    try {
        return JSON.stringify(value);
    } catch {
        return undefined;
    }
}

/**
 * A tool call's arguments: a JSON object, kept as given (a copy would drop an own "__proto__" key that the server
 * still receives, and the guard must judge what is forwarded).
 */
const argumentsSchema = z.custom<Record<string, unknown>>(
    (value) => typeof value === "object" && value !== null && !Array.isArray(value), { message: "arguments must be a JSON object" }
).superRefine((value, ctx) => {
    const text = jsonText(value);
    if (text === undefined)
        ctx.addIssue({ code: "custom", message: "arguments must be JSON (no BigInt, functions or cycles)" });
    else if (text.length > requestLimits.toolCallArgumentChars)
        ctx.addIssue({ code: "custom", message: `arguments must serialize to at most ${requestLimits.toolCallArgumentChars} characters` });
});

const toolCallSchema = z.object({
    server: name.optional(),
    name,
    arguments: argumentsSchema.optional()
});

const contextItemSchema = z.object({
    source: z.string().max(2_048).optional(),
    content: z.string().max(requestLimits.contextItemChars)
});

const toolSchema = z.object({
    name,
    description: z.string().max(requestLimits.toolDescriptionChars).optional()
});

const requestSchema = z.object({
    prompt: z.string().max(requestLimits.promptChars).optional(),
    toolCalls: z.array(toolCallSchema).max(requestLimits.toolCalls).optional(),
    context: z.array(contextItemSchema).max(requestLimits.contextItems).optional(),
    tools: z.array(toolSchema).max(requestLimits.tools).optional()
}).superRefine((request, ctx) => {
    const hasCalls = (request.toolCalls?.length ?? 0) > 0;
    if (!hasCalls && (request.prompt === undefined || request.prompt.trim() === ""))
        ctx.addIssue({ code: "custom", path: ["prompt"], message: "prompt must be a non-empty string unless toolCalls is non-empty" });
});

/** One tool call the agent is about to make. */
export type ToolCall = { server?: string, name: string, arguments?: Record<string, unknown> };
/** Content the agent retrieved or an earlier tool result: untrusted. */
export type ContextItem = { source?: string, content: string };
/** A tool as its server advertised it. */
export type ToolInfo = { name: string, description?: string };

/** What the guard judges (see the contract). Unknown fields are ignored. */
export type GuardRequest = {
    prompt?: string,
    toolCalls?: ToolCall[],
    context?: ContextItem[],
    tools?: ToolInfo[]
};

/** Thrown for a request that breaks the schema; `field` is the dotted path of the first offending field. */
export class RequestValidationError extends Error {
    readonly field: string;

    constructor(field: string, message: string) {
        super(`Invalid request: ${field}: ${message}`);
        this.name = "RequestValidationError";
        this.field = field;
    }
}

/** Validates `input` and returns a clean copy holding only the known fields. */
export function parseRequest(input: unknown): GuardRequest {
    if (typeof input !== "object" || input === null || Array.isArray(input))
        throw new RequestValidationError("request", "must be a JSON object");

    const result = requestSchema.safeParse(input);
    if (result.success)
        return result.data;

    const issue = result.error.issues[0]!;
    const field = issue.path.length === 0 ? "request" : issue.path.map(String).join(".");
    throw new RequestValidationError(field, issue.message);
}
