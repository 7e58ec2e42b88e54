import { closeSync, existsSync, mkdirSync, openSync, readSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { describe, expect, it } from "vitest";
import { createGuard } from "../../lib/guard.js";
import { ArtifactError, ensureModel, readManifest } from "../../lib/models.js";
import { cliPath, filesystemServer, tempDir } from "../mcp-helpers.js";

/** The first `bytes` of a file, written to `target`: a download cut short. */
function truncatedCopy(source: string, target: string, bytes: number): string {
    const buffer = Buffer.alloc(bytes);
    const fd = openSync(source, "r");
    readSync(fd, buffer, 0, bytes, 0);
    closeSync(fd);
    writeFileSync(target, buffer);
    return target;
}

describe("broken model files give one clear error and never crash the process", () => {
    const dir = tempDir("broken");

    it("a truncated decision model, and a file that is not a GGUF at all", async () => {
        const shipped = await ensureModel(readManifest().defaults.decision);
        for (const file of [truncatedCopy(shipped, path.join(dir, "cut.gguf"), 4 << 20), path.join(dir, "notes.gguf")]) {
            if (!existsSync(file))
                writeFileSync(file, "these are my notes, not a model\n");
            const failure = await createGuard({ model: file, k: 0 }).then(() => undefined, (err: Error) => err);
            expect(failure).toBeInstanceOf(ArtifactError);
            expect(failure!.message).toContain(`Cannot use the decision model ${file}: `);
            expect(failure!.message).toMatch(/Check that it is a complete GGUF file\.$/);
        }
    });

    it("a truncated LoRA adapter", async () => {
        const entry = readManifest().adapters!["smollm2-135m-mcpguard-dpo"]!;
        const adapter = truncatedCopy(path.join(import.meta.dirname, "..", "..", entry.file), path.join(dir, "adapter.gguf"), 64 << 10);
        const failure = await createGuard({ model: entry.base, adapter, k: 0 }).then(() => undefined, (err: Error) => err);
        expect(failure).toBeInstanceOf(ArtifactError);
        expect(failure!.message).toMatch(/Cannot use the LoRA adapter .*adapter\.gguf: .*made for this decision model\.$/);
    });

    it("the proxy in front of the real filesystem server fails closed when the cached model is damaged", async () => {
        // A damaged cache: the right size and a sha256 marker (so it is not fetched again), but zeros inside.
        const home = tempDir("damaged-home");
        const entry = readManifest().models[readManifest().defaults.decision]!;
        mkdirSync(path.join(home, "models"));
        const damaged = path.join(home, "models", entry.file);
        const fd = openSync(damaged, "w");
        writeSync(fd, Buffer.alloc(1), 0, 1, entry.size - 1);
        closeSync(fd);
        writeFileSync(damaged + ".sha256", entry.sha256 + "\n");

        const root = tempDir("damaged-root");
        const host = new Client({ name: "test-host", version: "1.0.0" });
        await host.connect(new StdioClientTransport({ command: "node", args: [cliPath, "proxy", "--", "node", filesystemServer, root],
            env: { ...process.env as Record<string, string>, MCPGUARD_HOME: home }, stderr: "pipe" }));
        try {
            const result = await host.callTool({ name: "write_file", arguments: { path: path.join(root, "a.txt"), content: "hello" } }) as
                { content: { text: string }[], isError?: boolean };
            expect(result.isError).toBe(true);
            expect(result.content[0]!.text).toMatch(/could not judge/);
            expect(result.content[0]!.text).toContain(`Cannot use the decision model ${damaged}`);
            expect(result.content[0]!.text).toMatch(/delete it .* `mcpguard models fetch`/);
            expect(existsSync(path.join(root, "a.txt"))).toBe(false);
        } finally {
            await host.close();
        }
    });
});
