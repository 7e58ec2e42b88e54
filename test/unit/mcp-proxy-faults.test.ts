import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLog } from "../../lib/mcp/audit.js";
import type { CallJudge } from "../../lib/mcp/judge.js";
import { McpProxy, proxyErrors, sniffId, type ProxyOptions } from "../../lib/mcp/proxy.js";
import { allowAll, callLine, cliPath, exitOf, fakeDecision, inProcessProxy, initializeLine, killStartedChildren, LineCollector,
    requestLine, spawnProxy, startedChildren, tempDir, writeFakeServer } from "../mcp-helpers.js";

const refuseAll: CallJudge = { shouldRefuse: async () => fakeDecision(true) };
/** A judge that never decides, until its signal aborts. */
const neverDecides: CallJudge = {
    shouldRefuse: (_request, options) => new Promise((_, reject) => options?.signal?.addEventListener("abort", () => reject(new Error("aborted"))))
};

afterEach(killStartedChildren);

describe("proxy faults (in process, with stand-in judges)", () => {
    it("answers a malformed line with a parse error and keeps relaying", async () => {
        const { host, send, serverSaw } = await inProcessProxy();
        send("{this is not json\n");
        send(requestLine(1, "ping"));
        const error = JSON.parse(await host.waitFor((m) => m.id === null));
        expect(error.error.code).toBe(proxyErrors.parse);
        expect(JSON.parse(await host.response(1)).result).toEqual({});
        expect(serverSaw().some((l) => l.includes("this is not json"))).toBe(false);
    });

    it("drops an oversized message from the host with an error for its id, never forwarding it", async () => {
        const { host, send, serverSaw } = await inProcessProxy({ maxLineBytes: 1_024 });
        send(callLine(5, "echo", { content: "a".repeat(5_000) }));
        send(requestLine(6, "ping"));
        const error = JSON.parse(await host.response(5));
        expect(error.error.code).toBe(proxyErrors.invalidRequest);
        expect(JSON.parse(await host.response(6)).result).toEqual({});
        expect(serverSaw().some((l) => l.includes("aaaa"))).toBe(false);
    });

    it("relays an oversized message from the server byte for byte, and what follows it", async () => {
        const { host, send } = await inProcessProxy({ maxLineBytes: 1_024, policy: { skipTools: ["*"] } });
        send(callLine(7, "big", { size: 100_000 }));
        send(requestLine(8, "ping"));
        const big = await host.response(7);
        expect(big).toBe(JSON.stringify({ jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "x".repeat(100_000) }] } }) + "\n");
        expect(JSON.parse(await host.response(8)).result).toEqual({});
    });

    it("relays a malformed line from the server unchanged", async () => {
        const { host, send } = await inProcessProxy({ policy: { skipTools: ["*"] } });
        send(callLine(9, "garbage"));
        await host.response(9);
        expect(host.lines).toContain("this is not json\n");
    });

    it("answers pending requests with errors when the server crashes, and exits with its code", async () => {
        const { proxy, host, send } = await inProcessProxy({ policy: { skipTools: ["*"] } });
        send(callLine(10, "hang"));
        send(callLine(11, "crash"));
        expect(await proxy.exited).toBe(7);
        for (const id of [10, 11])
            expect(JSON.parse(await host.response(id)).error.code).toBe(proxyErrors.connectionClosed);
    });

    it("answers a call under judgement with an error when the server crashes meanwhile", async () => {
        const { proxy, host, send, server } = await inProcessProxy({ judge: async () => neverDecides });
        send(callLine(12, "echo"));
        await new Promise((resolve) => setTimeout(resolve, 100));
        server.kill("SIGKILL");
        expect(await proxy.exited).toBe(128 + 9);
        expect(JSON.parse(await host.response(12)).error.message).toMatch(/exited/);
    });

    it("drops a cancelled call under judgement and its cancellation; other messages are not held behind it", async () => {
        const { host, send, serverSaw } = await inProcessProxy({ judge: async () => neverDecides });
        send(callLine(13, "echo", { text: "judged" }));
        send(requestLine(14, "ping"));
        expect(JSON.parse(await host.response(14)).result).toEqual({});
        send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 13, reason: "user" } }) + "\n");
        send(requestLine(15, "ping"));
        await host.response(15);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(host.messages.some((m) => m.id === 13)).toBe(false);
        expect(serverSaw().some((l) => l.includes("judged") || l.includes("notifications/cancelled"))).toBe(false);
    });

    it("never forwards a refused call; the host gets an error result naming the concern and the nearest evidence", async () => {
        const dir = tempDir("audit");
        const auditFile = path.join(dir, "audit.jsonl");
        const { host, send, serverSaw } = await inProcessProxy({ judge: async () => refuseAll, audit: new AuditLog(auditFile) });
        send(callLine(16, "echo", { path: "/home/sam/.ssh/authorized_keys" }));
        const result = JSON.parse(await host.response(16)).result;
        expect(result.isError).toBe(true);
        expect(result.content[0].text).toMatch(/remote access control/);
        expect(result.content[0].text).toMatch(/train-0412/);
        expect(serverSaw().some((l) => l.includes("authorized_keys"))).toBe(false);
        const audit = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
        expect(audit).toMatchObject([{ id: 16, tool: "echo", server: "fake", outcome: "refused", refuse: true, category: "RAC" }]);
    });

    it("fails closed by default on a guard error or a timeout, and open when the policy says so", async () => {
        const broken: CallJudge = { shouldRefuse: async () => { throw new Error("model fell over"); } };
        const closed = await inProcessProxy({ judge: async () => broken });
        closed.send(callLine(17, "echo", { text: "closed" }));
        expect(JSON.parse(await closed.host.response(17)).result.content[0].text).toMatch(/could not judge.*model fell over/);
        const timedOut = await inProcessProxy({ judge: async () => neverDecides, policy: { timeoutMs: 100 } });
        timedOut.send(callLine(18, "echo", { text: "slow" }));
        expect(JSON.parse(await timedOut.host.response(18)).result.content[0].text).toMatch(/within 100 ms/);
        const open = await inProcessProxy({ judge: async () => broken, policy: { failMode: "open" } });
        open.send(callLine(19, "echo", { text: "open" }));
        expect(JSON.parse(await open.host.response(19)).result.content[0].text).toBe(JSON.stringify({ text: "open" }));
        expect(closed.serverSaw().some((l) => l.includes("closed"))).toBe(false);
    });

    it("rejects a batch that contains a tools/call", async () => {
        const { host, send, serverSaw } = await inProcessProxy();
        send(JSON.stringify([JSON.parse(callLine(20, "echo", { text: "batched" })), JSON.parse(requestLine(21, "ping"))]) + "\n");
        expect(JSON.parse(await host.response(20)).error.code).toBe(proxyErrors.invalidRequest);
        expect(serverSaw().some((l) => l.includes("batched"))).toBe(false);
    });

    it("keeps the order of allowed messages in both directions", async () => {
        const { host, send, serverSaw } = await inProcessProxy({ policy: { skipTools: ["echo"] } });
        for (let i = 100; i < 160; i++)
            send(i % 2 === 0 ? requestLine(i, "ping") : callLine(i, "echo", { i }));
        await host.response(159);
        const ids = host.messages.map((m) => m.id).filter((id): id is number => typeof id === "number" && id >= 100);
        expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => 100 + i));
        const seen = serverSaw().map((l) => JSON.parse(l).id).filter((id) => typeof id === "number" && id >= 100);
        expect(seen).toEqual(ids);
    });

    it("closes the server's stdin when the host goes away, and kills a server that does not exit", async () => {
        const polite = await inProcessProxy();
        polite.input.end();
        expect(await polite.proxy.exited).toBe(0);
        const stubborn = await inProcessProxy({ shutdownGraceMs: 200 }, { IGNORE_EOF: "1" });
        const started = Date.now();
        stubborn.input.end();
        expect(await stubborn.proxy.exited).toBe(128 + 15);
        expect(Date.now() - started).toBeLessThan(2_000);
    });

    it("reads the id of a message too large to parse from its ends", () => {
        expect(sniffId(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":"aaa`, "")).toBe(42);
        expect(sniffId(`{"method":"tools/call","params":{"id":1,"x":"aa`, `aaa"},"jsonrpc":"2.0","id":"abc"}\n`)).toBe("abc");
        expect(sniffId(`{"params":{"id":1,"x":"aa`, `aa","id":3}}\n`)).toBe(null);
    });
});

describe("mcpguard proxy as a host starts it (relay only)", () => {
    const skipAll = () => {
        const file = path.join(tempDir("policy"), "policy.json");
        writeFileSync(file, JSON.stringify({ skipTools: ["*"] }));
        return file;
    };

    it("rejects a bad policy with the field named and exit code 2", async () => {
        const file = path.join(tempDir("policy"), "policy.json");
        writeFileSync(file, JSON.stringify({ threshold: 3 }));
        const proxy = spawnProxy(["--policy", file], [process.execPath, "-e", "0"]);
        startedChildren.push(proxy);
        const stderr = new LineCollector(proxy.stderr!);
        expect(await exitOf(proxy)).toBe(2);
        expect(stderr.lines.join("")).toMatch(/policy\.threshold/);
        writeFileSync(file, JSON.stringify({ skipTool: ["x"] }));
        const unknown = spawnProxy(["--policy", file], [process.execPath, "-e", "0"]);
        const unknownErr = new LineCollector(unknown.stderr!);
        expect(await exitOf(unknown)).toBe(2);
        expect(unknownErr.lines.join("")).toMatch(/policy\.skipTool\b/);
    });

    it("exits with the server's code when it crashes, after answering the host", async () => {
        const dir = tempDir("crash");
        const proxy = spawnProxy(["--policy", skipAll()], [process.execPath, writeFakeServer(dir)]);
        startedChildren.push(proxy);
        const host = new LineCollector(proxy.stdout!);
        proxy.stdin!.write(initializeLine(0));
        await host.response(0);
        proxy.stdin!.write(callLine(1, "crash"));
        expect(await exitOf(proxy)).toBe(7);
        expect(JSON.parse(await host.response(1)).error.code).toBe(proxyErrors.connectionClosed);
    });

    it("shuts the server down and exits when the host closes stdin", async () => {
        const dir = tempDir("eof");
        const proxy = spawnProxy(["--policy", skipAll()], [process.execPath, writeFakeServer(dir)]);
        startedChildren.push(proxy);
        const host = new LineCollector(proxy.stdout!);
        proxy.stdin!.write(initializeLine(0));
        await host.response(0);
        proxy.stdin!.end();
        expect(await exitOf(proxy)).toBe(0);
    });

    it("lets a host's request to a server that never answers time out cleanly, and keeps working", async () => {
        const dir = tempDir("hang");
        const serverLog = path.join(dir, "server.log");
        const transport = new StdioClientTransport({ command: process.execPath,
            args: [cliPath, "proxy", "--policy", skipAll(), "--", process.execPath, writeFakeServer(dir)],
            env: { ...process.env, FAKE_LOG: serverLog } as Record<string, string>, stderr: "pipe" });
        const client = new Client({ name: "test-host", version: "1.0.0" });
        await client.connect(transport);
        try {
            await expect(client.callTool({ name: "hang" }, undefined, { timeout: 300 })).rejects.toThrow(/timed out/i);
            const echoed = await client.callTool({ name: "echo", arguments: { after: "timeout" } });
            expect(echoed.content).toEqual([{ type: "text", text: JSON.stringify({ after: "timeout" }) }]);
            expect(readFileSync(serverLog, "utf8")).toMatch(/notifications\/cancelled/);
        } finally {
            await client.close();
        }
    });
});
