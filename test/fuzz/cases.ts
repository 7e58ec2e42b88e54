/**
 * Random and adversarial inputs for the guard's boundaries, and the contract each boundary must keep with them.
 * Shared by the CI property tests (test/unit/fuzz.test.ts, a few thousand cases) and the long run
 * (`npx tsx test/fuzz/run.ts --cases 100000`).
 */
import fc from "fast-check";
import { parseRequest, RequestValidationError, requestLimits, type GuardRequest } from "../../lib/request.js";

/** Keys that try to reach an object's prototype when an input is merged or copied carelessly. */
const pollutingKeys = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty"];

/** Strings a JSON producer can write: lone surrogates, controls, NULs, long runs, escapes, right-to-left marks. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
    fc.string({ unit: "binary", maxLength: 64 }),
    fc.string({ unit: "grapheme", maxLength: 64 }),
    fc.constantFrom("\uD800", "\uDFFF", "a\uD83Dz", "\u0000", "\u202Eevil", "\\u0000", "\r\n", "\u2028\u2029", "🔑".repeat(40), ""),
    fc.integer({ min: 1, max: 200_000 }).map((n) => "x".repeat(n)),
    fc.constantFrom(...pollutingKeys)
);

/** Numbers JSON.parse can produce, and some only a JavaScript caller can pass. */
const nastyNumber: fc.Arbitrary<number> = fc.oneof(
    fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 1, 1e308 * 10)
);

/** Any value, nested up to `depth`, with prototype-polluting keys and odd leaves. */
export function anyValue(depth = 6): fc.Arbitrary<unknown> {
    const { value } = fc.letrec<{ value: unknown }>((tie) => ({
        value: fc.oneof({ depthSize: "small", maxDepth: depth },
            nastyString, nastyNumber, fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(),
            fc.array(tie("value"), { maxLength: 6 }),
            fc.dictionary(fc.oneof(fc.constantFrom(...pollutingKeys), nastyString), tie("value"), { maxKeys: 6 }))
    }));
    return value;
}

/** An array nested `n` deep: what a hostile JSON document uses to exhaust a recursive parser or validator. */
export const deepNesting: fc.Arbitrary<unknown> = fc.integer({ min: 50, max: 5_000 }).map(nested);

export function nested(depth: number): unknown {
    let value: unknown = "leaf";
    for (let i = 0; i < depth; i++)
        value = i % 2 === 0 ? [value] : { a: value };
    return value;
}

/** A request within the documented limits (small sizes, so a case is cheap to judge). */
export const validRequest: fc.Arbitrary<GuardRequest> = fc.record({
    prompt: fc.string({ unit: "grapheme", minLength: 1, maxLength: 300 }).filter((s) => s.trim() !== ""),
    toolCalls: fc.array(fc.record({
        server: fc.constantFrom("filesystem", "shell", "git"),
        name: fc.constantFrom("write_file", "read_file", "execute_command", "edit_file"),
        arguments: fc.dictionary(fc.constantFrom("path", "content", "command", "__proto__"), fc.string({ maxLength: 200 }), { maxKeys: 3 })
    }), { maxLength: 4 }),
    context: fc.array(fc.record({ source: fc.webUrl(), content: fc.string({ unit: "grapheme", maxLength: 400 }) }), { maxLength: 3 }),
    tools: fc.array(fc.record({ name: fc.constantFrom("write_file", "read_file"), description: fc.string({ maxLength: 100 }) }), { maxLength: 3 })
}, { requiredKeys: ["prompt"] });

const fieldPaths = ["prompt", "toolCalls", "context", "tools", "toolCalls.0", "toolCalls.0.name", "toolCalls.0.arguments",
    "toolCalls.0.server", "context.0", "context.0.content", "context.0.source", "tools.0", "tools.0.name", "tools.0.description"];

/** A valid request with one field, in turn, replaced by something of the wrong type or size. */
export const requestWithOneBadField: fc.Arbitrary<unknown> = fc.tuple(validRequest, fc.constantFrom(...fieldPaths), anyValue(3)).map(
    ([request, field, junk]) => {
        const copy = JSON.parse(JSON.stringify({
            ...request,
            toolCalls: request.toolCalls?.length ? request.toolCalls : [{ name: "read_file" }],
            context: request.context?.length ? request.context : [{ content: "page" }],
            tools: request.tools?.length ? request.tools : [{ name: "read_file" }]
        })) as Record<string, unknown>;
        const keys = field.split(".");
        let target: Record<string, unknown> = copy;
        for (const key of keys.slice(0, -1))
            target = target[key] as Record<string, unknown>;
        target[keys.at(-1)!] = junk;
        return copy;
    });

