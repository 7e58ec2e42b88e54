import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CallJudge } from "../../lib/mcp/judge.js";
import { callLine, fakeDecision, filesystemServer, inProcessProxy, killStartedChildren, tempDir } from "../mcp-helpers.js";

afterEach(killStartedChildren);

/** Decides after 5-40 ms, or gives up when the call is cancelled: the proxy's bookkeeping under load, not the model's. */
const slowJudge: CallJudge = {
    shouldRefuse: (_request, options) => new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(fakeDecision(false)), 5 + Math.random() * 35);
        options?.signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new Error("cancelled")); });
    })
};

describe("the proxy at saturation, in front of the real filesystem server", () => {
    it("answers 1,000 concurrent calls, each with its own file, drops the cancelled ones, and keeps memory bounded", async () => {
        const root = tempDir("saturation");
        const files = Array.from({ length: 25 }, (_, i) => {
            const file = path.join(root, `note-${i}.txt`);
            writeFileSync(file, `note ${i}: ${"x".repeat(i * 40)}`);
            return file;
        });
        const { host, send } = await inProcessProxy({ judge: async () => slowJudge }, {}, [filesystemServer, root]);
        const rssBefore = process.memoryUsage().rss;
        const calls = 1_000;
        const cancelled = new Set<number>();
        for (let id = 1; id <= calls; id++) {
            send(callLine(id, "read_text_file", { path: files[id % files.length]! }));
            if (id % 10 === 0) {
                cancelled.add(id);
                send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "host gave up" } }) + "\n");
            }
        }
        const expected = calls - cancelled.size;
        const responses = () => host.messages.filter((m) => typeof m.id === "number" && m.id > 0);
        for (const deadline = Date.now() + 60_000; responses().length < expected && Date.now() < deadline;)
            await new Promise((resolve) => setTimeout(resolve, 200));
        await new Promise((resolve) => setTimeout(resolve, 500));
        const answered = responses();
        expect(answered.length).toBe(expected);
        expect(new Set(answered.map((m) => m.id)).size).toBe(expected);
        for (const m of answered) {
            const id = m.id as number;
            expect(cancelled.has(id), `cancelled call ${id} was answered`).toBe(false);
            const text = (m.result as { content: { text: string }[] }).content[0]!.text;
            expect(text, `call ${id}`).toMatch(new RegExp(`^note ${id % files.length}: `));
        }
        expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 << 20);
    });
});
