import { describe, expect, it } from "vitest";
import { fitTokens, keepEnds } from "../../lib/budget.js";
import { renderRequest, requestCaps } from "../../lib/prompt.js";
import { requestLimits, type GuardRequest } from "../../lib/request.js";

/** A stand-in tokenizer for the budget logic alone, one token per character (the model tests use the real ones). */
const chars = (r: GuardRequest, caps: typeof requestCaps) => [...renderRequest(r, caps)];

const history = (n: number, size: number) =>
    Array.from({ length: n }, (_, i) => ({ source: `filesystem.read_file /srv/notes/${i}.md`, content: `note ${i} ` + "x".repeat(size) }));

describe("fitting a request into a token budget", () => {
    it("leaves a request that fits as it is", () => {
        const request = { prompt: "list my notes", toolCalls: [{ name: "list_directory", arguments: { path: "/srv" } }] };
        expect(fitTokens(request, requestCaps, 1000, chars).join("")).toBe(renderRequest(request, requestCaps));
    });

    it("drops the oldest context first and keeps the pending call and the user's words", () => {
        const request = { prompt: "summarise my notes", context: history(16, 1450), toolCalls: [{ name: "write_file", arguments: { path: "/home/u/.bashrc" } }] };
        const rendered = fitTokens(request, requestCaps, 1600, chars).join("");
        expect(rendered).toContain("summarise my notes");
        expect(rendered).toContain("write_file");
        expect(rendered).toContain("/home/u/.bashrc");
        expect(rendered).toContain("note 15");
        expect(rendered).not.toContain("note 0 ");
    });

    it("always fits, up to the documented limits", () => {
        const huge: GuardRequest = {
            prompt: "p".repeat(requestLimits.promptChars),
            context: history(requestLimits.contextItems, requestLimits.contextItemChars - 20),
            toolCalls: Array.from({ length: requestLimits.toolCalls }, (_, i) => ({ name: "n".repeat(requestLimits.nameChars - 3) + i, arguments: { a: "v".repeat(60_000) } })),
            tools: Array.from({ length: requestLimits.tools }, (_, i) => ({ name: `tool${i}`, description: "d".repeat(requestLimits.toolDescriptionChars) }))
        };
        for (const budget of [64, 256, 2000])
            expect(fitTokens(huge, requestCaps, budget, chars).length).toBeLessThanOrEqual(budget);
    });

    it("keeps the head and the tail when it must cut tokens", () => {
        expect(keepEnds([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 8)).toEqual([1, 2, 5, 6, 7, 8, 9, 10]);
        expect(keepEnds([1, 2], 8)).toEqual([1, 2]);
    });
});
