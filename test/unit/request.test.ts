import { describe, expect, it } from "vitest";
import { parseRequest, RequestValidationError, requestLimits } from "../../lib/request.js";

function fieldOf(input: unknown): string {
    try {
        parseRequest(input);
    } catch (err) {
        expect(err).toBeInstanceOf(RequestValidationError);
        return (err as RequestValidationError).field;
    }
    throw new Error("expected a RequestValidationError");
}

describe("parseRequest", () => {
    it("accepts the contract's full shape and drops unknown fields", () => {
        const request = parseRequest({
            prompt: "save my notes",
            toolCalls: [{ server: "filesystem", name: "write_file", arguments: { path: "/tmp/a", content: "x" } }],
            context: [{ source: "https://example.com", content: "page" }],
            tools: [{ name: "write_file", description: "writes" }],
            extra: 1
        });
        expect(request).toEqual({
            prompt: "save my notes",
            toolCalls: [{ server: "filesystem", name: "write_file", arguments: { path: "/tmp/a", content: "x" } }],
            context: [{ source: "https://example.com", content: "page" }],
            tools: [{ name: "write_file", description: "writes" }]
        });
    });

    it("allows an empty or absent prompt only when there are tool calls", () => {
        expect(parseRequest({ toolCalls: [{ name: "read_file" }] }).toolCalls).toHaveLength(1);
        expect(parseRequest({ prompt: "", toolCalls: [{ name: "read_file" }] }).prompt).toBe("");
        expect(fieldOf({ prompt: "" })).toBe("prompt");
        expect(fieldOf({ prompt: "   ", toolCalls: [] })).toBe("prompt");
        expect(fieldOf({})).toBe("prompt");
    });

    it("names the offending field", () => {
        expect(fieldOf(null)).toBe("request");
        expect(fieldOf([])).toBe("request");
        expect(fieldOf({ prompt: 42 })).toBe("prompt");
        expect(fieldOf({ prompt: "x", toolCalls: [{ name: "" }] })).toBe("toolCalls.0.name");
        expect(fieldOf({ prompt: "x", toolCalls: [{ name: "a", arguments: "nope" }] })).toBe("toolCalls.0.arguments");
        expect(fieldOf({ prompt: "x", context: [{ source: "s" }] })).toBe("context.0.content");
        expect(fieldOf({ prompt: "x", tools: [{ description: "d" }] })).toBe("tools.0.name");
    });

    it("rejects sizes over the documented limits", () => {
        expect(fieldOf({ prompt: "a".repeat(requestLimits.promptChars + 1) })).toBe("prompt");
        expect(fieldOf({ prompt: "x", toolCalls: Array.from({ length: requestLimits.toolCalls + 1 }, () => ({ name: "a" })) })).toBe("toolCalls");
        expect(fieldOf({ prompt: "x", toolCalls: [{ name: "a", arguments: { c: "b".repeat(requestLimits.toolCallArgumentChars) } }] }))
            .toBe("toolCalls.0.arguments");
        expect(fieldOf({ prompt: "x", context: [{ content: "c".repeat(requestLimits.contextItemChars + 1) }] })).toBe("context.0.content");
    });

    it("puts the field in the message", () => {
        expect(() => parseRequest({ prompt: 1 })).toThrow(/Invalid request: prompt:/);
    });
});