/** Everything the boundary may be handed, valid or not. */
export const anyRequestInput: fc.Arbitrary<unknown> = fc.oneof(
    { arbitrary: anyValue(), weight: 3 },
    { arbitrary: requestWithOneBadField, weight: 4 },
    { arbitrary: validRequest, weight: 2 },
    { arbitrary: deepNesting, weight: 1 },
    { arbitrary: fc.constantFrom(...oversizedRequests()), weight: 1 }
);

/** One request over each documented limit: each must be rejected with that limit's field named. */
export function oversizedRequests(): { input: unknown, field: string }[] {
    const l = requestLimits;
    return [
        { input: { prompt: "p".repeat(l.promptChars + 1) }, field: "prompt" },
        { input: { prompt: "p", toolCalls: Array.from({ length: l.toolCalls + 1 }, () => ({ name: "a" })) }, field: "toolCalls" },
        { input: { prompt: "p", toolCalls: [{ name: "a", arguments: { c: "c".repeat(l.toolCallArgumentChars) } }] }, field: "toolCalls.0.arguments" },
        { input: { prompt: "p", context: Array.from({ length: l.contextItems + 1 }, () => ({ content: "c" })) }, field: "context" },
        { input: { prompt: "p", context: [{ content: "c".repeat(l.contextItemChars + 1) }] }, field: "context.0.content" },
        { input: { prompt: "p", tools: Array.from({ length: l.tools + 1 }, () => ({ name: "t" })) }, field: "tools" },
        { input: { prompt: "p", tools: [{ name: "t", description: "d".repeat(l.toolDescriptionChars + 1) }] }, field: "tools.0.description" },
        { input: { prompt: "p", toolCalls: [{ name: "n".repeat(l.nameChars + 1) }] }, field: "toolCalls.0.name" }
    ];
}

/** What went wrong with one case: a broken contract, never a plain failed expectation. */
export class ContractBreach extends Error {}

const prototypeSnapshot = () => Object.getOwnPropertyNames(Object.prototype).join(",");

/**
 * The contract of `parseRequest`: a clean request holding only the known fields, or a RequestValidationError whose
 * field is a dotted path into the input; never another error, and never a change to Object.prototype.
 */
export function checkParseRequest(input: unknown): "valid" | "rejected" {
    const before = prototypeSnapshot();
    let outcome: "valid" | "rejected";
    try {
        const request = parseRequest(input);
        const extra = Object.keys(request).filter((k) => !["prompt", "toolCalls", "context", "tools"].includes(k));
        if (extra.length > 0)
            throw new ContractBreach(`parseRequest kept unknown fields: ${extra.join(", ")}`);
        JSON.stringify(request);
        outcome = "valid";
    } catch (err) {
        if (err instanceof ContractBreach)
            throw err;
        if (!(err instanceof RequestValidationError))
            throw new ContractBreach(`parseRequest threw ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`);
        if (!/^(request|[A-Za-z]+(\.[\w$-]+)*)$/.test(err.field) || !err.message.includes(err.field))
            throw new ContractBreach(`an error that does not name its field: field "${err.field}", message "${err.message}"`);
        outcome = "rejected";
    }
    if (prototypeSnapshot() !== before || ({} as Record<string, unknown>).polluted !== undefined)
        throw new ContractBreach("Object.prototype changed");
    return outcome;
}

/** A line a host could write to the proxy: JSON-RPC shaped or not, with ids of every kind. */
export const hostLine: fc.Arbitrary<string> = fc.oneof(
    anyValue(4).map(jsonLine),
    fc.record({
        jsonrpc: fc.constantFrom("2.0", "1.0", undefined),
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.double(), anyValue(2)),
        method: fc.constantFrom("tools/call", "tools/list", "ping", "resources/read", "notifications/cancelled", "", "x"),
        params: fc.oneof(anyValue(3), fc.record({ name: fc.oneof(fc.constantFrom("echo", "hang"), nastyString), arguments: anyValue(3) }))
    }).map(jsonLine),
    nastyString,
    fc.array(anyValue(2), { maxLength: 4 }).map(jsonLine)
).map((line) => line.replace(/\n/g, " ") + "\n");

/** JSON text of any generated value (BigInt written as a string, values without JSON as null). */
export function jsonLine(value: unknown): string {
    try {
        return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v) ?? "null";
    } catch {
        return "null";
    }
}
