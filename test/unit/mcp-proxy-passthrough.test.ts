import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { callLine, filesystemServer, initializeLine, LineCollector, requestLine, spawnProxy, tempDir } from "../mcp-helpers.js";

/** What a host sends: initialize, tools/list, an allowed call, a call the server fails, an unknown tool and an unknown method. */
function script(root: string): string[] {
    return [
        initializeLine(1),
        JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n",
        requestLine(2, "tools/list"),
        callLine(3, "list_directory", { path: root }),
        callLine(4, "read_text_file", { path: path.join(root, "missing.txt") }),
        callLine(5, "no_such_tool", {}),
        requestLine(6, "no/such/method"),
        callLine(7, "read_text_file", { path: path.join(root, "hello.txt") })
    ];
}

/** Runs the script against a host-side process and returns the raw lines it wrote back, by id. */
async function play(child: ChildProcess, lines: string[]): Promise<Map<unknown, string>> {
    const host = new LineCollector(child.stdout!);
    for (const line of lines) {
        child.stdin!.write(line);
        const id = JSON.parse(line).id;
        if (id !== undefined)
            await host.response(id);
    }
    child.stdin!.end();
    return new Map(host.messages.map((m, i) => [m.id, host.lines[i]!]));
}

describe("mcpguard proxy relays the real filesystem server unchanged", () => {
    const root = tempDir("passthrough");
    writeFileSync(path.join(root, "hello.txt"), "hello, world\n");
    const policy = path.join(tempDir("policy"), "policy.json");
    writeFileSync(policy, JSON.stringify({ skipTools: ["*"] }));
    const children: ChildProcess[] = [];
    afterAll(() => children.forEach((c) => c.kill()));

    it("gives the host the server's exact bytes for initialize, tools/list, allowed calls and errors", async () => {
        const direct = spawn(process.execPath, [filesystemServer, root], { stdio: ["pipe", "pipe", "ignore"] });
        const proxied = spawnProxy(["--policy", policy], [process.execPath, filesystemServer, root]);
        children.push(direct, proxied);
        const expected = await play(direct, script(root));
        const actual = await play(proxied, script(root));
        expect([...actual.keys()]).toEqual([...expected.keys()]);
        for (const [id, line] of expected)
            expect(actual.get(id), `response ${String(id)}`).toBe(line);
        expect(JSON.parse(expected.get(4)!).result.isError).toBe(true);
        expect(JSON.parse(expected.get(6)!).error.code).toBe(-32601);
    });
});
